"""The read an action on a task starts with (engine.cases.action_read): the objects it gives are
the session's, as a query would give them."""
from __future__ import annotations

from sqlalchemy import inspect, select

from engine.cases import action_read, services
from models import Case, HumanTask
from tests.conftest import statements
from tests.engine.test_services import start, task_of


def _columns(obj: object) -> dict:
    mapper = inspect(type(obj))
    return {attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs}


def test_a_fresh_session_gets_clean_persistent_objects_equal_to_a_query(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    task_id = task_of(session, case, "triage").id
    session.flush()
    session.expunge_all()
    with statements(session) as seen:
        read = action_read.task_with_case(session, task_id)
    assert seen == ["SELECT human_task"]
    assert read is not None
    task, got = read
    for obj in (task, got):
        state = inspect(obj)
        assert state.persistent and not state.modified and not state.unloaded - {"case", "assignee",
                                                                                 "completed_by", "definition",
                                                                                 "requester"}
    assert session.get(HumanTask, task_id) is task and session.get(Case, case.id) is got
    expected_task, expected_case = (_columns(o) for o in session.execute(
        select(HumanTask, Case).join(Case, Case.id == HumanTask.case_id).where(HumanTask.id == task_id)
        .execution_options(populate_existing=True)).one())
    assert _columns(task) == expected_task and _columns(got) == expected_case
    assert action_read.task_with_case(session, "no-such-task") is None


def test_objects_the_session_holds_are_kept_and_what_they_lack_is_filled_in(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    task = task_of(session, case, "triage")
    session.flush()
    case.title = "changed, not flushed"  # a query leaves a held object's values alone ...
    session.expire(task, ["state", "candidate_groups"])  # ... and loads what it has expired
    with statements(session) as seen:
        read = action_read.task_with_case(session, task.id)
        assert read == (task, case)
        assert task.state == "ready" and task.candidate_groups == ["service_desk"]
    assert seen == ["SELECT human_task"]
    assert case.title == "changed, not flushed"


def test_an_action_on_a_freshly_read_case_writes_it_under_its_version(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    task_id = task_of(session, case, "triage").id
    session.flush()
    version = case.version_id
    session.expunge_all()
    done = services.complete_task(session, task_id, {"category": "software"}, actor=people["desk"])
    session.flush()
    assert not inspect(done).modified
    assert session.scalar(select(Case.version_id).where(Case.id == done.id)) == version + 1 == done.version_id
    assert session.get(HumanTask, task_id).state == "completed"
