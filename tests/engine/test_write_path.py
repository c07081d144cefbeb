"""The case-action write path: which statements one completion runs, what they leave in the session,
and how a lost race ends (Conflict, nothing written)."""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import prepared
from engine.cases import persistence, serializer, services
from engine.errors import Conflict
from engine.processes import specs
from models import AuditEvent, Case, HumanTask, HumanTaskGroup
from tests.conftest import rolled_back_session, statements
from tests.engine.test_services import start, task_of


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, sqlite_engine: Engine) -> Iterator[Session]:
    """Each test on SQLite and, when configured, on PostgreSQL (rolled back after)."""
    engine = sqlite_engine if request.param == "sqlite" else request.getfixturevalue("pg_engine")
    with rolled_back_session(engine) as sess:
        yield sess


def _row(session, sql: str, **params):
    return session.execute(text(sql), params).one()


def _sent(session: Session, sqlite: list[str], postgres: list[str]) -> list[str]:
    """The statements of one action as the dialect sends them. On PostgreSQL the same writes are
    held to the end of the use case and sent together in one pipeline, one round trip
    (prepared.holding), in the deferred window's order: the case row first, then the events,
    the task rows and the task lists; the rows of one statement go as one executemany."""
    return postgres if session.get_bind().dialect.name == "postgresql" else sqlite


def test_one_completion_runs_five_statements(session, deploy, people):
    """The hot path's statement budget. Adding a statement here costs every action a round
    trip on SQLite's path and server work on PostgreSQL's: if this fails, look for a read the
    action already holds or a write that can join another (README, Performance)."""
    deploy("four_steps.bpmn")
    case = start(session, people)
    triage = task_of(session, case, "triage").id
    session.expunge_all()  # as a request starts: nothing loaded yet
    with statements(session) as seen:
        services.complete_task(session, triage, {"category": "software"}, actor=people["desk"])
    assert seen == _sent(session, [
        "SELECT human_task",        # the task with its case, one read
        "INSERT audit_event",       # task_completed, with its hash
        "INSERT human_task",        # the next task's row; the completed one ended in the same statement
        "INSERT human_task_group",  # the next task's candidate groups
        "UPDATE case",              # the case row, guarded by its version
    ], [
        "SELECT human_task",        # the same statements; the four writes in one pipeline
        "UPDATE case", "INSERT audit_event", "INSERT human_task", "INSERT human_task_group",
    ])


def test_an_actions_writes_go_in_one_pipeline_on_postgresql(session, deploy, people, monkeypatch):
    """On PostgreSQL the writes of one completion reach the server in one psycopg pipeline (one
    round trip) instead of one round trip each; on SQLite, with no round trips to save, each
    write runs when the action makes it."""
    deploy("four_steps.bpmn")
    case = start(session, people)
    triage = task_of(session, case, "triage").id
    session.expunge_all()
    with _pipelines(session, monkeypatch) as pipelines:
        services.complete_task(session, triage, {"category": "software"}, actor=people["desk"])
    assert pipelines == _sent(session, [], [
        ["UPDATE case", "INSERT audit_event", "INSERT human_task", "INSERT human_task_group"]])
    assert task_of(session, case, "diagnose").state == "ready"


