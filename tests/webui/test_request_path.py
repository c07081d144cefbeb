"""The lean request path (issue #14): what one API request costs the database.

These tests run the app against a database of its own (SQLite file, and PostgreSQL when
configured), so that commits are real commits, and record every statement the app's engine sends.

* Authentication is one indexed read: the token, its user and the user's groups together.
* A token's last use is written at most once a minute, not on every call.
* Completing a task runs its statements, commits once, and answers from what it holds: the
  response loads nothing, lazily or otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, delete, event, select, update

from engine import db
from engine.cases import instance_cache
from engine.people import admin, tokens, users
from engine.processes import deployment
from models import ApiToken, User, user_group
from tests.conftest import reset_postgres
from webui import create_app

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database for this test alone."""
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path / 'opsgate.db'}")
        db.upgrade(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
        reset_postgres(engine)
    yield engine
    if request.param == "sqlite":
        engine.dispose()


class Recorder:
    """Every statement the app's engine sends, as 'VERB table', and its commits as 'COMMIT'."""

    def __init__(self, app: Flask):
        self.seen: list[str] = []
        engine = app.extensions["opsgate_engine"]
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = re.sub(r"\s+", " ", statement).strip()
        verb = words.split(" ", 1)[0]
        table = re.search(r"(?:INTO|UPDATE|FROM) \"?(\w+)\"?", words)
        self.seen.append(f"{verb} {table.group(1) if table else '?'}")

    def _commit(self, _conn: Any) -> None:
        self.seen.append("COMMIT")

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[str]]:
        self.seen = []
        yield self.seen


@pytest.fixture
def site(database: Engine) -> Iterator[dict[str, Any]]:
    """The ticket process deployed, a desk agent and an engineer with tokens, the app and a recorder."""
    maker = db.make_sessionmaker(database)
    with maker() as session:
        deployment.deploy(session, [("api_ticket.bpmn", (DATA / "api_ticket.bpmn").read_bytes())], actor=None)
        users.create_user(session, "desk", ["service_desk"], None, actor=None)
        users.create_user(session, "eng", ["engineer", "cab"], None, actor=None)
        users.create_user(session, "root", ["admin"], None, actor=None)
        found = {name: tokens.create_token(session, name, actor=None) for name in ("desk", "eng")}
        session.commit()
    app = create_app({"TESTING": True, "SECRET_KEY": "request-path", "START_WORKER": False,
                      "DATABASE_URL": database.url.render_as_string(hide_password=False)})
    yield {"app": app, "http": app.test_client(), "maker": maker, "recorder": Recorder(app),
           "headers": {name: {"Authorization": f"Bearer {token}"} for name, token in found.items()}}
    app.extensions["opsgate_engine"].dispose()


def _last_used(site: dict[str, Any], name: str) -> dt.datetime | None:
    with site["maker"]() as session:
        return session.scalar(select(ApiToken.last_used_at).join(ApiToken.user).where(User.name == name))


def test_a_token_is_checked_with_one_read_and_stamped_once_a_minute(site):
    http, recorder, headers = site["http"], site["recorder"], site["headers"]["eng"]
    with recorder.recording() as first:
        response = http.get("/api/v1/me", headers=headers)
    assert response.json["name"] == "eng" and response.json["groups"] == ["cab", "engineer", "requester"]
    # The first call of a token stamps its use, in its own commit.
    assert first == ["SELECT api_token", "UPDATE api_token", "COMMIT"]
    stamped = _last_used(site, "eng")
    assert stamped is not None
    with recorder.recording() as second:
        assert http.get("/api/v1/me", headers=headers).status_code == 200
    assert second == ["SELECT api_token"]  # token, user and groups: one read; nothing written
    assert _last_used(site, "eng") == stamped
    # A minute later the stamp is written again, once.
    with site["maker"]() as session:
        session.execute(update(ApiToken).values(last_used_at=stamped - tokens.TOKEN_USE_RESOLUTION))
        session.commit()
    with recorder.recording() as later:
        assert http.get("/api/v1/me", headers=headers).status_code == 200
    assert later == ["SELECT api_token", "UPDATE api_token", "COMMIT"]
    assert _last_used(site, "eng") > stamped


