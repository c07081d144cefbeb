"""What `opsgate demo` puts in the database: one user per role, a provider and cases in several states.

The demo walks cases with the engine's own use cases, as the users it created, so what
you see is what real clicks would have produced (and the audit chain is intact). Tests and
bench scripts build their data with `seed_demo`, `fill` and `walk` too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from engine.cases import queries, services
from engine.errors import EngineError, NotAllowed
from engine.jobs import firing
from engine.people import providers, users
from engine.processes.forms import Field
from engine.timing import clock
from models import Case, HumanTask, User
from webui.cli.base import init_database, main, transaction

# login, display name, groups (everyone is also a requester)
DEMO_USERS: list[tuple[str, str, list[str]]] = [
    ("rita", "Rita Requester", ["requester"]),
    ("mona", "Mona Manager", ["manager"]),
    ("desk", "Dan Service Desk", ["service_desk"]),
    ("eric", "Eric Engineer", ["engineer"]),
    ("emma", "Emma Engineer", ["engineer"]),
    ("carl", "Carl Change Manager", ["change_manager"]),
    ("cathy", "Cathy CAB Member", ["cab"]),
    ("colin", "Colin CAB Member", ["cab"]),
    ("cora", "Cora CAB Chair", ["cab", "change_manager"]),
    ("fred", "Fred Finance", ["finance"]),
    ("sam", "Sam Security Admin", ["security_admin"]),
    ("aude", "Aude Auditor", ["auditor"]),
    ("paul", "Paul Process Owner", ["process_owner"]),
    ("suzy", "Suzy Supervisor", ["supervisor"]),
]
PROVIDER = ("Acme Operations", ["erp", "mail", "network", "hr"])


def _value_for(field: Field) -> Any:
    """Make up a valid value for a form field: the demo's stand-in for a person typing."""
    if field.default not in (None, ""):
        return field.default
    if field.name == "decision":
        return "approve"
    if field.type == "enum":
        return field.choices[0][0] if field.choices else ""
    if field.type == "boolean":
        return False
    if field.type in ("integer", "number"):
        return int(field.min) if field.min is not None else 3
    if field.type == "date":
        return clock.now().date().isoformat()
    if field.type == "datetime":
        return clock.now().replace(microsecond=0).isoformat()
    return f"{field.label or field.name} (demo)"


