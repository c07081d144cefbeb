"""External tasks (#16): Camunda 7's external-task pattern, the use cases outside workers call.

A case waiting at an external service task has a job row (engine.cases.external_jobs). A worker

* **fetches and locks** jobs by topic (`fetch_and_lock`): each job goes to one worker for the lock
  duration; two workers never lock the same job (one UPDATE that re-checks the lock; on PostgreSQL
  the candidate rows are picked with FOR UPDATE SKIP LOCKED). A lock that expired (the worker died)
  makes the job fetchable again;
* **completes** it with variables (`complete`): they become case data and the case moves on;
* reports a **failure** (`report_failure`) with the retries left and a retry timeout: the job is
  fetchable again after the timeout; with no retries left it **needs attention**: no worker gets it
  until a process owner retries it (`retry`), and the case page and the process page show it
  with the error message;
* throws a **BPMN error** (`throw_error`) with a code: a boundary error event on the task (or on a
  sub-process around it) with that code catches it; a code nobody catches is refused, job unchanged.

Only the worker holding an unexpired lock (the same worker id, sent by the same user) may complete,
fail or throw; anyone else gets Conflict. Time is the engine clock's. Who may call: staff with a
token or session that may write, not an auditor; retrying is for process owners and admins. Each
completion, failure, error and retry is audited on the case (`external_task_completed`,
`external_task_failed`, `external_task_error`, `external_task_retried`).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from engine import db
from engine.cases import external_jobs, persistence, queries, services, stepping
from engine.errors import Conflict, InvalidData, NotAllowed, NotFound, said
from engine.people import roles
from engine.processes import external, specs
from engine.records import audit
from engine.timing import clock
from models import Case, ExternalTask, User

log = logging.getLogger(__name__)

MAX_TASKS = 100
MAX_LOCK = dt.timedelta(days=1)
MAX_RETRY_TIMEOUT = dt.timedelta(days=7)
MAX_RETRIES = 1000
MAX_TEXT = 200
MAX_MESSAGE = 4000


@dataclass(frozen=True)
class LockedJob:
    """A job a worker has locked: the row, its case's key and the variables it gets."""

    job: ExternalTask
    case_key: str
    process_key: str
    variables: dict[str, Any]


@dataclass(frozen=True)
class Topic:
    """One topic a worker asks for: its name, how long to lock its jobs, which variables to send (None: all)."""

    name: str
    lock: dt.timedelta
    variables: tuple[str, ...] | None = None


# ------------------------------------------------------------------ input


def _check_worker(actor: User) -> None:
    roles.check_may_write(actor)
    if not roles.staff_groups(actor):
        raise NotAllowed("role: external tasks are worked by staff and integrations, not by requesters")


