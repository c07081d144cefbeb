"""A restored case in memory: step it, let its timers fire, and read what it holds now (live tasks,
data, timer due times).

Stepping is bounded (docs/bpmn.md, "Limits"): every expression runs under the session's
`scripting.Limits`; one action runs at most `EngineConfig.step_budget` engine tasks (a loop with
no wait state stops there instead of growing the case forever); a multi-instance task makes at
most `max_instances` instances, whether counted by a cardinality or by an input collection; and a
case whose tokens all ran out without reaching an end event fails instead of closing as
completed. Each of these raises ProcessFailure naming the element, and the caller saves nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import object_session

from engine.config import DEFAULTS, EngineConfig, settings
from engine.errors import ProcessFailure
from engine.processes import scripting, specs, votes
from engine.processes.manifest import TaskRules
from engine.timing import timers as timer_events
from models import Case


@dataclass
class Instance:
    """A case with its restored workflow and its process version's parsed definition.

    `ready_before` and `timers_before` are the projections as last saved (they are a function
    of the stored state), so saving only writes what changed, without reading them back."""

    case: Case
    workflow: BpmnWorkflow
    loaded: specs.Loaded
    ready_before: frozenset[str] = frozenset()
    timers_before: frozenset[tuple[str, str, dt.datetime]] = frozenset()
    waits_before: frozenset[tuple[str, str, str]] = frozenset()  # (kind, name, element): engine.cases.events
    jobs_before: frozenset[tuple[str, str, str]] = frozenset()  # (task, element, topic): engine.cases.external_jobs

    def task_rules(self, element_id: str) -> TaskRules:
        return self.loaded.manifest.task(element_id)


def ready_ids(workflow: BpmnWorkflow) -> frozenset[str]:
    return frozenset(str(t.id) for t in _all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual)


def _all_tasks(workflow: BpmnWorkflow) -> Iterator[Any]:
    """Every task of the instance and of its unfinished subprocesses, in no particular order.

    A flat walk of SpiffWorkflow's task dictionaries: an order of magnitude cheaper than
    `get_tasks`' tree iterator, which matters on every save. (Like the iterator, it does not
    look into finished subprocesses.)"""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        if not subprocess.completed:
            yield from subprocess.tasks.values()


# SpiffWorkflow walks a case's task tree no deeper than 1,000 levels (TaskIterator's max_depth):
# past that it no longer sees the ready tasks and takes the case for completed. A case stops well
# before (each task run in sequence is one level; a loop adds levels on every lap).
MAX_DEPTH = 850
_DEPTH_EVERY = 25  # steps between depth checks (a step adds a few levels at most: 850 + 25 x 3 < 1,000)


class _Stop(Exception):
    def __init__(self, task: Any, message: str):
        super().__init__(message)
        self.task = task
        self.message = message


def _config(instance: Instance) -> EngineConfig:
    session = object_session(instance.case)
    return settings(session) if session is not None else DEFAULTS


@contextlib.contextmanager
def _bounded(instance: Instance) -> Iterator[Callable[[Any], None]]:
    """Run a piece of the case under the limits; yield the callback that counts engine steps."""
    config = _config(instance)
    budget, count = config.step_budget, 0

    def counted(task: Any) -> None:
        nonlocal count
        count += 1
        if count > budget:
            raise _Stop(task, f"the process ran more than {budget:,} steps in one action without waiting for a "
                              "person or a timer: it loops; give the loop a wait state or an exit "
                              "(OPSGATE_STEP_BUDGET)")
        if isinstance(task.task_spec, MultiInstanceTask) and not task.children \
                and instance.task_rules(getattr(task.task_spec, "bpmn_id", "")).vote is not None:
            raise _Stop(task, f"nobody may vote on “{task.task_spec.bpmn_name or task.task_spec.bpmn_id}”: its group "
                              "has no active member besides the requester; add members to the group")
        if count % _DEPTH_EVERY == 0 and task.depth >= MAX_DEPTH:
            raise _Stop(task, f"the case has run {MAX_DEPTH} steps in a row, more than the engine can follow: "
                              "a loop runs without end; give it an exit that a person or a timer decides")

    try:
        with scripting.bounded(scripting.limits_of(config)):
            yield counted
    except _Stop as stop:
        element = getattr(stop.task.task_spec, "bpmn_id", None)
        raise ProcessFailure(f"{stop.message} (last at {_where(stop.task)})", {"element_id": element}) from None
    except (SpiffWorkflowException, scripting.ScriptError) as err:
        raise ProcessFailure(_describe(err), {"element_id": _element_of(err)}) from None


def step(instance: Instance) -> None:
    """Run engine tasks (gateways, scripts, events) until only people or timers can move it."""
    workflow = instance.workflow
    with _bounded(instance) as counted:
        workflow.do_engine_steps(did_complete_task=counted)
    _check_ended(workflow)


def run_task(instance: Instance, task: Any) -> None:
    """Complete a ready (human) task, then step: what follows it runs under the same limits."""
    workflow = instance.workflow
    with _bounded(instance) as counted:
        task.run()
        workflow.do_engine_steps(did_complete_task=counted)
    _check_ended(workflow)


def finish_task(instance: Instance, task: Any, data: dict[str, Any]) -> None:
    """Complete a started task that waited on someone outside (an external task) with its data, then step."""
    workflow = instance.workflow
    with _bounded(instance) as counted:
        task.set_data(**data)
        task.complete()
        workflow.do_engine_steps(did_complete_task=counted)
    _check_ended(workflow)


def throw(instance: Instance, task: Any, event: Any) -> None:
    """Throw an event from a task (a BPMN error from an external task) to its catchers, then step."""
    workflow = instance.workflow
    with _bounded(instance) as counted:
        workflow.catch(event)
        workflow.do_engine_steps(did_complete_task=counted)
    _check_ended(workflow)


def _check_ended(workflow: BpmnWorkflow) -> None:
    if _ended_without_end_event(workflow):
        last = workflow.last_task
        element = getattr(last.task_spec, "bpmn_id", None) if last is not None else None
        raise ProcessFailure(
            f"the process stopped at {_where(last)} without reaching an end event, so the case cannot close: "
            "connect that element to an end event", {"element_id": element})


def refresh_timers(instance: Instance) -> None:
    """Let due timers fire, then step."""
    with _bounded(instance):
        instance.workflow.refresh_timers()
    step(instance)


def finished(workflow: BpmnWorkflow) -> bool:
    """Whether no task of the instance is left to run: `is_completed()`'s answer (and, like it,
    noted on the workflow), from a flat look at the task table rather than its walk down the
    task tree, which passes the whole history before it reaches a live task (three times a save).
    Newest first: a live task is among the last made, so a waiting case answers at once."""
    if not workflow.completed and not any(t.state & TaskState.NOT_FINISHED_MASK
                                          for t in reversed(workflow.tasks.values())):
        workflow.completed = True
    return bool(workflow.completed)


def _ended_without_end_event(workflow: BpmnWorkflow) -> bool:
    """Whether no token is left although none reached an end event (a case must not close so)."""
    return finished(workflow) and not _reached_end(workflow)


def _reached_end(workflow: BpmnWorkflow) -> bool:
    """Whether a token of the top-level process reached one of its end events (for a collaboration,
    whose top level is only its pools, an end event of a pool)."""
    if any(t.state == TaskState.COMPLETED and isinstance(t.task_spec, EndEvent) and t.workflow is workflow
           for t in workflow.tasks.values()):
        return True
    if any(isinstance(ts, EndEvent) for ts in workflow.spec.task_specs.values()):
        return False
    return any(t.state == TaskState.COMPLETED and isinstance(t.task_spec, EndEvent)
               for sub in workflow.subprocesses.values() if sub.parent_workflow is workflow
               for t in sub.tasks.values())


def _element_of(err: Exception) -> str | None:
    task = getattr(err, "task", None)
    return getattr(task.task_spec, "bpmn_id", None) if task is not None else None


def _where(task: Any) -> str:
    """An element as people know it: its name and id."""
    spec = task.task_spec if task is not None else None
    element, label = getattr(spec, "bpmn_id", None), getattr(spec, "bpmn_name", None)
    return f"{label} ({element})" if label and element else (element or "")


def _root_cause(err: BaseException) -> BaseException:
    """The first error under SpiffWorkflow's wrappers (what the expression or script raised)."""
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        if not isinstance(current, SpiffWorkflowException):
            return current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return err


