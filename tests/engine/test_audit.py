"""The audit chain: verify names the first edited, deleted or reordered event; an event's hash
and stored data are what they have always been (events written before and after a change verify)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from engine import prepared
from engine.cases import queries, services
from engine.records import audit
from engine.timing import clock
from models import AuditChain, AuditEvent
from tests.engine.interop_helpers import db_session, deploy_files, person

__all__ = ["db_session"]  # a fixture (SQLite, and PostgreSQL with OPSGATE_TEST_POSTGRES_URL)


@pytest.fixture
def case(session, deploy, make_user):
    deploy("four_steps.bpmn")
    desk, eng = make_user("service_desk"), make_user("engineer")
    case = services.start_case(session, "four_steps", {"title": "t", "urgent": True}, actor=make_user())
    services.complete_task(session, queries.open_tasks(session, case)[0].id, {"category": "software"}, actor=desk)
    services.claim_task(session, queries.open_tasks(session, case)[0].id, actor=eng)
    services.complete_task(session, queries.open_tasks(session, case)[0].id, {"diagnosis": "d"}, actor=eng)
    session.flush()
    return case


def event(session, case, seq) -> AuditEvent:
    return session.scalars(select(AuditEvent).where(AuditEvent.chain == case.key, AuditEvent.seq == seq)).one()


def test_intact_chain_verifies(session, case):
    result = audit.verify(session, case)
    assert result.ok and result.checked == 4
    whole = audit.verify(session)
    assert whole.ok and whole.checked > 4  # the system chain (users, deploys) too


def test_edit_is_caught_at_that_event(session, case):
    target = event(session, case, 2)
    session.execute(update(AuditEvent).where(AuditEvent.id == target.id)
                    .values(data={"task_id": "x", "data": {"category": "hardware"}}))
    session.expire_all()
    result = audit.verify(session, case)
    assert not result.ok and result.first_bad.seq == 2 and "changed" in result.reason
    assert audit.verify(session).first_bad.chain == case.key


def test_actor_edit_is_caught(session, case):
    session.execute(update(AuditEvent).where(AuditEvent.id == event(session, case, 3).id).values(actor="mallory"))
    session.expire_all()
    assert audit.verify(session, case).first_bad.seq == 3


def test_deletion_in_the_middle_is_caught(session, case):
    session.execute(delete(AuditEvent).where(AuditEvent.id == event(session, case, 2).id))
    session.expire_all()
    result = audit.verify(session, case)
    assert not result.ok and result.first_bad.seq == 3 and "deleted or reordered" in result.reason


def test_deletion_of_the_last_event_is_caught(session, case):
    session.execute(delete(AuditEvent).where(AuditEvent.id == event(session, case, 4).id))
    session.expire_all()
    result = audit.verify(session, case)
    assert not result.ok and "last events were deleted" in result.reason


def test_reorder_is_caught(session, case):
    two, three = event(session, case, 2), event(session, case, 3)
    ids = (two.id, three.id)
    session.execute(update(AuditEvent).where(AuditEvent.id == ids[0]).values(seq=-1))
    session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(seq=2))
    session.execute(update(AuditEvent).where(AuditEvent.id == ids[0]).values(seq=3))
    session.expire_all()
    result = audit.verify(session, case)
    assert not result.ok and result.first_bad.seq == 2


def test_cli_verify_exits_1_and_names_the_event(tmp_path, monkeypatch):
    from webui.cli.base import main
    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    monkeypatch.setenv("OPSGATE_ADMIN_PASSWORD", "a-long-admin-password")
    assert runner.invoke(main, ["--database-url", url, "init"]).exit_code == 0
    assert runner.invoke(main, ["audit", "verify", "--database-url", url]).exit_code == 0
    from engine import db
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 1 AND chain = 'system'"))
    result = runner.invoke(main, ["--database-url", url, "audit", "verify"])
    assert result.exit_code == 1
    assert "first bad event: chain system seq 1" in result.output


def formula(chain, seq, at, actor, type_, task, data, prev) -> str:
    """An event's hash as every event so far was written: changing it breaks every stored chain."""
    body = json.dumps([chain, seq, at, actor, type_, task, data, prev], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def test_event_hash_is_pinned():
    args = ("C-2026-000001", 3, "2026-11-30T07:00:00.123456+00:00", "alice", "task_completed", "triage",
            {"b": [1, 2.5, None, True], "a": "Zürich ✓", "10": {"y": 1, "x": 2}, "9": "\u2028"}, "ab" * 32)
    assert audit.event_hash(*args) == formula(*args)
    assert audit.event_hash(*args) == "744ac7f7adadbfd1a0413b14dd35025f5afc526c7b7cb20df98814107a572488"


AT = dt.datetime(2026, 11, 30, 7, 0, 0, 123456, tzinfo=dt.timezone.utc)
# Data with values JSON has not (written as str), keys that are not str, text that is not ASCII
MIXED = {"at": dt.datetime(2026, 11, 30, 7, 1, 2, tzinfo=dt.timezone.utc), "amount": Decimal("10.50"),
         "ref": uuid.UUID("12345678-1234-5678-1234-567812345678"), "due": dt.date(2026, 12, 1), 2: "two",
         "city": "Zürich ✓", "steps": ("a", "b"), "nested": {"z": 1, "a": [Decimal("1.0"), None, 2.5]}}
# What a reader gets back for MIXED
MIXED_READ = {"at": "2026-11-30 07:01:02+00:00", "amount": "10.50", "ref": "12345678-1234-5678-1234-567812345678",
              "due": "2026-12-01", "2": "two", "city": "Zürich ✓", "steps": ["a", "b"],
              "nested": {"z": 1, "a": ["1.0", None, 2.5]}}


def stored_text(session, event_hash: str) -> str:
    """The data column's text as the database holds it (PostgreSQL's json keeps its input text)."""
    return session.execute(text("SELECT CAST(data AS TEXT) FROM audit_event WHERE hash = :h"),
                           {"h": event_hash}).scalar_one()


def read_back(session, event_hash: str) -> AuditEvent:
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.hash == event_hash)).one()


