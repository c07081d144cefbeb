"""External tasks (#16): jobs for outside workers, on SQLite and PostgreSQL.

Time moves with the engine clock (clock.frozen), never by sleeping."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import queries, services
from engine.errors import Conflict, InvalidData, NotAllowed
from engine.jobs import external_tasks as jobs
from engine.timing import clock
from models import AuditEvent, ExternalTask
from tests.engine.interop_helpers import complete, db_session, deploy_files, person, ready

__all__ = ["db_session"]

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
ARCHIVE = [{"topicName": "archive", "lockDuration": 60_000}]


def _at(seconds: float):
    return clock.frozen(T0 + dt.timedelta(seconds=seconds))


def _events(session, key, *types):
    case = queries.find_case(session, key)
    rows = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
    return [(e.type, e.task, e.data) for e in rows if e.type in types]


@pytest.fixture
def archive(db_session):
    """A case waiting at its external task; the worker (a staff integration user) and the process owner."""
    bot = person(db_session, "archiver", "engineer")
    owner = person(db_session, "olga", "process_owner")
    with _at(0):
        deploy_files(db_session, "external/archive_job.bpmn", actor=owner)
        case = services.start_case(db_session, "archive_job", {"document": "contract.pdf"}, actor=bot)
    return case, bot, owner


def _fetch(session, actor, worker="w1", seconds=0.0, most=10):
    with _at(seconds):
        return jobs.fetch_and_lock(session, worker, ARCHIVE, most, actor=actor)


def test_an_external_task_waits_as_a_job_and_completing_it_moves_the_case_on(db_session, archive):
    case, bot, _owner = archive
    row = db_session.scalars(select(ExternalTask).where(ExternalTask.case_id == case.id)).one()
    assert (row.element_id, row.topic, row.worker_id, row.retries) == ("archive", "archive", None, None)
    assert ready(db_session, case.key) == []  # nobody's inbox: the worker does it
    [locked] = _fetch(db_session, bot)
    assert (locked.job.id, locked.case_key, locked.variables["document"]) == (row.id, case.key, "contract.pdf")
    assert locked.job.locked_until == T0 + dt.timedelta(minutes=1) and locked.job.worker_id == "w1"
    assert _fetch(db_session, bot, "w2", 30) == []  # locked for w1
    with _at(40):
        jobs.complete(db_session, row.id, "w1", {"archive_ref": "A-17"}, actor=bot)
    moved = queries.find_case(db_session, case.key)
    assert moved.data["archive_ref"] == "A-17" and ready(db_session, case.key) == ["check"]
    assert db_session.scalars(select(ExternalTask).where(ExternalTask.case_id == case.id)).all() == []
    [(_kind, task, data)] = _events(db_session, case.key, "external_task_completed")
    assert (task, data["worker"], data["variables"], data["topic"]) == ("archive", "w1", {"archive_ref": "A-17"},
                                                                         "archive")
    complete(db_session, case.key, "check", bot, {"note": "ok"})
    assert queries.find_case(db_session, case.key).status == "closed"


def test_only_the_worker_holding_an_unexpired_lock_may_complete(db_session, archive):
    case, bot, _owner = archive
    other = person(db_session, "other_bot", "engineer")
    [locked] = _fetch(db_session, bot)
    job_id = locked.job.id
    with _at(10), pytest.raises(Conflict, match=f"external task {job_id} is locked by another worker \\(w1\\)"):
        jobs.complete(db_session, job_id, "w2", {}, actor=bot)
    with _at(10), pytest.raises(Conflict, match="locked by another worker"):
        jobs.complete(db_session, job_id, "w1", {}, actor=other)  # the same worker id from another user
    with _at(61), pytest.raises(Conflict, match=r"the lock of worker w1 on external task .* expired"):
        jobs.complete(db_session, job_id, "w1", {}, actor=bot)
    assert ready(db_session, case.key) == []


def test_a_killed_workers_lock_expires_and_another_worker_gets_the_job(db_session, archive):
    case, bot, _owner = archive
    [first] = _fetch(db_session, bot, "w1", 0)
    assert _fetch(db_session, bot, "w2", 59.9) == []
    [again] = _fetch(db_session, bot, "w2", 60)  # w1 died: its lock ran out
    assert again.job.id == first.job.id and again.job.worker_id == "w2"
    with _at(61):
        jobs.complete(db_session, again.job.id, "w2", {}, actor=bot)
    assert ready(db_session, case.key) == ["check"]


def test_a_failure_with_retries_is_fetchable_again_after_the_timeout_not_before(db_session, archive):
    case, bot, _owner = archive
    [locked] = _fetch(db_session, bot)
    with _at(5):
        job = jobs.report_failure(db_session, locked.job.id, "w1", "archive server down", 2, 30_000, actor=bot)
    assert (job.retries, job.error_message, job.worker_id) == (2, "archive server down", None)
    assert _fetch(db_session, bot, "w1", 34.9) == []
    [again] = _fetch(db_session, bot, "w1", 35)
    assert again.job.id == locked.job.id and again.job.retries == 2
    [(_k, task, data)] = _events(db_session, case.key, "external_task_failed")
    assert (task, data["message"], data["retries"], data["retry_timeout_ms"]) == ("archive", "archive server down",
                                                                                  2, 30_000)


def test_retries_run_out_the_job_needs_attention_until_a_process_owner_retries_it(db_session, archive):
    case, bot, owner = archive
    [locked] = _fetch(db_session, bot)
    with _at(5):
        jobs.report_failure(db_session, locked.job.id, "w1", "disk full on the archive", 0, 0, actor=bot)
    assert _fetch(db_session, bot, "w1", 3600) == []  # no worker gets it any more
    [listed] = jobs.list_jobs(db_session, process_key="archive_job", actor=owner)
    assert (listed.case_key, listed.job.error_message, listed.job.retries) == (case.key, "disk full on the archive", 0)
    assert [x.case_key for x in jobs.list_jobs(db_session, case_ref=case.key, actor=owner)] == [case.key]
    with pytest.raises(NotAllowed, match="is for the groups Administrator, Process owner"):
        jobs.retry(db_session, locked.job.id, 3, actor=bot)
    with _at(3600):
        jobs.retry(db_session, locked.job.id, 3, actor=owner)
    assert jobs.list_jobs(db_session, process_key="archive_job", actor=owner) == []
    [again] = _fetch(db_session, bot, "w1", 3601)
    assert again.job.retries == 3
    [(_k, _t, data)] = _events(db_session, case.key, "external_task_retried")
    assert (data["retries"], data["last_error"]) == (3, "disk full on the archive")
    with pytest.raises(Conflict, match="does not need attention"):
        jobs.retry(db_session, locked.job.id, 3, actor=owner)


def test_a_bpmn_error_is_caught_by_the_boundary_error_event(db_session, archive):
    case, bot, _owner = archive
    [locked] = _fetch(db_session, bot)
    with _at(5):
        jobs.throw_error(db_session, locked.job.id, "w1", "ARCHIVE_FULL", "no space left", {"freed": 0}, actor=bot)
    assert ready(db_session, case.key) == ["make_room"]
    assert queries.find_case(db_session, case.key).data["freed"] == 0
    assert db_session.scalars(select(ExternalTask).where(ExternalTask.case_id == case.id)).all() == []
    [(_k, task, data)] = _events(db_session, case.key, "external_task_error")
    assert (task, data["code"], data["message"], data["caught_by"]) == ("archive", "ARCHIVE_FULL", "no space left",
                                                                        ["full"])


def test_an_error_code_nobody_catches_is_refused_and_the_job_is_unchanged(db_session, archive):
    case, bot, _owner = archive
    [locked] = _fetch(db_session, bot)
    with _at(5), pytest.raises(InvalidData, match="no error event catches error code 'NO_SUCH' thrown from archive"):
        jobs.throw_error(db_session, locked.job.id, "w1", "NO_SUCH", actor=bot)
    row = db_session.get(ExternalTask, locked.job.id)
    assert (row.worker_id, row.locked_until) == ("w1", T0 + dt.timedelta(minutes=1))
    assert _events(db_session, case.key, "external_task_error") == []
    with _at(6):
        jobs.complete(db_session, locked.job.id, "w1", {}, actor=bot)  # the worker may still finish it
    assert ready(db_session, case.key) == ["check"]


@pytest.mark.parametrize(("body", "field"), [
    ({"worker_id": "", "topics": ARCHIVE, "max_tasks": 1}, "workerId"),
    ({"worker_id": "w", "topics": [], "max_tasks": 1}, "topics"),
    ({"worker_id": "w", "topics": [{"topicName": "archive", "lockDuration": -1}], "max_tasks": 1},
     "topics[0].lockDuration"),
    ({"worker_id": "w", "topics": ARCHIVE, "max_tasks": 0}, "maxTasks"),
])
def test_a_bad_fetch_names_the_field(db_session, archive, body, field):
    _case, bot, _owner = archive
    with pytest.raises(InvalidData) as refused:
        jobs.fetch_and_lock(db_session, body["worker_id"], body["topics"], body["max_tasks"], actor=bot)
    assert field in refused.value.details


def test_requesters_and_auditors_do_not_work_jobs(db_session, archive):
    _case, _bot, _owner = archive
    for who in (person(db_session, "rita", "requester"), person(db_session, "aude", "auditor")):
        with pytest.raises(NotAllowed):
            jobs.fetch_and_lock(db_session, "w", ARCHIVE, 1, actor=who)
