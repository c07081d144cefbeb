"""Loading a case for an action and saving it back: the case row (guarded by its version), the
human-task projection (keeping claims), the timer projection and the SLA pause, all in the
caller's transaction. The process that saved a case last reuses its instance (instance_cache)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, bindparam, delete, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from engine import logcontext, prepared
from engine.cases import events, external_jobs
from engine.cases.instance_cache import instances
from engine.cases.serializer import SERIALIZER_VERSION, dump, restore
from engine.cases.stepping import (
    Instance,
    current_data,
    finished,
    live_tasks,
    ready_ids,
    sla_elements,
    timer_due_times,
)
from engine.config import settings
from engine.errors import Conflict, said
from engine.notifications import webhooks
from engine.people import users
from engine.processes import bpmn_xml, case_facts, specs
from engine.processes.votes import voter_key
from engine.records import audit
from engine.timing import clock
from engine.timing import timers as timer_events
from models import Case, EventWait, HumanTask, HumanTaskBar, HumanTaskGroup, Timer


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
        loaded, workflow, (ready, timers, waits, jobs) = cached
        return Instance(case, workflow, loaded, ready, timers, waits, jobs)
    loaded = specs.load_by_id(session, case.definition_id)
    return instance_of(case, loaded, restore(case.state, loaded, settings(session)))


def instance_of(case: Case, loaded: specs.Loaded, workflow: Any) -> Instance:
    """The Instance of a case whose workflow was restored from its stored state and not acted on
    yet (its projections as last saved are then a function of that workflow)."""
    instance = Instance(case, workflow, loaded, ready_ids(workflow), waits_before=events.waiting(workflow))
    instance.timers_before = _timer_rows(timer_events.waiting_timers(workflow, sla_elements(instance)))
    instance.jobs_before = external_jobs.waiting_in(instance)
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


def save(session: Session, instance: Instance, *, actor: Any, completed: HumanTask | None = None) -> None:
    """Write the instance back: state, data snapshot, status, and both projections.

    `completed` is the task the actor has just completed: its row is ended by the statement
    that adds the rows of the tasks that became ready (see `_project_tasks`)."""
    case, workflow = instance.case, instance.workflow
    prepared.separate(session, ("case", case.id))
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
    ended = finished(workflow) and case.status == "open"
    if ended:
        case.outcome, required = _closing(instance, data)
        case.status = "cancelled" if case.outcome == "cancelled" else "closed"
        case.closed_at = now
        missing = [r for r in required if data.get(r) in (None, "")]
        audit.append(session, case, actor=actor, type="case_closed",
                     data={"outcome": case.outcome, "missing_records": missing})
        webhooks.emit(session, "case.closed", case)
    timers = timer_due_times(workflow)
    new = _project_tasks(session, instance, ready, timers, now, completed, actor)
    _project_bars(session, instance, ready, new)
    _hold_open_tasks(session, case, ready, new)
    timer_rows = _project_timers(session, instance, projected)
    _project_waits(session, instance)
    external_jobs.project(session, instance, live)
    write_case(session, case)
    if ended:
        # What the evaluation reads of the case, now that it cannot change (engine.processes.case_facts).
        case_facts.record_ended(session, case, instance.loaded.manifest)
    if case.status == "open":
        instances.put(_cache_key(session, case), case.definition_id, instance.loaded, case.state, workflow,
                      (frozenset(ready), timer_rows, instance.waits_before, instance.jobs_before),
                      limit=settings(session).instance_cache)


# The mapped tables, typed as Table (mypy knows `__table__` only as a FromClause).
_case_table = cast(Table, Case.__table__)


# The columns a case action may write with `write_case`; the version column guards each write.
_CASE_COLUMNS = frozenset(c.key for c in _case_table.c if c.key not in ("id", "version_id"))


@functools.lru_cache(maxsize=256)
def _update_case(columns: tuple[str, ...]) -> prepared.Prepared:
    """The UPDATE of the given case columns (version_id among them), matching only the version read.

    Only changed columns are written, as the unit of work would: an index whose columns an
    UPDATE does not name is left alone (SQLite rewrites every index an UPDATE names)."""
    return prepared.Prepared(update(_case_table)
                             .where(_case_table.c.id == bindparam("case_id"),
                                    _case_table.c.version_id == bindparam("version_read"))
                             .values({c: bindparam(c) for c in columns}), order=prepared.CASE_ROW, exact=True)


_task_table = cast(Table, HumanTask.__table__)


_timer_table = cast(Table, Timer.__table__)


_END_COLUMNS = ("state", "ended_at", "completed_by_id", "assignee_id", "claimed_at")


_END_TASK = prepared.Prepared(update(_task_table)
                              .where(_task_table.c.id == bindparam("task_id"), _task_table.c.state == "ready")
                              .values({c: bindparam(c) for c in _END_COLUMNS}),
                              order=prepared.TASKS_ENDED, exact=True)


def _write_tasks(dialect_insert: Any) -> Any:
    """INSERT task rows. A row that ends a task whose row exists sets only the end columns,
    and only while the stored row is still `ready`; any other clash (a ready row whose id is
    taken) writes nothing. A row not written is missing from the rowcount."""
    stmt = dialect_insert(_task_table).inline().values({c.key: bindparam(c.key) for c in _task_table.c})
    return prepared.Prepared(stmt.on_conflict_do_update(
        index_elements=[_task_table.c.id], set_={c: stmt.excluded[c] for c in _END_COLUMNS},
        where=(_task_table.c.state == "ready") & (stmt.excluded.state != "ready")),
        order=prepared.TASK_ROWS, exact=True)


_WRITE_TASKS = {"sqlite": _write_tasks(sqlite.insert), "postgresql": _write_tasks(postgresql.insert)}


_INSERT_TASK_GROUPS = prepared.insert(cast(Table, HumanTaskGroup.__table__), ("task_id", "group"),
                                      order=prepared.TASK_LISTS)


_INSERT_TIMERS = prepared.insert(_timer_table, ("case_id", "definition_id", "task_id", "element_id", "kind",
                                                   "escalation", "due_at", "claimed_by", "claimed_until"),
                                 order=prepared.TIMERS_NEW)


_DELETE_TIMERS = prepared.Prepared(delete(_timer_table).where(_timer_table.c.case_id == bindparam("case_id")),
                                   order=prepared.TIMERS_GONE)


def write_case(session: Session, case: Case) -> None:
    """Write a case's changed columns with one UPDATE guarded by its version.

    This is the UPDATE the unit of work would emit for the mapper's `version_id_col` (only the
    changed columns, `version_id` moved on, matching only the version read), without a flush's
    bookkeeping on the hottest path. An UPDATE that matches no row means another action won
    the race: Conflict, and the caller rolls back. The Case is then told the row as written,
    so callers keep an accurate object with nothing left to flush."""
    state = inspect(case)
    if state.pending or state.transient:
        session.flush()  # a new case: the unit of work inserts it
        return
    if not state.modified:
        return
    unmodified = state.unmodified
    if not unmodified >= _CASE_RELATIONSHIPS:
        session.flush()  # a changed relationship: the unit of work writes it (version guard included)
        return
    changed = _CASE_COLUMNS - unmodified
    if not changed:
        return
    values = {key: getattr(case, key) for key in changed}
    values["version_id"] = case.version_id + 1
    written = _update_case(tuple(sorted(values))).run(session, {**values, "case_id": case.id,
                                                                 "version_read": case.version_id})
    if written != 1:
        raise Conflict(said("the case was changed by someone else at the same time; reload it and try again"))
    _now_committed(session, case, values["version_id"])


_CASE_RELATIONSHIPS = frozenset(inspect(Case).relationships.keys())



def _now_committed(session: Session, case: Case, version_id: int) -> None:
    """Tell the session that the case's row now holds what the object holds, at `version_id`
    (the version the UPDATE wrote): no history left, nothing for a flush to do.

    In SQLAlchemy's public API an object sheds its history when it is made transient and then
    detached again, "as though freshly loaded" (`make_transient_to_detached`, which keeps the
    values it holds); added back, it is again the session's clean object for its row, the same
    object the callers hold. Expiring it instead and setting each of its two dozen values back
    as committed (`set_committed_value`) cost 6-9 us more CPU a completion (docs/performance.md,
    issue #14)."""
    session.expunge(case)
    make_transient(case)
    set_committed_value(case, "version_id", version_id)
    make_transient_to_detached(case)
    session.add(case)


def _ending(task: HumanTask, state: str, ended_at: dt.datetime, by: int | None) -> dict[str, Any]:
    # Whoever completes a task is on record as its assignee, as if they had claimed it.
    return {"state": state, "ended_at": ended_at, "completed_by_id": by,
            "assignee_id": task.assignee_id if task.assignee_id or by is None else by,
            "claimed_at": task.claimed_at if task.claimed_at or by is None else ended_at}


def end_task(session: Session, task: HumanTask, *, state: str, ended_at: dt.datetime,
             completed_by_id: int | None = None) -> None:
    """Move a ready task row to its end state with one UPDATE that only a ready row matches,
    and tell the session's HumanTask its new committed values."""
    values = _ending(task, state, ended_at, completed_by_id)
    lost = functools.partial(Conflict, f"{task.name} is no longer ready")
    if _END_TASK.run(session, {**values, "task_id": task.id}, short=lost) != 1:
        raise lost()
    for key, value in values.items():
        set_committed_value(task, key, value)


def _project_tasks(session: Session, instance: Instance, ready: dict[str, Any], timers: list[tuple[Any, dt.datetime]],
                   now: dt.datetime, completed: HumanTask | None, actor: Any) -> dict[str, dict[str, Any]]:
    """End the rows of tasks that are no longer ready and add rows for the tasks that became ready;
    return the new rows by id.

    The completed task's row and the new rows go in one statement (an INSERT whose existing
    row, the completed task's, is ended only if it is still `ready`); a row counted short
    means another action ended that task first: Conflict, and the caller rolls back."""
    gone = instance.ready_before - set(ready) - ({completed.id} if completed is not None else set())
    for task_id in gone:
        row = session.get(HumanTask, task_id)
        if row is not None and row.state == "ready":
            end_task(session, row, state="cancelled", ended_at=now)
    rows = [_new_task_row(instance, task, timers, now) for task_id, task in ready.items()
            if task_id not in instance.ready_before]
    _assign_voters(session, instance, rows, ready)
    ending: dict[str, Any] = {}
    if completed is not None:
        ending = _ending(completed, "completed", now, getattr(actor, "id", None))
        rows.insert(0, {c.key: getattr(completed, c.key) for c in _task_table.c} | ending)
    if not rows:
        return {}
    lost = functools.partial(Conflict, f"{completed.name} is no longer ready" if completed is not None else
                             "the case was changed by someone else at the same time; reload it and try again")
    if _WRITE_TASKS[session.get_bind().dialect.name].run(session, rows, short=lost) != len(rows):
        raise lost()
    for key, value in ending.items():
        set_committed_value(completed, key, value)
    groups = [{"task_id": r["id"], "group": g} for r in rows if r["state"] == "ready"
              for g in dict.fromkeys(r["candidate_groups"])]
    if groups:
        _INSERT_TASK_GROUPS.run(session, groups)
    return {r["id"]: r for r in rows if r["state"] == "ready"}


# Where a save leaves the case's open tasks in its session (Session.info), for the answer to
# the request that made it.
_HELD = "opsgate.open_tasks"


def _hold_open_tasks(session: Session, case: Case, ready: dict[str, Any], new: dict[str, dict[str, Any]]) -> None:
    """Note the open tasks this save leaves, without reading them: the new rows as written, the
    tasks that stayed ready by id. Objects are made only if the answer asks (`held_open_tasks`):
    the worker, which fires a batch of timers in one session, never does."""
    kept = [task_id for task_id in ready if task_id not in new]
    session.info.setdefault(_HELD, {})[case.id] = (list(new.values()), kept)


def held_open_tasks(session: Session, case: Case) -> list[HumanTask] | None:
    """Return a case's open tasks as the last save in this session left them, oldest first, or None
    if this session saved no action on the case. The new ones become the session's clean objects
    (as if loaded); tasks that stayed ready through that action (a parallel branch) are read, in
    one statement."""
    held = session.info.get(_HELD, {}).get(case.id)
    if held is None:
        return None
    rows, kept = held
    tasks: list[HumanTask] = []
    for row in rows:
        task = session.identity_map.get(identity_key(HumanTask, row["id"]))
        if task is None:
            task = HumanTask(**row)
            make_transient_to_detached(task)
            session.add(task)
        tasks.append(task)
    if kept:
        return list(session.scalars(select(HumanTask).where(HumanTask.id.in_(kept))
                                    .order_by(HumanTask.created_at))) + tasks
    return tasks


_INSERT_BAR = prepared.insert(cast(Table, HumanTaskBar.__table__), ("task_id", "user_id"), order=prepared.TASK_LISTS)


def _project_bars(session: Session, instance: Instance, ready: dict[str, Any], new: dict[str, Any]) -> None:
    """Write who separation of duties bars from each ready task (human_task_bar), so inboxes and
    notices leave it out in SQL. Only tasks with such rules cost anything: a new task gets its
    rows; a task that stays ready gains the people who since did a task its rules name (a
    parallel branch)."""
    case = instance.case
    plan: list[tuple[str, bool, set[str]]] = []
    for task_id, task in ready.items():
        rules = instance.task_rules(task.task_spec.bpmn_id)
        if rules.sod_not_requester or rules.sod_not_actor_of:
            names = {n for other in rules.sod_not_actor_of for n in (case.actors or {}).get(other, ())}
            plan.append((task_id, rules.sod_not_requester, names))
    if not plan:
        return
    wanted_names = set().union(*(names for _, _, names in plan))
    ids = users.ids_of(session, wanted_names)
    kept = [task_id for task_id, _, _ in plan if task_id not in new]
    have = {(task_id, uid) for task_id, uid in session.execute(
        select(HumanTaskBar.task_id, HumanTaskBar.user_id).where(HumanTaskBar.task_id.in_(kept)))} if kept else set()
    rows = []
    for task_id, not_requester, names in plan:
        barred = {ids[n] for n in names if n in ids}
        if not_requester and case.requester_id is not None:
            barred.add(case.requester_id)
        rows += [{"task_id": task_id, "user_id": uid} for uid in sorted(barred) if (task_id, uid) not in have]
    if rows:
        _INSERT_BAR.run(session, rows)


def _assign_voters(session: Session, instance: Instance, rows: list[dict[str, Any]], ready: dict[str, Any]) -> None:
    """A vote's instance (engine.cases.voting) is its voter's from the start: assign its row."""
    voters = {r["id"]: ready[r["id"]].data.get(voter_key(r["element_id"])) for r in rows
              if instance.task_rules(r["element_id"]).vote is not None}
    names = {n for n in voters.values() if isinstance(n, str)}
    if not names:
        return
    ids = users.ids_of(session, names)
    for row in rows:
        if voters.get(row["id"]) in ids:
            row["assignee_id"] = ids[voters[row["id"]]]


def _new_task_row(instance: Instance, task: Any, timers: list[tuple[Any, dt.datetime]], now: dt.datetime) -> dict:
    """The human_task row of a task that became ready; an SLA boundary timer attached to it is its due time
    (for an instance of a multi-instance task, one attached to the multi-instance task)."""
    parent = task.parent.id if task.parent is not None else None
    owners = {parent}
    if task.parent is not None and isinstance(task.parent.task_spec, MultiInstanceTask) and task.parent.parent:
        owners.add(task.parent.parent.id)
    due = min((d for timer, d in timers if timer.parent is not None and timer.parent.id in owners), default=None) \
        if parent is not None else None
    element = task.task_spec.bpmn_id
    return {
        "id": str(task.id), "case_id": instance.case.id, "element_id": element,
        "name": task.task_spec.bpmn_name or element, "lane": task.task_spec.lane,
        "candidate_groups": bpmn_xml.resolve_groups(instance.task_rules(element).candidate_groups, task.data),
        "state": "ready",
        "created_at": now, "due_at": due, "assignee_id": None, "claimed_at": None, "ended_at": None,
        "completed_by_id": None,
        "announced_at": None,  # the worker tells its people (engine.notifications.outbox.announce_ready_tasks)
    }


def _track_pause(session: Session, instance: Instance, ready: Iterable[Any], now: dt.datetime, actor: Any) -> None:
    """Stop the SLA clocks while the case waits on its requester (one of the `ready` user
    tasks pauses them); restart them after."""
    case, workflow = instance.case, instance.workflow
    pausing = [] if finished(workflow) else [
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
        _DELETE_TIMERS.run(session, {"case_id": case.id})
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
    _INSERT_TIMERS.run(session, rows)
    return after


_event_wait_table = cast(Table, EventWait.__table__)
_DELETE_WAITS = prepared.Prepared(delete(_event_wait_table).where(_event_wait_table.c.case_id == bindparam("case_id")),
                                  order=prepared.WAITS_GONE)
_INSERT_WAITS = prepared.insert(_event_wait_table, ("case_id", "kind", "name", "element_id"), order=prepared.WAITS_NEW)


def _project_waits(session: Session, instance: Instance) -> None:
    """Rewrite the messages and signals the case waits for (engine.cases.messages finds receivers by them)."""
    case = instance.case
    after = events.waiting(instance.workflow) if case.status == "open" else frozenset()
    if after == instance.waits_before:
        return
    if instance.waits_before:
        _DELETE_WAITS.run(session, {"case_id": case.id})
    if after:
        _INSERT_WAITS.run(session, [{"case_id": case.id, "kind": k, "name": n[:200], "element_id": e[:200]}
                                    for k, n, e in sorted(after)])
    instance.waits_before = after


_HUMAN_TASK_GROUP = cast(Table, HumanTaskGroup.__table__)


_HUMAN_TASK_BAR = cast(Table, HumanTaskBar.__table__)


_KEPT_COLUMNS = ("element_id", "name", "lane", "candidate_groups", "due_at")


_RENAME_KEPT_TASK = prepared.Prepared(update(_task_table)
                                      .where(_task_table.c.id == bindparam("task_id"), _task_table.c.state == "ready")
                                      .values({c: bindparam(c) for c in _KEPT_COLUMNS}))


_DELETE_TASK_GROUPS = prepared.Prepared(delete(_HUMAN_TASK_GROUP)
                                        .where(_HUMAN_TASK_GROUP.c.task_id == bindparam("task_id")))


_DELETE_TASK_BARS = prepared.Prepared(delete(_HUMAN_TASK_BAR).where(_HUMAN_TASK_BAR.c.task_id == bindparam("task_id")))


def save_migrated(session: Session, instance: Instance, *, actor: Any) -> None:
    """Save a case moved to another version (engine.cases.migration): its task rows, timer rows
    and SLA clocks are projected anew from the target version.

    A task that stays ready keeps its row (its id, its claim, when it became ready) with the
    name, lane, candidate groups, due time and separation-of-duties bars of the target version;
    the other rows are written as on any save. The kept rows are rewritten with prepared
    statements (one each for all of them), which leave the session's unit of work alone: the
    case row is written once, by `save`, under its version guard."""
    case, workflow = instance.case, instance.workflow
    live = live_tasks(workflow)
    ready = {str(t.id): t for t in live if t.state == TaskState.READY and t.task_spec.manual}
    kept = sorted(set(ready) & instance.ready_before)
    if kept:
        now = clock.now()
        timers = timer_due_times(workflow)
        fresh = [_new_task_row(instance, ready[task_id], timers, now) for task_id in kept]
        renamed = _RENAME_KEPT_TASK.run(session, [{"task_id": row["id"], **{c: row[c] for c in _KEPT_COLUMNS}}
                                                  for row in fresh])
        if renamed != len(kept):
            raise Conflict(said("the case was changed by someone else at the same time; reload it and try again"))
        ids = [{"task_id": task_id} for task_id in kept]
        _DELETE_TASK_GROUPS.run(session, ids)
        groups = [{"task_id": row["id"], "group": g} for row in fresh for g in dict.fromkeys(row["candidate_groups"])]
        if groups:
            _INSERT_TASK_GROUPS.run(session, groups)
        # Bars follow the target's rules: dropped here, written again by `save` for every kept task.
        _DELETE_TASK_BARS.run(session, ids)
    if instance.timers_before:
        _DELETE_TIMERS.run(session, {"case_id": case.id})
        instance.timers_before = frozenset()
    save(session, instance, actor=actor)