@contextlib.contextmanager
def _pipelines(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The statements of each psycopg pipeline run inside the block, one list a pipeline."""
    pipelines: list[list[str]] = []
    real = psycopg.Connection.pipeline

    @contextlib.contextmanager
    def watched(self: psycopg.Connection) -> Iterator[Any]:
        with statements(session) as inside, real(self) as pipeline:
            pipelines.append(inside)
            yield pipeline

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.Connection, "pipeline", watched)
        yield pipelines


def test_separation_of_duties_reads_a_named_user_once_per_process(session, deploy, people):
    """approve_fix bars whoever did diagnose: its bar row needs that person's id, read by name
    the first time and then known (a name always names the same user: engine.memo)."""
    deploy("four_steps.bpmn")
    budget = ["SELECT human_task", "INSERT audit_event", "INSERT human_task", "INSERT human_task_group",
              "INSERT human_task_bar", "UPDATE case"]
    for first in (True, False):
        case = start(session, people)
        services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"},
                               actor=people["desk"])
        diagnose = task_of(session, case, "diagnose").id
        session.expunge_all()
        with statements(session) as seen:
            services.complete_task(session, diagnose, {"diagnosis": "d"}, actor=people["eng"])
        if session.get_bind().dialect.name == "postgresql":
            # The same statements, held and sent together; the first time, the read of the user
            # sends what is held before it, so the action's writes take two round trips.
            held = ["UPDATE case", *budget[1:5]]
            assert seen == (["SELECT human_task", *budget[1:4], "SELECT user", "UPDATE case", "INSERT human_task_bar"]
                            if first else ["SELECT human_task", *held])
        else:
            assert seen == (budget[:4] + ["SELECT user"] + budget[4:] if first else budget)
        approve = task_of(session, case, "approve_fix").id
        barred = session.scalars(text("SELECT user_id FROM human_task_bar WHERE task_id = :t ORDER BY user_id"),
                                 {"t": approve}).all()
        assert barred == sorted([people["eng"].id, people["req"].id])  # the diagnoser and the requester


def test_the_last_completion_ends_its_task_and_closes_the_case(session, deploy, people, monkeypatch):
    deploy("four_steps.bpmn")
    case = start(session, people)
    for element, data, who in [("triage", {"category": "software"}, "desk"), ("diagnose", {"diagnosis": "d"}, "eng"),
                               ("approve_fix", {"decision": "approve"}, "cm")]:
        services.complete_task(session, task_of(session, case, element).id, data, actor=people[who])
    implement = task_of(session, case, "implement").id
    with statements(session) as seen, _pipelines(session, monkeypatch) as pipelines:
        services.complete_task(session, implement, {"result": "done"}, actor=people["eng2"])
    assert seen == _sent(session, [
        "SELECT human_task", "INSERT audit_event", "INSERT audit_event", "INSERT human_task", "UPDATE case",
        "INSERT case_fact",  # what the evaluation reads of the ended case (engine.processes.case_facts),
        "INSERT case_fact_month"], [  # and the month summary counting it (engine.processes.fact_summary)
        # the same statements, the writes in one pipeline (both events in one executemany), the
        # facts last: they read the case row and the events written before them
        "SELECT human_task", "UPDATE case", "INSERT audit_event", "INSERT human_task",
        "INSERT case_fact", "INSERT case_fact_month"])
    assert pipelines == _sent(session, [], [seen[1:]])  # one round trip for every write
    assert _row(session, "SELECT state, completed_by_id FROM human_task WHERE id = :id", id=implement) == \
        ("completed", people["eng2"].id)
    assert case.status == "closed"
    assert _row(session, "SELECT status, outcome FROM case_fact WHERE case_id = :id", id=case.id) == \
        ("closed", case.outcome)


def test_after_a_completion_the_session_holds_what_the_database_holds(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    task = task_of(session, case, "triage")
    version = case.version_id
    services.complete_task(session, task.id, {"category": "software"}, actor=people["desk"])
    # Nothing left for a flush to write: the objects are clean ...
    assert not session.dirty and not inspect(case).modified and not inspect(task).modified
    # ... and say what the rows say.
    stored = _row(session, 'SELECT version_id, audit_seq, audit_head, state, status FROM "case" WHERE id = :id',
                  id=case.id)
    assert stored == (case.version_id, case.audit_seq, case.audit_head, case.state, case.status)
    assert case.version_id == version + 1
    assert case.actors == {"triage": ["sam"]}
    stored_task = session.get(HumanTask, task.id)
    assert stored_task is task and (task.state, task.completed_by_id, task.assignee_id) == \
        ("completed", people["desk"].id, people["desk"].id)
    state, ended = _row(session, "SELECT state, ended_at IS NOT NULL FROM human_task WHERE id = :id", id=task.id)
    assert (state, bool(ended)) == ("completed", True)
    diagnose = task_of(session, case, "diagnose")
    assert diagnose.candidate_groups == ["engineer"]
    assert list(session.scalars(select(HumanTaskGroup.group).where(HumanTaskGroup.task_id == diagnose.id))) == \
        ["engineer"]


def _written(session, case) -> tuple[int, int, int]:
    return (session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case.id)),
            session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.case_id == case.id)),
            session.scalar(select(Case.version_id).where(Case.id == case.id)))


def test_a_case_changed_meanwhile_is_conflict_and_nothing_is_written(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    triage = task_of(session, case, "triage").id
    # Another action saved the case after this one read it: the row's version moved on.
    session.execute(update(Case).where(Case.id == case.id).values(version_id=Case.version_id + 1)
                    .execution_options(synchronize_session=False))
    before = _written(session, case)
    attempt = session.begin_nested()
    with pytest.raises(Conflict, match="changed by someone else"):
        services.complete_task(session, triage, {"category": "software"}, actor=people["desk"])
    attempt.rollback()  # what the request does with a Conflict
    assert _written(session, case) == before
    assert _row(session, "SELECT state FROM human_task WHERE id = :id", id=triage) == ("ready",)


def test_a_task_ended_meanwhile_is_conflict_and_nothing_is_written(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    task = task_of(session, case, "triage")  # loaded as ready
    # Another action ended the task after this one read it (the object in memory still says ready).
    session.execute(update(HumanTask).where(HumanTask.id == task.id).values(state="cancelled")
                    .execution_options(synchronize_session=False))
    before = _written(session, case)
    attempt = session.begin_nested()
    with pytest.raises(Conflict, match="Triage is no longer ready"):
        services.complete_task(session, task.id, {"category": "software"}, actor=people["desk"])
    attempt.rollback()
    assert _written(session, case) == before


def test_write_case_writes_only_changed_columns_as_the_orm_would(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    version = case.version_id
    closed = dt.datetime(2026, 11, 27, 18, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    case.data = {**case.data, "note": "再次确认"}
    case.closed_at = closed
    with statements(session) as seen:
        persistence.write_case(session, case)
    assert seen == ["UPDATE case"]
    assert not inspect(case).modified and case.version_id == version + 1
    session.expire(case)  # read everything back from the row
    assert (case.data["note"], case.closed_at, case.version_id) == ("再次确认", closed, version + 1)
    assert case.closed_at.tzinfo == dt.timezone.utc


def test_write_case_leaves_a_relationship_change_to_the_unit_of_work(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    version = case.version_id
    case.requester = people["eng"]
    persistence.write_case(session, case)
    assert not session.dirty and case.version_id == version + 1
    assert session.scalar(select(Case.requester_id).where(Case.id == case.id)) == people["eng"].id


def test_a_new_task_whose_row_exists_is_conflict_and_the_row_is_kept(session, deploy, people):
    # The next task's id taken by a ready row already (a projection gone wrong): the old row,
    # its claim included, must survive, and the action must not half-write.
    deploy("four_steps.bpmn")
    case = start(session, people)
    workflow = serializer.restore(case.state, specs.load_by_id(session, case.definition_id))
    diagnose = next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "diagnose")
    session.execute(insert(HumanTask).values(
        id=str(diagnose.id), case_id=case.id, element_id="diagnose", name="Diagnose", candidate_groups=["engineer"],
        state="ready", created_at=case.created_at, assignee_id=people["eng"].id, claimed_at=case.created_at))
    before = _written(session, case)
    attempt = session.begin_nested()
    with pytest.raises(Conflict):  # (counted short, it reads as the completed task's race)
        services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"},
                               actor=people["desk"])
    attempt.rollback()
    assert _written(session, case) == before
    assert _row(session, "SELECT state, assignee_id FROM human_task WHERE id = :id", id=str(diagnose.id)) == \
        ("ready", people["eng"].id)


def test_an_integrity_error_in_held_writes_surfaces_as_today(session, deploy, people):
    """A held write the database refuses raises SQLAlchemy's IntegrityError when the window is
    sent (on PostgreSQL at the pipeline's sync, outside SQLAlchemy's execute, and wrapped as it
    would have been), and the window's other writes roll back with it."""
    deploy("four_steps.bpmn")
    case = start(session, people)
    triage = task_of(session, case, "triage")
    before = _written(session, case)
    attempt = session.begin_nested()
    with pytest.raises(IntegrityError), prepared.deferred(session) as held:
        persistence.write_case(session, _touched(case))
        persistence._INSERT_TASK_GROUPS.run(session, {"task_id": triage.id, "group": "service_desk"})  # there already
    assert held.failed
    attempt.rollback()
    assert _written(session, case) == before


def _touched(case: Case) -> Case:
    case.title = case.title + " (again)"
    return case
