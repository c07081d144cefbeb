"""`opsgate demo`: a ready-to-click opsgate with people, a provider and cases in several states.

It runs `init`, then adds one demo user per role (passwords printed once; all the same
password when OPSGATE_DEMO_PASSWORD is set), the provider "Acme Operations" with its
systems, and cases: an incident just reported (open), a normal change waiting on the CAB
(waiting on approval), an incident whose resolution SLA ran out (escalated) and a
standard change carried through to the end (closed). Then it serves the web UI.

The demo walks cases with the engine's own use cases, as the users it created, so what
you see is what real clicks would have produced (and the audit chain is intact).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext

from engine import clock, services, users
from engine.errors import EngineError, NotAllowed
from models import Case, HumanTask, User

from .db import get_session

# login, display name, groups (everyone is also a requester)
DEMO_USERS: list[tuple[str, str, list[str]]] = [
    ("rita", "Rita Requester", ["requester"]),
    ("mona", "Mona Manager", ["manager"]),
    ("desk", "Dan Service Desk", ["service_desk"]),
    ("eric", "Eric Engineer", ["engineer"]),
    ("emma", "Emma Engineer", ["engineer"]),
    ("carl", "Carl Change Manager", ["change_manager"]),
    ("cathy", "Cathy CAB Member", ["cab"]),
    ("fred", "Fred Finance", ["finance"]),
    ("sam", "Sam Security Admin", ["security_admin"]),
    ("aude", "Aude Auditor", ["auditor"]),
    ("paul", "Paul Process Owner", ["process_owner"]),
    ("suzy", "Suzy Supervisor", ["supervisor"]),
]
PROVIDER = ("Acme Operations", ["erp", "mail", "network", "hr"])


def _field_name(field: Any) -> str:
    return field.get("name") if isinstance(field, dict) else getattr(field, "name")


def _value_for(field: Any) -> Any:
    """Make up a valid value for a form field: the demo's stand-in for a person typing."""
    get = field.get if isinstance(field, dict) else lambda k, d=None: getattr(field, k, d)
    kind, name = get("type", "string"), _field_name(field)
    if get("default") not in (None, ""):
        return get("default")
    if name == "decision":
        return "approve"
    if kind == "enum":
        choices = get("choices") or []
        first = choices[0] if choices else ""
        return first.get("id") if isinstance(first, dict) else getattr(first, "id", first[0] if isinstance(first, (list, tuple)) else first)
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return max(1, int(get("min") or 1))
    if kind == "date":
        return clock.now().date().isoformat()
    if kind == "datetime":
        return clock.now().replace(microsecond=0).isoformat()
    return f"Demo {(get('label') or name).lower()}"


def fill(fields: list[Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill a form: the given values, then a made-up valid value for every other field."""
    overrides = overrides or {}
    return {(_field_name(f)): overrides.get(_field_name(f), _value_for(f)) for f in fields} | overrides


def walk(session: Any, case: Case, people: dict[str, User], *, until: Callable[[HumanTask], bool] | None = None,
         answers: dict[str, dict[str, Any]] | None = None, limit: int = 30) -> Case:
    """Complete the case's ready tasks as the right demo users until `until(task)` or the end."""
    from sqlalchemy import select

    answers = answers or {}
    for _ in range(limit):
        session.flush()
        task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)
                               .order_by(HumanTask.created_at, HumanTask.id)).first()
        if task is None or (until and until(task)):
            return case
        groups = set(task.candidate_groups or [task.lane])
        for person in people.values():
            if not person.group_names & groups:
                continue
            try:
                view = services.get_task(session, task.id, actor=person)
                data = fill(views_form(view), answers.get(task.element_id))
                case = services.complete_task(session, task.id, data, actor=person)
                break
            except NotAllowed:
                continue
        else:
            raise click.ClickException(f"no demo user may complete {task.element_id} of {case.key}")
    return case


def views_form(task_view: Any) -> list[Any]:
    """Return the form fields of a task as the engine describes them."""
    form = getattr(task_view, "form", None) or (task_view.get("form") if isinstance(task_view, dict) else None)
    if isinstance(form, dict):
        return form.get("fields", [])
    return list(getattr(form, "fields", form) or [])


def seed_demo(app: Flask, password: str | None = None) -> dict[str, str]:
    """Create the demo users, provider and cases; return each user's password."""
    from .cli import initialize  # the same steps as `opsgate init`

    initialize(app)
    session = get_session()
    passwords: dict[str, str] = {}
    people: dict[str, User] = {}
    for name, display, groups in DEMO_USERS:
        secret = password or secrets.token_urlsafe(9)
        people[name] = users.create_user(session, name, password=secret, groups=["requester", *groups],
                                         display_name=display)
        passwords[name] = secret
    users.add_provider(session, PROVIDER[0], PROVIDER[1])
    session.commit()
    try:
        _demo_cases(session, people)
        session.commit()
    except EngineError as exc:  # the demo must start even if the pack changed shape
        session.rollback()
        click.echo(f"warning: some demo cases could not be created: {exc.message}", err=True)
    return passwords


def _demo_cases(session: Any, people: dict[str, User]) -> None:
    rita = people["rita"]
    incident = services.start_case(session, "incident", {"system": "mail", "impact": "high", "urgency": "high",
                                   "description": "Mail is down for the whole floor"},
                                   actor=rita, title="Mail down on floor 3")
    del incident  # left open, waiting for the service desk
    waiting = services.start_case(session, "change_request", {"change_type": "normal", "system": "erp",
                                  "description": "Upgrade the ERP database to the next minor version"},
                                  actor=rita, title="ERP database minor upgrade")
    walk(session, waiting, people, until=lambda task: "cab" in (task.candidate_groups or [task.lane]))
    closed = services.start_case(session, "change_request", {"change_type": "standard", "system": "network",
                                 "description": "Add a VLAN for the new meeting room"},
                                 actor=rita, title="New meeting-room VLAN")
    walk(session, closed, people)
    escalated = services.start_case(session, "incident", {"system": "erp", "impact": "high", "urgency": "high",
                                    "description": "ERP month-end report fails"},
                                    actor=rita, title="ERP month-end report fails")
    walk(session, escalated, people, until=lambda task: task.due_at is not None)
    later = clock.now() + dt.timedelta(days=3)
    services.fire_due_timers(session, now=later)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed the demo and exit.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Set up a demo (users per role, a provider, cases in several states), then serve."""
    from flask import current_app

    passwords = seed_demo(current_app, password=os.environ.get("OPSGATE_DEMO_PASSWORD"))
    click.echo("Demo users (login / password / role):")
    for name, _display, groups in DEMO_USERS:
        click.echo(f"  {name:8} {passwords[name]:16} {', '.join(groups)}")
    if no_serve:
        return
    click.echo(f"opsgate demo on http://{host}:{port}/")
    from .serve import serve

    serve(current_app, host=host, port=port)
