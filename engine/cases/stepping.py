"""A restored case in memory: step it, let its timers fire, and read what it holds now (live tasks,
data, timer due times)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.errors import ProcessFailure
from engine.processes import scripting, specs
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


def step(instance: Instance) -> None:
    """Run engine tasks (gateways, scripts, events) until only people or timers can move it."""
    try:
        instance.workflow.do_engine_steps()
    except (SpiffWorkflowException, scripting.ScriptError) as err:
        raise ProcessFailure(_describe(err), {"element_id": _element_of(err)}) from None


def refresh_timers(instance: Instance) -> None:
    """Let due timers fire, then step."""
    try:
        instance.workflow.refresh_timers()
    except (SpiffWorkflowException, scripting.ScriptError) as err:
        raise ProcessFailure(_describe(err), {"element_id": _element_of(err)}) from None
    step(instance)


def _element_of(err: Exception) -> str | None:
    task = getattr(err, "task", None)
    return getattr(task.task_spec, "bpmn_id", None) if task is not None else None


def _describe(err: Exception) -> str:
    element = _element_of(err)
    text = " ".join(str(getattr(err, "message", None) or err).split())
    inner = getattr(err, "exception", None)
    if inner is not None and str(inner) not in text:
        text += f" ({type(inner).__name__}: {inner})"
    return f"the process failed at {element}: {text}" if element else f"the process failed: {text}"


_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def live_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """Return the READY, WAITING and STARTED tasks (one walk of the task tree)."""
    return [t for t in _all_tasks(workflow) if t.state & _LIVE]


def current_data(workflow: BpmnWorkflow, live: list[Any] | None = None) -> dict[str, Any]:
    """The instance's data as people should see it now (SpiffWorkflow keeps it on tasks)."""
    if workflow.is_completed():
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
    """The timer events of the case's process that are SLA clocks (escalations)."""
    return set(instance.loaded.manifest.sla_timers())
