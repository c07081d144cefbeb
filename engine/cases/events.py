"""Messages and signals inside one instance: what it waits for, and delivering one from outside (#16).

SpiffWorkflow keeps the catching tasks (intermediate catch events, receive tasks, boundary
events, message start events, an event-based gateway's branches) in its event manager; this
module reads them and hands an outside event to them through `BpmnWorkflow.send_event`, with
the payload put on the catching task's data first (SpiffWorkflow itself only keeps a Camunda-style
message's payload in the task's internal data), so it reaches the case data when the task runs.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

KINDS = ("message", "signal")


def _kind(definition: Any) -> str | None:
    if isinstance(definition, MessageEventDefinition):
        return "message"
    if isinstance(definition, SignalEventDefinition):
        return "signal"
    return None


def _catchers(workflow: BpmnWorkflow) -> Iterator[tuple[Any, Any, str]]:
    """(task, event definition, element id) for every message or signal the instance waits for."""
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MultipleEventDefinition):
            outputs = getattr(task.task_spec, "outputs", [])
            for index, each in enumerate(definition.event_definitions):
                element = outputs[index].bpmn_id if index < len(outputs) else task.task_spec.bpmn_id
                yield task, each, str(element)
        elif definition is not None:
            yield task, definition, str(task.task_spec.bpmn_id)


def waiting(workflow: BpmnWorkflow) -> frozenset[tuple[str, str, str]]:
    """The messages and signals the instance waits for, as (kind, name, element id)."""
    return frozenset((kind, str(d.name), element) for _t, d, element in _catchers(workflow)
                     if (kind := _kind(d)) is not None and d.name)


def deliver(workflow: BpmnWorkflow, kind: str, name: str, payload: Mapping[str, Any]) -> list[str]:
    """Hand a message or signal from outside to the tasks waiting for it; return their element ids
    (empty when nothing waits). The caller steps the instance afterwards."""
    matched = [(t, d, e) for t, d, e in _catchers(workflow) if _kind(d) == kind and d.name == name]
    if not matched:
        return []
    task, definition, _element = matched[0]
    for each, _d, _e in matched:
        each.set_data(**dict(payload))
    correlations: dict[str, Any] = {}
    if kind == "message" and definition.correlation_properties:
        correlations = definition.get_correlations(task, dict(payload))
    workflow.send_event(BpmnEvent(type(definition)(name), payload=dict(payload), correlations=correlations))
    return sorted({e for _t, _d, e in matched})