def _text(value: Any, field: str, problems: dict[str, list[str]], most: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        problems[field] = [f"must be text of 1 to {most} characters"]
        return ""
    return value.strip()


def _count(value: Any, field: str, problems: dict[str, list[str]], *, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        problems[field] = [f"must be a whole number from {least} to {most:,}"]
        return least
    return value


def _millis(value: Any, field: str, problems: dict[str, list[str]], *, least: int, most: dt.timedelta) -> dt.timedelta:
    ceiling = int(most.total_seconds() * 1000)
    return dt.timedelta(milliseconds=_count(value, field, problems, least=least, most=ceiling))


def _variables(value: Any, field: str, problems: dict[str, list[str]]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k.isidentifier() and not k.startswith("_")
                                                 for k in value):
        problems[field] = ["must be an object of case data fields (names that are identifiers, not starting with _)"]
        return {}
    clash = services.RESERVED & set(value)
    if clash:
        problems[field] = [f"{', '.join(sorted(clash))} is set by the engine"]
    return dict(value)


def _raise(problems: dict[str, list[str]], what: str) -> None:
    if problems:
        raise InvalidData(f"invalid {what}: " + "; ".join(f"{k} {v[0]}" for k, v in problems.items()), problems)


def topics_of(raw: Any) -> list[Topic]:
    """Read the topics of a fetch-and-lock request: [{topicName, lockDuration (ms), variables?}]."""
    problems: dict[str, list[str]] = {}
    if not isinstance(raw, list) or not raw or len(raw) > 50:
        _raise({"topics": ["must be a list of 1 to 50 topics, each {topicName, lockDuration}"]}, "fetch")
    out = []
    for index, each in enumerate(raw):
        if not isinstance(each, Mapping):
            problems[f"topics[{index}]"] = ["must be an object {topicName, lockDuration}"]
            continue
        name = _text(each.get("topicName"), f"topics[{index}].topicName", problems)
        lock = _millis(each.get("lockDuration"), f"topics[{index}].lockDuration", problems, least=1, most=MAX_LOCK)
        names = each.get("variables")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            problems[f"topics[{index}].variables"] = ["must be a list of case data field names"]
            names = None
        out.append(Topic(name, lock, tuple(names) if names is not None else None))
    _raise(problems, "fetch")
    return out


# ------------------------------------------------------------------ fetch and lock


def _fetchable(now: dt.datetime) -> Any:
    return and_(or_(ExternalTask.locked_until.is_(None), ExternalTask.locked_until <= now),
                or_(ExternalTask.retries.is_(None), ExternalTask.retries > 0))


def _lock(session: Session, topic: Topic, worker_id: str, actor: User, limit: int, now: dt.datetime) -> list[int]:
    """Lock up to `limit` jobs of a topic for the worker in one statement; return their ids.

    The UPDATE re-checks that each row is still fetchable, so on SQLite (one writer at a time) a
    row two workers both saw goes to one of them; on PostgreSQL the candidates are picked with FOR
    UPDATE SKIP LOCKED, so concurrent workers take different rows instead of waiting on each other."""
    candidates = (select(ExternalTask.id).where(ExternalTask.topic == topic.name, _fetchable(now))
                  .order_by(ExternalTask.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (update(ExternalTask).where(ExternalTask.id.in_(candidates.scalar_subquery()), _fetchable(now))
            .values(worker_id=worker_id, worker_user_id=actor.id, locked_until=now + topic.lock)
            .returning(ExternalTask.id).execution_options(synchronize_session=False))
    return sorted(session.scalars(stmt))


def fetch_and_lock(session: Session, worker_id: Any, topics: Any, max_tasks: Any, *, actor: User) -> list[LockedJob]:
    """Lock up to `max_tasks` jobs of the given topics for a worker; return them with their variables."""
    _check_worker(actor)
    problems: dict[str, list[str]] = {}
    worker = _text(worker_id, "workerId", problems)
    most = _count(max_tasks, "maxTasks", problems, least=1, most=MAX_TASKS)
    _raise(problems, "fetch")
    wanted = topics_of(topics)
    db.begin_write(session)  # SQLite: fetches take turns (PostgreSQL: SKIP LOCKED below)
    now = clock.now()
    locked: list[tuple[int, Topic]] = []
    for topic in wanted:
        if len(locked) >= most:
            break
        locked += [(job_id, topic) for job_id in _lock(session, topic, worker, actor, most - len(locked), now)]
    if not locked:
        return []
    by_id = dict(locked)
    rows = session.execute(select(ExternalTask, Case.key, Case.process_key, Case.data)
                           .join(Case, Case.id == ExternalTask.case_id)
                           .where(ExternalTask.id.in_(by_id)).order_by(ExternalTask.id)
                           .execution_options(populate_existing=True))
    out = []
    for job, key, process_key, data in rows:
        names = by_id[job.id].variables
        data = dict(data or {})
        variables = data if names is None else {n: data[n] for n in names if n in data}
        out.append(LockedJob(job, key, process_key, variables))
    log.info("worker %s locked %d external tasks", worker, len(out))
    return out


# ------------------------------------------------------------------ the locked job's worker acts


def _locked_job(session: Session, job_id: int, worker_id: str, actor: User) -> tuple[ExternalTask, Case]:
    """The job, if this worker holds an unexpired lock on it; else NotFound or Conflict saying why."""
    db.begin_write(session)
    query = select(ExternalTask).where(ExternalTask.id == job_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # a fetch skips it while we act
    job = session.scalars(query).first()
    if job is None:
        raise NotFound(f"no external task {job_id}: it was completed, or its case moved on or ended")
    now = clock.now()
    if job.worker_id is None or job.locked_until is None:
        raise Conflict(f"external task {job_id} is not locked: fetch and lock it first")
    if job.worker_id != worker_id or job.worker_user_id != actor.id:
        raise Conflict(f"external task {job_id} is locked by another worker ({job.worker_id})")
    if job.locked_until <= now:
        raise Conflict(f"the lock of worker {worker_id} on external task {job_id} expired at "
                       f"{job.locked_until.isoformat()}: fetch and lock it again")
    case = session.get(Case, job.case_id)
    if case is None or case.status != "open":
        raise NotFound(f"no external task {job_id}: its case has ended")
    return job, case


def _started_task(instance: stepping.Instance, job: ExternalTask) -> Any:
    task = instance.workflow.get_task_from_id(UUID(job.task_id))
    if task is None or task.state != TaskState.STARTED or not external.is_external(task):
        raise Conflict(f"external task {job.id} no longer waits: its case moved on; reload it")
    return task


def _job_data(job: ExternalTask, worker_id: str, **more: Any) -> dict[str, Any]:
    return {"job": job.id, "topic": job.topic, "worker": worker_id, **more}


@services.race_safe
def complete(session: Session, job_id: int, worker_id: Any, variables: Any = None, *, actor: User) -> Case:
    """Complete a locked job with variables (they become case data); the case moves on."""
    _check_worker(actor)
    problems: dict[str, list[str]] = {}
    worker = _text(worker_id, "workerId", problems)
    data = _variables(variables, "variables", problems)
    _raise(problems, "completion")
    job, case = _locked_job(session, job_id, worker, actor)
    instance = persistence.open_instance(session, case)
    task = _started_task(instance, job)
    element = job.element_id
    stepping.finish_task(instance, task, data)
    audit.append(session, case, actor=actor, type="external_task_completed", task=element,
                 data=_job_data(job, worker, variables=data))
    persistence.save(session, instance, actor=actor)
    services.flush(session)
    log.info("external task %s (%s) of %s completed by %s", job_id, element, case.key, worker)
    return case


@services.race_safe
def report_failure(session: Session, job_id: int, worker_id: Any, error_message: Any, retries: Any,
                   retry_timeout: Any = 0, *, actor: User, error_details: Any = None) -> ExternalTask:
    """Record a worker's failure: fetchable again after `retry_timeout` (ms) while retries are left;
    with none left, the job needs attention until a process owner retries it."""
    _check_worker(actor)
    problems: dict[str, list[str]] = {}
    worker = _text(worker_id, "workerId", problems)
    message = _text(error_message, "errorMessage", problems, MAX_MESSAGE)
    left = _count(retries, "retries", problems, least=0, most=MAX_RETRIES)
    wait = _millis(retry_timeout or 0, "retryTimeout", problems, least=0, most=MAX_RETRY_TIMEOUT)
    if error_details is not None and (not isinstance(error_details, str) or len(error_details) > MAX_MESSAGE):
        problems["errorDetails"] = [f"must be text of at most {MAX_MESSAGE} characters"]
    _raise(problems, "failure")
    job, case = _locked_job(session, job_id, worker, actor)
    now = clock.now()
    job.retries, job.error_message, job.failed_at = left, message, now
    job.worker_id, job.worker_user_id = None, None
    job.locked_until = now + wait if left > 0 and wait else None
    audit.append(session, case, actor=actor, type="external_task_failed", task=job.element_id,
                 data=_job_data(job, worker, message=message, retries=left, retry_timeout_ms=wait // dt.timedelta(
                     milliseconds=1), **({"details": error_details} if error_details else {})))
    case.updated_at = now
    services.flush(session)
    log.info("external task %s of %s failed (%d retries left): %s", job_id, case.key, left, message)
    return job


def _catchers(instance: stepping.Instance, task: Any, code: str) -> list[Any]:
    """The waiting error events that catch `code` thrown from the task, as SpiffWorkflow looks for
    them: in the task's own (sub-)process first (its boundary error events), else in the process
    around it (a boundary error event on the sub-process or call activity), and so on outwards."""
    workflow = task.workflow
    waiting = list(instance.workflow.event_manager.tasks.values())
    while workflow is not None:
        found = [t for t in waiting if t.workflow is workflow
                 and isinstance(definition := getattr(t.task_spec, "event_definition", None), ErrorEventDefinition)
                 and t.task_spec.catches(t, BpmnEvent(type(definition)(code, code=code)))]
        if found:
            return found
        workflow = workflow.parent_workflow
    return []


@services.race_safe
def throw_error(session: Session, job_id: int, worker_id: Any, error_code: Any, error_message: Any = None,
                variables: Any = None, *, actor: User) -> Case:
    """Throw a BPMN error from a locked job: the error event that catches its code takes the case on."""
    _check_worker(actor)
    problems: dict[str, list[str]] = {}
    worker = _text(worker_id, "workerId", problems)
    code = _text(error_code, "errorCode", problems)
    message = None
    if error_message is not None:
        message = _text(error_message, "errorMessage", problems, MAX_MESSAGE)
    data = _variables(variables, "variables", problems)
    _raise(problems, "BPMN error")
    job, case = _locked_job(session, job_id, worker, actor)
    instance = persistence.open_instance(session, case)
    task = _started_task(instance, job)
    catchers = _catchers(instance, task, code)
    if not catchers:
        raise InvalidData(f"no error event catches error code {code!r} thrown from {job.element_id} in case "
                          f"{case.key}: add a boundary error event with that code to the task, or report a failure "
                          "instead", {"errorCode": [f"{code!r} is not caught at {job.element_id}"]})
    for each in catchers:
        each.set_data(**data)  # the catching event's data: what the path after it reads
    definition = catchers[0].task_spec.event_definition
    stepping.throw(instance, task, BpmnEvent(type(definition)(code, code=code), payload=data, target=task.workflow))
    audit.append(session, case, actor=actor, type="external_task_error", task=job.element_id,
                 data=_job_data(job, worker, code=code, message=message, variables=data,
                                caught_by=sorted({str(c.task_spec.bpmn_id) for c in catchers})))
    persistence.save(session, instance, actor=actor)
    services.flush(session)
    log.info("external task %s of %s threw BPMN error %s", job_id, case.key, code)
    return case


# ------------------------------------------------------------------ needs attention


@services.race_safe
def retry(session: Session, job_id: int, retries: Any = 1, *, actor: User) -> ExternalTask:
    """Give a job that needs attention new retries (process owners and admins): workers get it again."""
    roles.check_may_write(actor)
    roles.check_role(actor, "process_owner", "admin", action=said("Retrying an external task"))
    problems: dict[str, list[str]] = {}
    count = _count(retries, "retries", problems, least=1, most=MAX_RETRIES)
    _raise(problems, "retry")
    job = session.get(ExternalTask, job_id)
    if job is None:
        raise NotFound(f"no external task {job_id}: it was completed, or its case moved on or ended")
    if job.retries != 0:
        raise Conflict(f"external task {job_id} does not need attention: workers can fetch it")
    case = session.get(Case, job.case_id)
    if case is None:
        raise NotFound(f"no external task {job_id}")
    job.retries, job.locked_until = count, None
    audit.append(session, case, actor=actor, type="external_task_retried", task=job.element_id,
                 data={"job": job.id, "topic": job.topic, "retries": count, "last_error": job.error_message})
    case.updated_at = clock.now()
    services.flush(session)
    return job


@dataclass(frozen=True)
class Listed:
    """A job with its case, as pages and the API list it."""

    job: ExternalTask
    case_key: str
    case_title: str
    process_key: str
    definition_id: int  # the case's process version


def list_jobs(session: Session, *, actor: User, case_ref: str | None = None, process_key: str | None = None,
              attention_only: bool = True, limit: int = 200) -> list[Listed]:
    """Jobs that need attention (retries ran out), or every job: of one case, of one process, or all.

    A case named must be one the actor may read; any other list is for staff."""
    query = (select(ExternalTask, Case.key, Case.title, Case.process_key, Case.definition_id)
             .join(Case, Case.id == ExternalTask.case_id)
             .order_by(ExternalTask.id).limit(limit))
    if attention_only:
        query = query.where(ExternalTask.retries == 0)
    if case_ref is not None:
        query = query.where(ExternalTask.case_id == queries.get_case(session, case_ref, actor=actor).id)
    elif not roles.staff_groups(actor):
        raise NotAllowed("role: the list of external tasks is for staff; name a case of yours (?case=KEY)")
    if process_key is not None:
        query = query.where(Case.process_key == process_key)
    return [Listed(*row) for row in session.execute(query)]


def attention_of_process(session: Session, process_key: str, *, actor: User) -> list[tuple[Listed, external_jobs.JobView]]:
    """The jobs of a process's open cases that need attention, for its page (staff see them; others
    see none): each process version's spec is loaded once for the names its jobs show."""
    if not roles.staff_groups(actor):
        return []
    listed = list_jobs(session, actor=actor, process_key=process_key)
    viewed: dict[int, external_jobs.JobView] = {}
    for definition_id in {each.definition_id for each in listed}:
        jobs = [each.job for each in listed if each.definition_id == definition_id]
        for view in external_jobs.views(specs.load_by_id(session, definition_id), jobs):
            viewed[view.job.id] = view
    return [(each, viewed[each.job.id]) for each in listed]
