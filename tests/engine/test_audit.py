"""The audit chain: verify names the first edited, deleted or reordered event."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from engine.cases import queries, services
from engine.records import audit
from models import AuditEvent


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