_EXPRESSION = re.compile(r"Error evaluating expression '(.*?)'\.?(?:\s|$)", re.S)
_ROW = re.compile(r"(?:Rule failed on row|Failed to execute DMN Rule on row) (\d+)")


def _describe(err: Exception) -> str:
    """Say in words where the process failed and why, for the person who acted and the owner."""
    task = getattr(err, "task", None)
    spec = task.task_spec if task is not None else None
    where = _where(task)
    text = " ".join(str(getattr(err, "message", None) or err).split())
    notes = " ".join(getattr(err, "__notes__", []) or [])
    cause = _root_cause(err)
    if cause is err:
        reason = text
    else:
        detail = " ".join(str(cause).split())
        reason = detail if isinstance(cause, scripting.ScriptError) else f"{type(cause).__name__}: {detail}"
        expression = _EXPRESSION.search(text)
        if expression:
            shown = expression.group(1).strip().replace("dmninputexpr", "?")
            reason = f"the expression {shown!r} failed: {reason}"
        elif getattr(spec, "script", None):
            reason = f"its script failed: {reason}"
    row = _ROW.search(text + " " + notes)
    if row:
        reason += f" (decision table row {row.group(1)})"
    return f"the process failed at {where}: {reason}" if where else f"the process failed: {reason}"


_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def live_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """Return the READY, WAITING and STARTED tasks (one walk of the task tree)."""
    return [t for t in _all_tasks(workflow) if t.state & _LIVE]


def current_data(workflow: BpmnWorkflow, live: list[Any] | None = None) -> dict[str, Any]:
    """The instance's data as people should see it now (SpiffWorkflow keeps it on tasks)."""
    if finished(workflow):
        data = dict(workflow.data)
        if not data and workflow.last_task is not None:
            data = dict(workflow.last_task.data)
        return data
    merged: dict[str, Any] = {}
    for task in sorted(live_tasks(workflow) if live is None else live, key=lambda t: t.last_state_change):
        merged.update(task.data)
    if not merged and workflow.last_task is not None:
        merged.update(workflow.last_task.data)
    return merged


def _timer_due(task: Any) -> dt.datetime | None:
    """When a waiting timer task is due; None for a paused SLA clock (due at no known time) or a spent cycle."""
    return timer_events.definition(task).due(task)


def timer_due_times(workflow: BpmnWorkflow) -> list[tuple[Any, dt.datetime]]:
    """Return (task, due time) for every timer event the instance is waiting on."""
    out = []
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and task.state == TaskState.WAITING:
            due = _timer_due(task)
            if due is not None:
                out.append((task, due))
    return out


def sla_elements(instance: Instance) -> set[str]:
    """The timer events of the case's process that are SLA clocks (escalations), and the votes'
    deadlines: each gets its reminder at 75% (docs/timers.md)."""
    manifest = instance.loaded.manifest
    return set(manifest.sla_timers()) | {votes.deadline_id(k) for k, t in manifest.votes().items() if t.vote
                                         and t.vote.deadline}