def fill(fields: tuple[Field, ...], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill a form: the given values, then a made-up valid value for every other field
    (but never a made-up `requested_for`: that names a real user)."""
    data = {f.name: _value_for(f) for f in fields if not f.readonly and f.name != services.REQUESTED_FOR}
    data.update(overrides or {})
    return {k: v for k, v in data.items() if k in {f.name for f in fields}}


def walk(session: Session, case: Case, people: dict[str, User], *, until: Callable[[HumanTask], bool] | None = None,
         answers: dict[str, dict[str, Any]] | None = None, limit: int = 40) -> Case:
    """Complete the case's ready tasks as the right demo users until `until(task)` or the end."""
    answers = answers or {}
    for _ in range(limit):
        tasks = queries.open_tasks(session, case)
        if not tasks or (until and until(tasks[0])):
            return case
        task = tasks[0]
        form = queries.task_form(session, task)
        for person in people.values():
            if not person.group_names & set(task.candidate_groups or ()):
                continue
            try:
                with session.begin_nested():
                    case = services.complete_task(session, task.id, fill(form.fields, answers.get(task.element_id)),
                                                  actor=person)
                break
            except NotAllowed:
                continue
        else:
            raise NotAllowed(f"no demo user may complete {task.element_id} of {case.key}")
    return case


def seed_demo(database_url: str | None, password: str | None = None) -> dict[str, str]:
    """Run init, then create the demo users, provider and cases; return each user's password."""
    with click.Context(main, obj={"database_url": database_url}):
        admin_password = init_database(quiet=True)
        passwords: dict[str, str] = {}
        with transaction() as session:
            people: dict[str, User] = {}
            for name, display, groups in DEMO_USERS:
                secret = password or _password()
                people[name] = users.create_user(session, name, list(groups), secret, actor=None,
                                                 display_name=display)
                passwords[name] = secret
            providers.add_provider(session, PROVIDER[0], PROVIDER[1], actor=None)
        with transaction() as session:
            people = {name: users.get_user(session, name) for name in passwords}
            try:
                with session.begin_nested():
                    _demo_cases(session, people)
            except EngineError as exc:  # the demo must start even if the pack changed shape
                click.echo(f"warning: some demo cases could not be created: {exc.message}", err=True)
    if admin_password:  # generated by init on a new database: shown once, like `opsgate init`
        passwords["admin"] = admin_password
    return passwords


def _password() -> str:
    """A random demo password that starts with a letter or digit (one starting with "-" reads
    as an option when pasted into a command line)."""
    secret = secrets.token_urlsafe(9)
    while not secret[0].isalnum():
        secret = secrets.token_urlsafe(9)
    return secret


def _start(session: Session, key: str, actor: User, title: str, **data: Any) -> Case:
    form = queries.start_form(session, key)
    return services.start_case(session, key, fill(form.fields, data), actor=actor, title=title)


def _demo_cases(session: Session, people: dict[str, User]) -> None:
    """Open cases in several states, as the demo users would."""
    rita, now = people["rita"], clock.now()
    # Escalated: an ERP incident reported three days ago whose resolution clock ran out.
    with clock.frozen(now - dt.timedelta(days=3)):
        late = _start(session, "incident", rita, "ERP month-end report fails", source="portal", system="erp",
                      symptoms="The month-end report stops with a timeout", impact="high", urgency="high")
        walk(session, late, people, until=lambda task: task.element_id != "diagnose")
    firing.fire_due_timers(session, now=now)
    # Closed: a standard change carried through implementation, verification and closing.
    with clock.frozen(now - dt.timedelta(days=2)):
        done = _start(session, "change_request", rita, "New meeting-room VLAN", change_type="standard",
                      system="network", description="Add a VLAN for the new meeting room", finance_system="no",
                      change_plan="Configure the VLAN on the core switch", rollback_plan="Remove the VLAN")
        walk(session, done, people)
    # Waiting on approval: a normal change assessed by the change manager, now with the CAB.
    with clock.frozen(now - dt.timedelta(hours=5)):
        waiting = _start(session, "change_request", rita, "ERP database minor upgrade", change_type="normal",
                         system="erp", description="Upgrade the ERP database to the next minor version",
                         finance_system="yes", change_plan="Upgrade the replica, switch over, upgrade the primary",
                         rollback_plan="Switch back to the old primary")
        walk(session, waiting, people, until=lambda task: task.element_id == "cab_approval")
    # ... where the board is voting: Cathy has approved, Colin and Cora have not voted yet.
    with clock.frozen(now - dt.timedelta(hours=2)):
        vote = next(t for t in queries.open_tasks(session, waiting) if t.assignee_id == people["cathy"].id)
        services.complete_task(session, vote.id, {"decision": "approve", "comment": "Tested on the replica last week"},
                               actor=people["cathy"])
    # Open: an incident just reported, waiting for first-line diagnosis.
    _start(session, "incident", rita, "Mail down on floor 3", source="phone", system="mail",
           symptoms="Nobody on floor 3 receives mail", impact="medium", urgency="high")
    _operations_cases(session, people)


def _operations_cases(session: Session, people: dict[str, User]) -> None:
    """An inspection with a finding (which opened an incident), work orders in three states and
    a machine-room visit waiting on the information centre."""
    rita, eric, now = people["rita"], people["eric"], clock.now()
    providers.add_provider(session, PROVIDER[0], ["machine room", "servers"], actor=None)
    with clock.frozen(now - dt.timedelta(days=1)):
        inspection = _start(session, "inspection", eric, "Machine-room inspection", inspection_target="machine_room",
                            site="machine room", inspection_plan="monthly")
        walk(session, inspection, people, answers={"inspect": {
            "ups": "finding", "ups_note": "UPS battery test: 9 minutes of autonomy, 20 required",
            "temperature_c": 23, "humidity_pct": 48,
            "inspection_report": "Monthly round by Eric: one problem (UPS battery), incident opened"}})
    with clock.frozen(now - dt.timedelta(days=2)):
        done = _start(session, "service_request", rita, "Printer jams on floor 3", category="printer",
                      description="The floor 3 printer jams on every page", location="Building A, 3rd floor")
        walk(session, done, people, answers={
            "dispatch_order": {"dispatch_to": "provider", "provider": PROVIDER[0]},
            "do_work": {"work_record": "Replaced the fuser unit; test pages print", "work_hours": 1.5},
            "confirm": {"rating": 5, "feedback": "Fixed the same morning"}})
    with clock.frozen(now - dt.timedelta(hours=3)):
        working = _start(session, "service_request", rita, "New monitor for the front desk", category="desktop",
                         description="A second monitor for the reception PC", location="Lobby")
        walk(session, working, people, until=lambda task: task.element_id == "do_work",
             answers={"dispatch_order": {"dispatch_to": "engineer", "assigned_engineer": "eric"}})
    _start(session, "service_request", rita, "Install the project-planning tool", category="software",
           description="Install the planning tool on my laptop", location="Room 214")
    _start(session, "datacenter_access", rita, "Disk replacement visit", visitor_name="Li Wei",
           visitor_type="vendor_engineer", visitor_company="StoreCo", machine_room="Main machine room",
           purpose="Replace a failed disk in storage array 2", planned_items_in="1 disk, laptop")
