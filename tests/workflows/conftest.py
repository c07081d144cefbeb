"""Drive the shipped process pack through engine.cases.services as users of the right groups."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import config, db
from engine.cases import instance_cache, services
from engine.jobs import firing
from engine.people import users
from engine.processes import deployment
from models import AuditEvent, HumanTask, User
from tests.conftest import real_sqlite_transactions, rolled_back_session, sibling_postgres

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"

# one person per role; everyone is also a requester
STAFF = {
    "rita": ["requester"],
    "sam": ["service_desk"],
    "eve": ["engineer"],
    "ed": ["engineer"],
    "carl": ["change_manager"],
    "cathy": ["cab"],
    "fiona": ["finance"],
    "mona": ["manager"],
    "sean": ["security_admin"],
}


class Desk:
    """Start cases, act on tasks and read what the audit trail recorded."""

    def __init__(self, session):
        self.session = session
        found = session.scalars(select(User).where(User.name.in_(STAFF))).all()
        self.people = {user.name: user for user in found}
        assert sorted(self.people) == sorted(STAFF), "the pack template holds the staff"
        self._seen: dict[int, int] = {}

    def __getitem__(self, name):
        return self.people[name]

    def start(self, process, data, *, by, title="test case"):
        case = services.start_case(self.session, process, data, actor=self.people[by], title=title)
        assert self._types(case) == ["case_started"]
        return case

    def tasks(self, case) -> list[str]:
        """Element ids of the case's open tasks, sorted."""
        rows = self.session.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case.id,
                                                                        HumanTask.state == "ready"))
        return sorted(rows)

    def task_id(self, case, element_id) -> str:
        ids = self.session.scalars(
            select(HumanTask.id).where(HumanTask.case_id == case.id, HumanTask.element_id == element_id,
                                       HumanTask.state == "ready")
        ).all()
        assert len(ids) == 1, (element_id, self.tasks(case))
        return ids[0]

    def act(self, case, element_id, data=None, *, by):
        """Claim and complete one open task as the named person, checking what the audit trail got."""
        data = data or {}
        task_id = self.task_id(case, element_id)
        before = len(self._types(case))
        # A vote (the only voter's, here) is theirs from the start: nothing to claim.
        voted = self.session.get(HumanTask, task_id).assignee_id == self.people[by].id
        services.claim_task(self.session, task_id, actor=self.people[by])
        case = services.complete_task(self.session, task_id, data, actor=self.people[by])
        kind = {"approve": "gate_approved", "reject": "gate_rejected"}.get(data.get("decision"), "task_completed")
        expected = ["vote_cast" if voted else "task_claimed", kind] + (["case_closed"] if case.status == "closed" else [])
        # follow-up cases a task opens (opens_cases) are checked by the tests that expect them
        assert [t for t in self._types(case)[before:] if t != "follow_up_opened"] == expected
        return case

    def vote(self, case, element_id, decision, comment="", *, by):
        """Cast `by`'s own vote on an open vote task."""
        person = self.people[by]
        ids = self.session.scalars(
            select(HumanTask.id).where(HumanTask.case_id == case.id, HumanTask.element_id == element_id,
                                       HumanTask.state == "ready", HumanTask.assignee_id == person.id)).all()
        assert len(ids) == 1, (element_id, by, self.tasks(case))
        return services.complete_task(self.session, ids[0], {"decision": decision, "comment": comment}, actor=person)

    def _types(self, case) -> list[str]:
        return list(self.session.scalars(
            select(AuditEvent.type).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
        ))

    def complete(self, case, element_id, data=None, *, by):
        """Complete without claiming first (to test refusals)."""
        return services.complete_task(self.session, self.task_id(case, element_id), data or {}, actor=self.people[by])

    def events(self, case) -> list[str]:
        """Audit event types appended to the case since the last call."""
        types = self._types(case)
        new = types[self._seen.get(case.id, 0):]
        self._seen[case.id] = len(types)
        return list(new)

    def closing(self, case) -> dict:
        """The data of the case_closed audit event (outcome, missing records)."""
        return self.session.scalars(
            select(AuditEvent.data).where(AuditEvent.case_id == case.id, AuditEvent.type == "case_closed")
        ).one()

    def fire(self, at: dt.datetime) -> int:
        return firing.fire_due_timers(self.session, now=at)


def pack_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(WORKFLOWS.iterdir()) if p.suffix in (".bpmn", ".dmn")]


def seed_pack(engine: Engine) -> None:
    """Commit the shipped pack and its staff into a fresh database, once per run: a scenario
    then starts from this template inside a transaction rolled back after it, instead of
    deploying seven processes (1 to 2 s) again for each test."""
    with Session(engine) as sess:
        for name, groups in STAFF.items():
            users.create_user(sess, name, ["requester", *groups], actor=None)
        admin = users.create_user(sess, "pack_admin", ["admin", "process_owner"], actor=None)
        deployment.deploy(sess, pack_files(), actor=admin)
        sess.commit()


@pytest.fixture(scope="session")
def pack_sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('pack') / 'pack.db'}")
    real_sqlite_transactions(engine)
    db.upgrade(engine)
    seed_pack(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pack_pg_engine(pg_engine: Engine) -> Iterator[Engine]:
    """A second PostgreSQL database beside the test one, holding the pack (pg_clean empties
    the first one between tests, so the template cannot live there)."""
    with sibling_postgres(pg_engine, "pack") as engine:
        seed_pack(engine)
        yield engine


# sqlite-nocache: the same scenarios with the instance cache off, so every action restores
# its case from the stored state (what a second web process or a restarted worker does).
@pytest.fixture(params=["sqlite", "sqlite-nocache", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, sqlite_engine: Engine) -> Iterator[Session]:
    """Run every pack scenario on SQLite (instance cache on and off) and, when configured, on
    PostgreSQL, rolled back after. A test that uses `desk` starts from the pack template."""
    with_pack = "desk" in request.fixturenames
    if request.param == "postgres":
        # pg_clean: start from empty tables, whatever an earlier test committed (a stray CAB member
        # would change the majority a change request's vote needs)
        engine = request.getfixturevalue("pack_pg_engine" if with_pack else "pg_clean")
    else:
        engine = request.getfixturevalue("pack_sqlite_engine") if with_pack else sqlite_engine
    with rolled_back_session(engine) as sess:
        if request.param == "sqlite-nocache":
            config.bind(sess.info, dataclasses.replace(config.DEFAULTS, instance_cache=0))
        yield sess
    if request.param == "sqlite-nocache":
        assert len(instance_cache.instances) == 0, "the cache-off pass kept an instance"


@pytest.fixture
def desk(session):
    return Desk(session)


def after(case, **delta) -> dt.datetime:
    """The instant `delta` after the case was opened."""
    created = case.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return created + dt.timedelta(**delta)
