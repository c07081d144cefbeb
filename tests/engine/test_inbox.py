"""The inbox reads live rows only: a task's group rows go when the task ends, the order is the
soonest due first (no due time last), and pages follow each other without gaps."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from engine.cases import queries, services
from models import HumanTask, HumanTaskGroup
from tests.conftest import rolled_back_session


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, sqlite_engine: Engine) -> Iterator[Session]:
    engine = sqlite_engine if request.param == "sqlite" else request.getfixturevalue("pg_engine")
    with rolled_back_session(engine) as sess:
        yield sess


def _start(session, requester, title):
    return services.start_case(session, "four_steps", {"title": title, "system": "erp", "urgent": True},
                               actor=requester)


def _groups(session, task_id):
    return session.scalar(select(func.count()).select_from(HumanTaskGroup).where(HumanTaskGroup.task_id == task_id))


def test_an_ended_task_takes_its_group_rows_with_it(session, deploy, make_user):
    deploy("four_steps.bpmn")
    desk, req = make_user("service_desk"), make_user()
    done, dropped, waiting = (queries.open_tasks(session, _start(session, req, t))[0] for t in "abc")
    services.complete_task(session, done.id, {"category": "software"}, actor=desk)
    session.execute(update(HumanTask).where(HumanTask.id == dropped.id).values(state="cancelled"))
    assert (_groups(session, done.id), _groups(session, dropped.id), _groups(session, waiting.id)) == (0, 0, 1)
    assert done.candidate_groups == ["service_desk"]  # the record of who could act stays on the task
    assert [t.id for t in queries.list_tasks(session, actor=desk)] == [waiting.id]


def test_inbox_is_soonest_due_first_and_pages_without_gaps(session, deploy, make_user):
    deploy("four_steps.bpmn")
    desk, req = make_user("service_desk"), make_user()
    tasks = [queries.open_tasks(session, _start(session, req, f"case {i}"))[0] for i in range(7)]
    now = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    for i, task in enumerate(tasks):  # even ones due in reverse order, odd ones without a due time
        due = now + dt.timedelta(hours=10 - i) if i % 2 == 0 else None
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(due_at=due))
    session.expire_all()
    pages = [queries.list_tasks(session, actor=desk, limit=3, offset=o) for o in (0, 3, 6)]
    titles = [t.case.title for page in pages for t in page]
    assert titles[:4] == ["case 6", "case 4", "case 2", "case 0"]
    assert sorted(titles[4:]) == ["case 1", "case 3", "case 5"] and len(set(titles)) == 7


@pytest.mark.parametrize("walk", [True, False], ids=["walks-the-ready-index", "reads-the-group-rows"])
def test_both_forms_of_the_group_arm_list_the_same_tasks(session, deploy, make_user, monkeypatch, walk):
    """Many live group rows: the inbox walks the ready tasks in due order; few: it reads the
    groups' rows. Either way the same tasks, in the same order, and only the actor's."""
    deploy("four_steps.bpmn")
    desk, eng, other, req = make_user("service_desk"), make_user("engineer"), make_user("engineer"), make_user()
    cases = [_start(session, req, f"case {i}") for i in range(9)]
    for case in cases[:5]:  # five move on to the engineers' diagnosis, four wait on the desk's triage
        services.complete_task(session, queries.open_tasks(session, case)[0].id, {"category": "software"},
                               actor=desk)
    services.claim_task(session, queries.open_tasks(session, cases[1])[0].id, actor=other)
    now = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    for i, case in enumerate(cases):
        session.execute(update(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready")
                        .values(due_at=now + dt.timedelta(hours=9 - i) if i % 3 else None))
    session.expire_all()
    monkeypatch.setattr(queries, "MANY_GROUP_ROWS", 1 if walk else 10_000)
    titles = [t.case.title for t in queries.list_tasks(session, actor=eng)]
    assert titles == ["case 4", "case 2", "case 0", "case 3"]  # soonest due first, no due time last
    assert [t.case.title for t in queries.list_tasks(session, actor=eng, limit=2, offset=2)] == ["case 0", "case 3"]
    assert [t.case.title for t in queries.list_tasks(session, actor=desk)] == ["case 8", "case 7", "case 5", "case 6"]
    assert [t.case.title for t in queries.list_tasks(session, actor=other, scope="mine")] == ["case 1"]
