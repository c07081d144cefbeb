"""Serializing a case's SpiffWorkflow instance without its spec, and restoring it with the cached
spec handed back in."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.config import DEFAULTS, EngineConfig
from engine.processes import scripting, specs
from engine.timing import definitions


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


# opsgate's timer definitions, for when one sits in a task's internal data (a multiple event's seen events).
_config.update(definitions.SERIALIZER_CONFIG)


_registry = BpmnWorkflowSerializer.configure(_config)


_serializer = BpmnWorkflowSerializer(_registry)


# The registry SpiffWorkflow's spec comparison converts specs with (engine.cases.migration).
REGISTRY = _registry


SERIALIZER_VERSION = _serializer.VERSION


def dump(workflow: BpmnWorkflow) -> str:
    """Serialize an instance without its spec."""
    return _serializer.serialize_json(workflow)


def restore(state: str, loaded: specs.Loaded, config: EngineConfig = DEFAULTS) -> BpmnWorkflow:
    """Rebuild an instance from its stored state and its (cached) spec, to run under `config`."""
    dct = json.loads(state)
    _serializer.migrate(dct)
    dct["spec"], dct["subprocess_specs"] = loaded.spec, loaded.subprocess_specs
    workflow = _registry.restore(dct)
    workflow.script_engine = scripting.script_engine(config)
    return workflow
