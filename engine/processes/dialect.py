"""Deploy checks for BPMN written by other tools (#16): what opsgate cannot run, said before anything deploys.

* A **service task** (or a send task that names Camunda code: `camunda:type`, `class`,
  `expression`, `delegateExpression`) needs an implementation opsgate runs. opsgate has no service connectors
  (no HTTP calls, no Java classes, no expressions calling beans); it runs Camunda's external
  tasks (`camunda:type="external"` with a `camunda:topic`: outside workers fetch and complete them,
  engine.processes.external). Every other service task of an executable process is refused
  naming the element and what to use instead. SpiffWorkflow's own service tasks
  (`spiffworkflow:serviceTaskOperator`) are refused the same way: they would fail when a case
  reaches them.
* `camunda:resultVariable` / `camunda:mapDecisionResult` on a business rule task deploy with a
  warning: the decision's outputs become case data fields under their own names.
"""
from __future__ import annotations

from typing import Any

from lxml import etree

from engine.errors import said
from engine.processes import bpmn_xml, checks

NS = bpmn_xml.NS
C = bpmn_xml.CAMUNDA_NS


def _problem(file: str, element: etree._Element, message: str, rule: str) -> checks.Problem:
    return checks.problem(file, element.get("id"), element.sourceline, message, rule)


def _label(element: etree._Element) -> str:
    named, ident = element.get("name"), element.get("id")
    name = " ".join(named.split()) if named else None
    if etree.QName(element).localname == "sendTask":
        return said("send task %(id)s (%(name)s)", id=ident, name=name) if named else said("send task %(id)s", id=ident)
    return said("service task %(id)s (%(name)s)", id=ident, name=name) if named else said("service task %(id)s",
                                                                                         id=ident)


def problems(filename: str, tree: etree._ElementTree) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(errors, warnings) for the executable processes of one file."""
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for process in tree.getroot().xpath("//bpmn:process[@isExecutable='true']", namespaces=NS):
        coded = [t for t in process.iter(f"{{{bpmn_xml.BPMN_NS}}}sendTask")
                 if any(t.get(f"{{{C}}}{a}") for a in ("type", "class", "expression", "delegateExpression"))]
        for task in [*process.iter(f"{{{bpmn_xml.BPMN_NS}}}serviceTask"), *coded]:
            topic = (task.get(f"{{{C}}}topic") or "").strip()
            if task.get(f"{{{C}}}type") == "external" and etree.QName(task).localname != "serviceTask":
                why = said("%(task)s is a Camunda external task (topic %(topic)s): opsgate hands out external "
                           "tasks for service tasks only; make it a service task with camunda:type=\"external\"",
                           task=_label(task), topic=repr(topic))
            elif task.get(f"{{{C}}}type") == "external":
                if topic and len(topic) <= 200:
                    continue  # an external task: outside workers fetch it by its topic
                why = said("%(task)s is a Camunda external task without a topic: give it camunda:topic (the "
                           "name workers fetch its jobs by, at most 200 characters)", task=_label(task))
            else:
                why = said("%(task)s has no implementation opsgate can run (opsgate calls no services, classes or "
                           "connectors): make it a user task for the people who do the work, a script task, or a "
                           "plain task that only documents the step", task=_label(task))
            errors.append(_problem(filename, task, why, "opsgate/service-task"))
        for task in process.iter(f"{{{bpmn_xml.BPMN_NS}}}userTask"):
            if task.get(f"{{{C}}}assignee") or task.get(f"{{{C}}}candidateUsers"):
                warnings.append(_problem(
                    filename, task, said("camunda:assignee and camunda:candidateUsers are not used: the task goes to "
                                         "its candidate groups (or lane), whose members claim it"), "opsgate/assignee"))
        for task in process.iter(f"{{{bpmn_xml.BPMN_NS}}}businessRuleTask"):
            if task.get(f"{{{C}}}resultVariable") or task.get(f"{{{C}}}mapDecisionResult"):
                warnings.append(_problem(
                    filename, task, said("camunda:resultVariable and camunda:mapDecisionResult are not used: the "
                                         "decision's outputs become case data fields under their own names"),
                    "opsgate/decision-result"))
            if task.get(f"{{{C}}}class") or task.get(f"{{{C}}}expression") or task.get(f"{{{C}}}delegateExpression"):
                errors.append(_problem(filename, task, said(
                    "business rule task %(task)s calls code (camunda:class / expression): give it camunda:decisionRef "
                    "naming a DMN decision deployed with it", task=task.get("id")), "opsgate/service-task"))
    return errors, warnings
