"""Two people complete one task at the same instant on PostgreSQL: exactly one wins."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from engine import db
from engine.cases import queries, services
from engine.errors import Conflict
from engine.people import users
from engine.processes import deployment
from engine.records import audit
from models import AuditEvent, HumanTask
from tests.conftest import DATA

pytestmark = pytest.mark.postgres


def _setup(engine):
    maker = db.make_sessionmaker(engine)
    with maker.begin() as s:
        deployment.deploy(s, [("four_steps.bpmn", (DATA / "four_steps.bpmn").read_bytes())], actor=None)
        req = users.create_user(s, "req", [], actor=None)
        desk = users.create_user(s, "desk", ["service_desk"], actor=None)
        users.create_user(s, "eng1", ["engineer"], actor=None)
        users.create_user(s, "eng2", ["engineer"], actor=None)
        case = services.start_case(s, "four_steps", {"title": "race", "urgent": True}, actor=req)
        services.complete_task(s, queries.open_tasks(s, case)[0].id, {"category": "software"}, actor=desk)
        return case.key, queries.open_tasks(s, case)[0].id


@pytest.mark.parametrize("action", ["complete", "claim"])
def test_two_threads_one_task_exactly_one_wins(pg_clean, action):
    key, task_id = _setup(pg_clean)
    maker = db.make_sessionmaker(pg_clean)
    barrier = threading.Barrier(2, timeout=20)
    outcomes: dict[str, str] = {}
    racing: set[int] = set()

    @event.listens_for(pg_clean, "before_cursor_execute")
    def wait_for_the_other(_conn, _cursor, statement, *_args):
        # Hold each racer at its first write, so both have read the same state first.
        me = threading.get_ident()
        if me in racing and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            racing.discard(me)
            barrier.wait()

    def work(name: str) -> None:
        session: Session = maker()
        racing.add(threading.get_ident())
        try:
            actor = users.get_user(session, name)
            if action == "complete":
                services.complete_task(session, task_id, {"diagnosis": f"by {name}"}, actor=actor)
            else:
                services.claim_task(session, task_id, actor=actor)
            session.commit()
            outcomes[name] = "won"
        except Conflict as err:
            session.rollback()
            outcomes[name] = f"conflict: {err.message}"
        finally:
            session.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("eng1", "eng2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    event.remove(pg_clean, "before_cursor_execute", wait_for_the_other)
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["conflict", "won"], outcomes
    winner = next(n for n, v in outcomes.items() if v == "won")
    with maker() as s:
        case = queries.find_case(s, key)
        assert audit.verify(s, case).ok
        kinds = [e.type for e in audit.history(s, case)]
        expected = "task_completed" if action == "complete" else "task_claimed"
        assert kinds.count(expected) == (2 if action == "complete" else 1)  # triage + the one winner
        task = s.get(HumanTask, task_id)
        if action == "complete":
            assert task.state == "completed" and task.completed_by.name == winner
            assert case.data["diagnosis"] == f"by {winner}"
            assert [t.element_id for t in queries.open_tasks(s, case)] == ["approve_fix"]
        else:
            assert task.assignee.name == winner
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == key)) == len(kinds)
