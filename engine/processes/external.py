"""Camunda's external tasks (#16): a service task with `camunda:type="external"` and a `camunda:topic`.

When a case reaches such a task, SpiffWorkflow runs it and it does nothing: it stays STARTED (a
task spec's run returning None means "running elsewhere"), so the case waits there while an
outside worker does the work. The job row that workers fetch, lock and complete through the API
is projected from these STARTED tasks when the case is saved (engine.cases.external_jobs); the
use cases are in engine.jobs.external_tasks.

Any other service task keeps SpiffWorkflow's parser (and is refused at deploy by
engine.processes.dialect, which names what to use instead).
"""
from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

from engine.processes.bpmn_xml import CAMUNDA_NS

TYPE = f"{{{CAMUNDA_NS}}}type"
TOPIC = f"{{{CAMUNDA_NS}}}topic"


class ExternalTask(ServiceTaskMixin, SpiffBpmnTask):
    """A service task done by an outside worker: running it only starts the wait."""

    def __init__(self, wf_spec: Any, bpmn_id: str, topic: str, **kwargs: Any):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _run_hook(self, my_task: Any) -> None:
        # None: the task is STARTED and waits; a worker's complete (or a BPMN error) moves it on.
        return None


class ExternalTaskParser(ServiceTaskParser):
    """Read `camunda:type="external"` service tasks as ExternalTask; others as SpiffWorkflow does."""

    def create_task(self) -> Any:
        if self.node.get(TYPE) != "external":
            return super().create_task()
        extensions = self.parse_extensions()
        return ExternalTask(self.spec, self.bpmn_id, topic=(self.node.get(TOPIC) or "").strip(),
                            prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
                            **self.bpmn_attributes)


class ExternalTaskConverter(SpiffBpmnTaskConverter):
    """The spec's dictionary form, for SpiffWorkflow's spec comparison (case migration)."""

    def to_dict(self, spec: ExternalTask) -> dict[str, Any]:
        dct = super().to_dict(spec)
        dct["topic"] = spec.topic
        return dct


def is_external(task: Any) -> bool:
    """Whether a SpiffWorkflow task is an external task."""
    return isinstance(task.task_spec, ExternalTask)
