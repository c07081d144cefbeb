"""One case at a time: restore its SpiffWorkflow instance, step it, and save it with its projections.

The serialized instance never carries the spec: a subclassed workflow converter leaves it out,
and restoring hands the cached spec of the case's process version back in. Saving rewrites, in
the caller's transaction, the case row (state, data snapshot, status), the human-task
projection (keeping claims), and the timer projection.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from models import Case, HumanTask, Timer

from . import audit, clock, definitions, scripting
from .errors import EngineError

log = logging.getLogger(__name__)


class ProcessFailure(EngineError):
    """The process itself failed while stepping (a condition or script raised); nothing is saved."""

    code = "process_error"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serialize a workflow without its spec; restore it with the spec handed in."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = _SpeclessWorkflowConverter
_registry = BpmnWorkflowSerializer.configure(_config)
_serializer = BpmnWorkflowSerializer(_registry)
SERIALIZER_VERSION = _serializer.VERSION


def dump(workflow: BpmnWorkflow) -> str:
    """Serialize an instance without its spec."""
    return _serializer.serialize_json(workflow)


def restore(state: str, loaded: definitions.Loaded) -> BpmnWorkflow:
    """Rebuild an instance from its stored state and its (cached) spec."""
    dct = json.loads(state)
    _serializer.migrate(dct)
    dct["spec"], dct["subprocess_specs"] = loaded.spec, loaded.subprocess_specs
    workflow = _registry.restore(dct)
    workflow.script_engine = scripting.script_engine()
    return workflow


@dataclass
class Instance:
    """A case with its restored workflow and its process version's parsed definition."""

    case: Case
    workflow: BpmnWorkflow
    loaded: definitions.Loaded

    def task_rules(self, element_id: str) -> dict[str, Any]:
        return self.loaded.manifest["tasks"].get(element_id, {})


def open_instance(session: Session, case: Case) -> Instance:
    """Restore a case's workflow."""
    loaded = definitions.load_by_id(session, case.definition_id)
    return Instance(case, restore(case.state, loaded), loaded)


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


def current_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The instance's data as people should see it now (SpiffWorkflow keeps it on tasks)."""
    if workflow.is_completed():
        data = dict(workflow.data)
        if not data and workflow.last_task is not None:
            data = dict(workflow.last_task.data)
        return data
    merged: dict[str, Any] = {}
    live = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
    for task in sorted(live, key=lambda t: t.last_state_change):
        merged.update(task.data)
    if not merged and workflow.last_task is not None:
        merged.update(workflow.last_task.data)
    return merged


def _timer_due(task: Any) -> dt.datetime | None:
    value = task.task_spec.event_definition.details(task).value
    if not value:
        return None
    try:
        return clock.parse_instant(value) if isinstance(value, str) else None
    except ValueError:
        return None


def waiting_timers(workflow: BpmnWorkflow) -> list[tuple[Any, dt.datetime]]:
    """Return (task, due time) for every timer event the instance is waiting on."""
    out = []
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and task.state == TaskState.WAITING:
            due = _timer_due(task)
            if due is not None:
                out.append((task, due))
    return out


def _outcome(instance: Instance, data: dict[str, Any]) -> str:
    ends = instance.loaded.manifest.get("end_events", {})
    reached = [t for t in instance.workflow.get_tasks(state=TaskState.COMPLETED)
               if isinstance(t.task_spec, EndEvent)]
    for task in sorted(reached, key=lambda t: t.last_state_change, reverse=True):
        found = ends.get(getattr(task.task_spec, "bpmn_id", None) or "", {}).get("outcome")
        if found:
            return found
    return str(data.get("outcome") or "completed")


def save(session: Session, instance: Instance, *, actor: Any) -> None:
    """Write the instance back: state, data snapshot, status, and both projections."""
    case, workflow = instance.case, instance.workflow
    now = clock.now()
    data = current_data(workflow)
    case.state = dump(workflow)
    case.serializer_version = SERIALIZER_VERSION
    case.data = json.loads(json.dumps(data, default=str))
    case.updated_at = now
    for column in ("priority", "system", "provider"):
        value = data.get(column)
        if value not in (None, "") and getattr(case, column) != str(value):
            setattr(case, column, str(value))
    timers = waiting_timers(workflow)
    _project_tasks(session, instance, timers, now)
    _project_timers(session, instance, timers)
    if workflow.is_completed() and case.status == "open":
        case.outcome = _outcome(instance, data)
        case.status = "cancelled" if case.outcome == "cancelled" else "closed"
        case.closed_at = now
        required = instance.loaded.manifest["process"].get("required_records", [])
        missing = [r for r in required if data.get(r) in (None, "")]
        audit.append(session, case, actor=actor, type="case_closed",
                     data={"outcome": case.outcome, "missing_records": missing})


def _project_tasks(session: Session, instance: Instance, timers: list[tuple[Any, dt.datetime]],
                   now: dt.datetime) -> None:
    case, workflow = instance.case, instance.workflow
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    rows = {row.id: row for row in session.scalars(
        select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready"))} if case.id else {}
    for task_id, row in rows.items():
        if task_id not in ready:
            row.state, row.ended_at = "cancelled", now
    if not ready:
        return
    # An SLA boundary timer attached to a task is that task's due time.
    due_by_parent: dict[Any, dt.datetime] = {}
    for timer_task, due in timers:
        parent = timer_task.parent.id if timer_task.parent is not None else None
        if parent is not None and (parent not in due_by_parent or due < due_by_parent[parent]):
            due_by_parent[parent] = due
    for task_id, task in ready.items():
        if task_id in rows:
            continue
        element = task.task_spec.bpmn_id
        rules = instance.task_rules(element)
        session.add(HumanTask(
            id=task_id, case_id=case.id, element_id=element, name=task.task_spec.bpmn_name or element,
            lane=task.task_spec.lane, candidate_groups=rules.get("candidate_groups") or [],
            state="ready", created_at=now,
            due_at=due_by_parent.get(task.parent.id) if task.parent is not None else None,
        ))


def _project_timers(session: Session, instance: Instance, timers: list[tuple[Any, dt.datetime]]) -> None:
    case = instance.case
    manifest_timers = instance.loaded.manifest.get("timers", {})
    if case.id:
        session.execute(delete(Timer).where(Timer.case_id == case.id))
    if case.status != "open":
        return
    for task, due in timers:
        element = task.task_spec.bpmn_id
        info = manifest_timers.get(element, {})
        session.add(Timer(case_id=case.id, definition_id=case.definition_id, task_id=str(task.id),
                          element_id=element, kind=info.get("kind", "intermediate"),
                          escalation=bool(info.get("escalation")), due_at=due))