def test_event_data_is_stored_read_and_hashed_as_before(db_session):
    deploy_files(db_session, "four_steps.bpmn")
    case = services.start_case(db_session, "four_steps", {"title": "t", "urgent": True},
                               actor=person(db_session, "req"))
    db_session.flush()
    written = []
    with clock.frozen(AT):
        written.append(audit.append(db_session, case, actor="alice", type="note_added", task="triage", data=MIXED))
        with prepared.holding(db_session):  # as a use case writes it (on psycopg: held, sent in a pipeline)
            written.append(audit.append(db_session, case, actor="alice", type="note_added", data=MIXED))
        written.append(audit.append_system(db_session, actor="alice", type="note_added", data=MIXED))
    db_session.flush()
    for event in written:
        assert event["data"] == MIXED_READ
        assert stored_text(db_session, event["hash"]) == json.dumps(MIXED_READ)  # what the JSON type writes
        row = read_back(db_session, event["hash"])
        assert row.data == MIXED_READ and list(row.data) == list(MIXED_READ)
        assert row.hash == formula(row.chain, row.seq, "2026-11-30T07:00:00.123456+00:00", "alice", "note_added",
                                   row.task, MIXED_READ, row.prev_hash)
    assert audit.verify(db_session, case).ok and audit.verify(db_session).ok


def test_keys_that_are_one_in_json_are_stored_as_read_back(db_session):
    written = audit.append_system(db_session, actor="alice", type="note_added", data={1: "a", "1": "b"})
    db_session.flush()
    assert stored_text(db_session, written["hash"]) == '{"1": "b"}'
    assert read_back(db_session, written["hash"]).data == {"1": "b"} == written["data"]
    assert audit.verify(db_session).ok


def _write_as_before(session, data) -> None:
    """Append to the system chain as opsgate wrote events before the single-pass append: the
    values (json.loads of json.dumps with default=str) through the ORM's JSON column."""
    head = session.scalars(select(AuditChain).where(AuditChain.name == audit.SYSTEM_CHAIN)).first()
    if head is None:
        head = AuditChain(name=audit.SYSTEM_CHAIN, seq=0, head="")
        session.add(head)
    seq, prev, at = head.seq + 1, head.head or audit.GENESIS, clock.now()
    clean = json.loads(json.dumps(data or {}, default=str))
    digest = formula(audit.SYSTEM_CHAIN, seq, audit.stamp(at), "old", "note_added", None, clean, prev)
    session.add(AuditEvent(chain=audit.SYSTEM_CHAIN, case_id=None, seq=seq, at=at, actor="old", type="note_added",
                           task=None, data=clean, prev_hash=prev, hash=digest))
    head.seq, head.head = seq, digest
    session.flush()


def test_events_written_before_and_after_verify_as_one_chain(db_session):
    _write_as_before(db_session, MIXED)
    _write_as_before(db_session, {"n": 1})
    new = audit.append_system(db_session, actor="new", type="note_added", data=MIXED)
    _write_as_before(db_session, None)
    audit.append_system(db_session, actor="new", type="note_added", data={"n": 2})
    db_session.flush()
    db_session.expire_all()
    events = list(db_session.scalars(select(AuditEvent).where(AuditEvent.chain == audit.SYSTEM_CHAIN)
                                     .order_by(AuditEvent.seq)))
    assert [e.actor for e in events][-5:] == ["old", "old", "new", "old", "new"]
    assert events[-5].data == events[-3].data == MIXED_READ
    assert stored_text(db_session, events[-5].hash) == stored_text(db_session, new["hash"])
    result = audit.verify(db_session)
    assert result.ok and result.checked >= 5
    # and an edit of a new event is still caught at that event
    db_session.execute(update(AuditEvent).where(AuditEvent.hash == new["hash"]).values(data={"n": 3}))
    db_session.expire_all()
    bad = audit.verify(db_session)
    assert not bad.ok and bad.first_bad.hash == new["hash"]
