"""Loading a case for an action and saving it back: the case row (guarded by its version), the
human-task projection (keeping claims), the timer projection and the SLA pause, all in the
caller's transaction. The process that saved a case last reuses its instance (instance_cache)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, inspect, literal_column, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import logcontext, prepared
from engine.cases.instance_cache import instances
from engine.cases.serializer import SERIALIZER_VERSION, dump, restore
from engine.cases.stepping import (
    Instance,
    current_data,
    live_tasks,
    ready_ids,
    sla_elements,
    timer_due_times,
)
from engine.config import settings
from engine.errors import Conflict
from engine.notifications import webhooks
from engine.processes import specs
from engine.records import audit
from engine.timing import clock
from engine.timing import timers as timer_events
from models import Case, HumanTask, HumanTaskGroup, Timer


def _cache_key(session: Session, case: Case) -> tuple[Any, int]:
    # By database and case: a process that talks to two databases (tests, the benchmark) keeps
    # their cases apart.
    return session.get_bind().engine, case.id


def open_instance(session: Session, case: Case) -> Instance:
    """Restore a case's workflow (from the instance cache when this process saved it last),
    for an action that saves it again. Read-only callers use `restore`."""
    logcontext.set_case(case.key)
    limit = settings(session).instance_cache
    cached = instances.take(_cache_key(session, case), case.definition_id, case.state, limit=limit)
    if cached is not None:
        loaded, workflow, ready, timers = cached
        return Instance(case, workflow, loaded, ready, timers)
    loaded = specs.load_by_id(session, case.definition_id)
    workflow = restore(case.state, loaded, settings(session))
    instance = Instance(case, workflow, loaded, ready_ids(workflow))
    instance.timers_before = _timer_rows(timer_events.waiting_timers(workflow, sla_elements(instance)))
    return instance


def _timer_rows(timers: list[timer_events.WaitingTimer]) -> frozenset[tuple[str, str, dt.datetime]]:
    return frozenset((t.task_id, t.kind, t.due_at) for t in timers)


def _closing(instance: Instance, data: dict[str, Any]) -> tuple[str, list[str]]:
    """Return the outcome and the records owed, from the end event reached (latest first)."""
    manifest = instance.loaded.manifest
    reached = [t for t in instance.workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent)
               if t.workflow is instance.workflow]
    outcome, required = None, None
    for task in sorted(reached, key=lambda t: t.last_state_change, reverse=True):
        rules = manifest.end_events.get(getattr(task.task_spec, "bpmn_id", None) or "")
        if rules is None:
            continue
        outcome = outcome or rules.outcome
        required = list(rules.required_records) if required is None and rules.required_records is not None \
            else required
    if required is None:
        required = list(manifest.process.required_records)
    return outcome or str(data.get("outcome") or "completed"), required


def save(session: Session, instance: Instance, *, actor: Any) -> None:
    """Write the instance back: state, data snapshot, status, and both projections."""
    case, workflow = instance.case, instance.workflow
    now = clock.now()
    live = live_tasks(workflow)
    data = current_data(workflow, live)
    ready = {str(t.id): t for t in live if t.state == TaskState.READY and t.task_spec.manual}
    # Pausing and projecting SLA clocks write into the instance: do both before serializing it.
    _track_pause(session, instance, ready.values(), now, actor)
    projected = timer_events.waiting_timers(workflow, sla_elements(instance))
    case.state = dump(workflow)
    if case.serializer_version != SERIALIZER_VERSION:
        case.serializer_version = SERIALIZER_VERSION
    case.data = json.loads(json.dumps(data, default=str))
    case.updated_at = now
    for column in ("priority", "system", "provider"):
        value = data.get(column)
        if value not in (None, "") and getattr(case, column) != str(value):
            setattr(case, column, str(value))
    if workflow.is_completed() and case.status == "open":
        case.outcome, required = _closing(instance, data)
        case.status = "cancelled" if case.outcome == "cancelled" else "closed"
        case.closed_at = now
        missing = [r for r in required if data.get(r) in (None, "")]
        audit.append(session, case, actor=actor, type="case_closed",
                     data={"outcome": case.outcome, "missing_records": missing})
        webhooks.emit(session, "case.closed", case)
    timers = timer_due_times(workflow)
    _project_tasks(session, instance, ready, timers, now)
    timer_rows = _project_timers(session, instance, projected)
    write_case(session, case)
    if case.status == "open":
        instances.put(_cache_key(session, case), case.definition_id, instance.loaded, case.state, workflow,
                      frozenset(ready), timer_rows, limit=settings(session).instance_cache)


_case_table = Case.__table__


# The columns a case action may write; the version column guards each write.
_CASE_COLUMNS = frozenset(c.key for c in _case_table.c if c.key not in ("id", "version_id"))


@functools.lru_cache(maxsize=256)
def _update_case(columns: tuple[str, ...]) -> prepared.Prepared:
    """A prepared UPDATE of the given case columns, matching only the version read.

    Only changed columns are written, as the unit of work would: an index whose columns an
    UPDATE does not name is left alone (SQLite rewrites every index an UPDATE names)."""
    return prepared.Prepared(
        update(_case_table)
        .where(_case_table.c.id == bindparam("_id"), _case_table.c.version_id == bindparam("_old"))
        .values({**{c: bindparam(c) for c in columns}, "version_id": bindparam("_new")}))


_task_table = HumanTask.__table__


_END_TASK_COLUMNS = ("state", "ended_at", "completed_by_id", "assignee_id", "claimed_at")


_END_TASK = prepared.Prepared(
    update(_task_table)
    .where(_task_table.c.id == bindparam("_id"), _task_table.c.state == literal_column("'ready'"))
    .values({c: bindparam(c) for c in _END_TASK_COLUMNS}))


# The rows a case action writes go in with prepared statements (engine.prepared): same
# transaction, none of the per-statement cost of the unit of work or of Core's execute.
_INSERT_TASK = prepared.insert(_task_table, ("id", "case_id", "element_id", "name", "lane", "candidate_groups",
                                             "state", "created_at", "due_at", "assignee_id", "claimed_at",
                                             "ended_at", "completed_by_id", "announced_at"))


_INSERT_TASK_GROUP = prepared.insert(HumanTaskGroup.__table__, ("task_id", "group"))


_INSERT_TIMER = prepared.insert(Timer.__table__, ("case_id", "definition_id", "task_id", "element_id", "kind",
                                                  "escalation", "due_at", "claimed_by", "claimed_until"))


_DELETE_TIMERS = prepared.Prepared(delete(Timer.__table__).where(Timer.__table__.c.case_id == bindparam("_case")))


def write_case(session: Session, case: Case) -> None:
    """Write a case with one prepared UPDATE guarded by its version.

    The unit of work would do the same with far more bookkeeping on the hottest path; the ORM
    object is then told its new committed values, so callers keep an accurate Case. An UPDATE
    that matches no row means another action won the race: Conflict, and the caller rolls back."""
    state = inspect(case)
    changed = state.committed_state
    if state.pending or state.transient or not changed.keys() <= _CASE_COLUMNS:
        session.flush([case])  # a new case, or a change only the unit of work knows how to write
        return
    if not changed:
        return
    old = case.version_id
    columns = tuple(sorted(changed))
    params = {c: getattr(case, c) for c in columns}
    if _update_case(columns).run(session, {**params, "_id": case.id, "_old": old, "_new": old + 1}) != 1:
        raise Conflict("the case was changed by someone else at the same time; reload it and try again")
    set_committed_value(case, "version_id", old + 1)
    _mark_written(session, case)


def _mark_written(session: Session, obj: Any) -> None:
    # What a flush does after writing a row: everything committed, nothing left to flush.
    # (SQLAlchemy's InstanceState._commit_all; pinned to SQLAlchemy < 2.2 in pyproject.)
    state = inspect(obj)
    state._commit_all(state.dict, session.identity_map)


@dataclass(frozen=True)
class TaskRow:
    """A human_task row as read, for an action that ends the task without an ORM object."""

    id: str
    case_id: int
    element_id: str
    name: str
    lane: str | None
    candidate_groups: Any
    assignee_id: int | None
    state: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    claimed_at: dt.datetime | None
    ended_at: dt.datetime | None
    completed_by_id: int | None
    announced_at: dt.datetime | None


def end_task(session: Session, task: HumanTask | TaskRow, *, state: str, ended_at: dt.datetime,
             completed_by_id: int | None = None) -> None:
    """Move a ready task row to its end state with one UPDATE that only a ready row matches
    (a HumanTask the session holds is told its new committed values)."""
    values = {"state": state, "ended_at": ended_at, "completed_by_id": completed_by_id,
              "assignee_id": task.assignee_id if task.assignee_id or completed_by_id is None else completed_by_id,
              "claimed_at": task.claimed_at if task.claimed_at or completed_by_id is None else ended_at}
    if _END_TASK.run(session, {**values, "_id": task.id}) != 1:
        raise Conflict(f"{task.name} is no longer ready")
    if isinstance(task, HumanTask):
        for key, value in values.items():
            set_committed_value(task, key, value)
        _mark_written(session, task)


def _project_tasks(session: Session, instance: Instance, ready: dict[str, Any],
                   timers: list[tuple[Any, dt.datetime]], now: dt.datetime) -> None:
    case = instance.case
    for task_id in instance.ready_before - set(ready):
        row = session.get(HumanTask, task_id)
        if row is not None and row.state == "ready":
            end_task(session, row, state="cancelled", ended_at=now)
    new = [task for task_id, task in ready.items() if task_id not in instance.ready_before]
    if not new:
        return
    # An SLA boundary timer attached to a task is that task's due time.
    due_by_parent: dict[Any, dt.datetime] = {}
    for timer_task, due in timers:
        parent = timer_task.parent.id if timer_task.parent is not None else None
        if parent is not None and (parent not in due_by_parent or due < due_by_parent[parent]):
            due_by_parent[parent] = due
    rows = []
    for task in new:
        element = task.task_spec.bpmn_id
        rules = instance.task_rules(element)
        rows.append({
            "id": str(task.id), "case_id": case.id, "element_id": element,
            "name": task.task_spec.bpmn_name or element, "lane": task.task_spec.lane,
            "candidate_groups": list(rules.candidate_groups), "state": "ready", "created_at": now,
            "due_at": due_by_parent.get(task.parent.id) if task.parent is not None else None,
            "assignee_id": None, "claimed_at": None, "ended_at": None, "completed_by_id": None,
            "announced_at": None,  # the worker tells its people (engine.notifications.outbox.announce_ready_tasks)
        })
    _INSERT_TASK.run(session, rows)
    groups = [{"task_id": r["id"], "group": g} for r in rows for g in dict.fromkeys(r["candidate_groups"])]
    if groups:
        _INSERT_TASK_GROUP.run(session, groups)


def _track_pause(session: Session, instance: Instance, ready: Iterable[Any], now: dt.datetime, actor: Any) -> None:
    """Stop the SLA clocks while the case waits on its requester (one of the `ready` user
    tasks pauses them); restart them after."""
    case, workflow = instance.case, instance.workflow
    pausing = [] if workflow.is_completed() else [
        t.task_spec.bpmn_id for t in ready if instance.task_rules(t.task_spec.bpmn_id).pauses]
    paused = timer_events.apply_pause(workflow, pausing, sla_elements(instance))
    if paused and case.sla_paused_at is None:
        case.sla_paused_at = now
        audit.append(session, case, actor=actor, type="sla_paused", data={"waiting_on": sorted(pausing)})
    elif not paused and case.sla_paused_at is not None:
        seconds = max(0, int((now - case.sla_paused_at).total_seconds()))
        case.sla_paused_seconds = (case.sla_paused_seconds or 0) + seconds
        case.sla_paused_at = None
        audit.append(session, case, actor=actor, type="sla_resumed", data={"paused_seconds": seconds})


def _project_timers(session: Session, instance: Instance,
                    projected: list[timer_events.WaitingTimer]) -> frozenset[tuple[str, str, dt.datetime]]:
    """Rewrite the case's timer rows if they changed; return them as (task, kind, due) keys."""
    case = instance.case
    after = _timer_rows(projected) if case.status == "open" else frozenset()
    if after == instance.timers_before:
        return after
    if instance.timers_before:
        _DELETE_TIMERS.run(session, {"_case": case.id})
    if not after:
        return after
    manifest_timers = instance.loaded.manifest.timers
    rows = []
    for timer in projected:
        info = manifest_timers.get(timer.element_id)
        rows.append({"case_id": case.id, "definition_id": case.definition_id, "task_id": timer.task_id,
                     "element_id": timer.element_id, "kind": timer.kind,
                     "escalation": timer.kind != "sla_warning" and info is not None and info.escalation,
                     "due_at": timer.due_at, "claimed_by": None, "claimed_until": None})
    _INSERT_TIMER.run(session, rows)
    return after