def test_a_revoked_token_and_a_deactivated_user_are_refused_at_once(site):
    http, headers = site["http"], site["headers"]
    assert http.get("/api/v1/me", headers=headers["eng"]).status_code == 200
    assert http.get("/api/v1/me", headers=headers["desk"]).status_code == 200
    with site["maker"]() as session:
        root = users.get_user(session, "root")
        token_id = session.scalar(select(ApiToken.id).join(ApiToken.user).where(User.name == "eng"))
        admin.revoke_token(session, token_id, actor=root)
        desk = users.get_user(session, "desk")
        admin.update_user(session, desk, display_name="", email="", password=None, groups=["service_desk"],
                          active=False, actor=root)
        session.commit()
    for name in ("eng", "desk"):
        response = http.get("/api/v1/me", headers=headers[name])
        assert response.status_code == 401
        assert response.json["error"]["message"] == "Unknown, revoked, expired or inactive API token."


def _session_user_statements(site: dict[str, Any]) -> list[str]:
    app, recorder = site["app"], site["recorder"]
    with site["maker"]() as session:
        eng = users.get_user(session, "eng")
        eng_id = eng.id

    @app.post("/_test/login")
    @app.extensions["csrf"].exempt
    def _login() -> str:
        from flask_login import login_user

        from webui.db import get_session
        login_user(get_session().get(User, eng_id))
        return "ok"

    browser = app.test_client()
    assert browser.post("/_test/login").status_code == 200
    with recorder.recording() as seen:
        assert browser.get("/api/v1/me").json["groups"] == ["cab", "engineer", "requester"]
    return seen


def test_a_browser_session_loads_its_user_with_one_read(site):
    assert _session_user_statements(site) == ["SELECT user"]


@contextlib.contextmanager
def no_lazy_loads(app: Flask) -> Iterator[None]:
    """Fail on any lazy load (a relationship or a deferred column) by the app's sessions."""
    maker = app.extensions["opsgate_sessionmaker"]

    def check(state: Any) -> None:
        if state.is_relationship_load or state.is_column_load:
            raise AssertionError(f"lazy load on the hot path: {state.statement}")

    event.listen(maker, "do_orm_execute", check)
    try:
        yield
    finally:
        event.remove(maker, "do_orm_execute", check)


def test_completing_a_task_runs_its_statements_commits_once_and_loads_nothing_for_the_answer(site, database):
    """The completion request's statement budget (README, Performance): one read to authenticate,
    the action's read and writes (tests/engine/test_write_path.py), one commit, and an answer built
    from what the action holds. If this fails because a statement was added, find the read the
    request already holds or the write it can join."""
    http, recorder, headers = site["http"], site["recorder"], site["headers"]
    for name in ("desk", "eng"):  # first calls stamp the tokens' use
        assert http.get("/api/v1/me", headers=headers[name]).status_code == 200
    opened = http.post("/api/v1/cases", headers=headers["desk"],
                       json={"process": "api_ticket", "title": "Printer on fire", "data": {"summary": "smoke"}})
    assert opened.status_code == 201
    triage = opened.json["open_tasks"][0]
    assert (triage["name"], triage["case"], triage["candidate_groups"]) == ("Triage", "TKT-000001", ["service_desk"])
    with no_lazy_loads(site["app"]), recorder.recording() as seen:
        response = http.post(f"/api/v1/tasks/{triage['id']}/complete", headers=headers["desk"],
                             json={"data": {"note": "it smokes"}})
    assert response.status_code == 200, response.json
    postgres = database.dialect.name == "postgresql"
    assert seen == ([
        "SELECT api_token", "SELECT human_task",
        # the same writes, held to the end of the action and sent in one pipeline, one round
        # trip (engine.prepared.holding; tests/engine/test_write_path.py), the case row first
        "UPDATE case", "INSERT audit_event", "INSERT human_task", "INSERT human_task_group", "INSERT human_task_bar",
        "COMMIT",
    ] if postgres else [
        "SELECT api_token",         # the caller: token, user and groups
        "SELECT human_task",        # the task with its case
        "INSERT audit_event",       # task_completed
        "INSERT human_task",        # triage ended, the approval added
        "INSERT human_task_group",  # the approval's candidate group
        "INSERT human_task_bar",    # separation of duties: the requester may not approve
        "UPDATE case",              # the case row, guarded by its version
        "COMMIT",
    ])
    body = response.json
    assert (body["key"], body["version"], body["status"], body["requester"]) == ("TKT-000001", 1, "open", "desk")
    assert body["data"]["note"] == "it smokes"
    [approval] = body["open_tasks"]
    assert (approval["name"], approval["case"], approval["process"], approval["candidate_groups"],
            approval["assignee"], approval["state"]) == \
        ("Approve fix", "TKT-000001", "api_ticket", ["engineer"], None, "ready")
    # What the answer said is what the database holds.
    assert http.get("/api/v1/cases/TKT-000001", headers=headers["desk"]).json == body

    with no_lazy_loads(site["app"]), recorder.recording() as seen:
        response = http.post(f"/api/v1/tasks/{approval['id']}/complete", headers=headers["eng"],
                             json={"data": {"decision": "approve"}})
    assert response.status_code == 200, response.json
    assert seen == (["SELECT api_token", "SELECT human_task",
                     # on PostgreSQL the same writes in one pipeline (both events in one
                     # executemany), the facts last: they read the case row and the events
                     "UPDATE case", "INSERT audit_event", "INSERT human_task",
                     "INSERT case_fact", "INSERT case_fact_month", "COMMIT"] if postgres else
                    ["SELECT api_token", "SELECT human_task", "INSERT audit_event", "INSERT audit_event",
                     "INSERT human_task", "UPDATE case", "INSERT case_fact",  # gate_approved, case_closed; the
                     "INSERT case_fact_month",  # ended case's evaluation facts (engine.processes.case_facts), and
                     "COMMIT"])  # the month summary counting them in its months (engine.processes.fact_summary)
    assert (response.json["status"], response.json["open_tasks"]) == ("closed", [])
    assert http.get("/api/v1/cases/TKT-000001", headers=headers["desk"]).json == response.json


