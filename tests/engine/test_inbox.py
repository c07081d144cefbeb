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