def test_a_case_saved_by_another_process_costs_no_extra_statement(site, database):
    """Several web processes: the next step of a case often lands on a process whose instance
    cache does not hold it (docs/performance.md, "Several processes"). Restoring it then costs
    the deserialization only: the process version's parsed spec is found by its id, unread."""
    http, recorder, headers = site["http"], site["recorder"], site["headers"]
    assert http.get("/api/v1/me", headers=headers["desk"]).status_code == 200
    opened = http.post("/api/v1/cases", headers=headers["desk"],
                       json={"process": "api_ticket", "title": "Printer on fire", "data": {"summary": "smoke"}})
    instance_cache.instances.clear()  # as if another process had saved the case
    with no_lazy_loads(site["app"]), recorder.recording() as seen:
        response = http.post(f"/api/v1/tasks/{opened.json['open_tasks'][0]['id']}/complete",
                             headers=headers["desk"], json={"data": {"note": "it smokes"}})
    assert response.status_code == 200
    assert [each["name"] for each in response.json["open_tasks"]] == ["Approve fix"]
    writes = ["INSERT audit_event", "INSERT human_task", "INSERT human_task_group", "INSERT human_task_bar"]
    # on PostgreSQL the same writes in one pipeline, the case row first
    assert seen == ["SELECT api_token", "SELECT human_task",
                    *(["UPDATE case", *writes] if database.dialect.name == "postgresql" else [*writes, "UPDATE case"]),
                    "COMMIT"]


def test_a_token_brings_its_users_groups_as_they_are_now(site):
    """The token's read is made into the session's objects (engine.people.tokens): a change of the
    user's groups, made by another session, shows in the very next request, still in one read."""
    http, recorder, headers = site["http"], site["recorder"], site["headers"]["eng"]
    assert http.get("/api/v1/me", headers=headers).json["groups"] == ["cab", "engineer", "requester"]
    with site["maker"]() as session:
        root, eng = users.get_user(session, "root"), users.get_user(session, "eng")
        admin.update_user(session, eng, display_name="", email="", password=None, groups=["service_desk"],
                          active=True, actor=root)
        session.commit()
    with recorder.recording() as seen:
        assert http.get("/api/v1/me", headers=headers).json["groups"] == ["requester", "service_desk"]
    assert seen == ["SELECT api_token"]
    # A user in no group at all (the outer join's row has no group): still known, in no group.
    with site["maker"]() as session:
        eng_id = users.get_user(session, "eng").id
        session.execute(delete(user_group).where(user_group.c.user_id == eng_id))
        session.commit()
    me = http.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json["name"] == "eng" and me.json["groups"] == []


def test_a_token_of_another_user_in_the_same_request_session_gets_its_own_objects(site):
    """Two tokens one after another in one app: each request is answered as its own token's user."""
    http, headers = site["http"], site["headers"]
    for _ in range(2):
        assert http.get("/api/v1/me", headers=headers["desk"]).json["name"] == "desk"
        assert http.get("/api/v1/me", headers=headers["eng"]).json["name"] == "eng"
