"""The shipped pack is valid BPMN a process owner can open: XSD, SpiffWorkflow parse, complete DI."""

from pathlib import Path

import pytest
import SpiffWorkflow
from lxml import etree
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
PROCESSES = [
    "incident",
    "change_request",
    "emergency_response",
    "account_onboarding",
    "account_offboarding",
    "backup_restore_drill",
    "rectification",  # opened by the evaluation module (issue 7)
    "service_request",  # issue 18
    "inspection",
    "datacenter_access",
    "duty_roster",
    "process_change",  # four-eyes on process changes (issue 17)
]
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
GROUPS = {
    "requester", "manager", "service_desk", "engineer", "change_manager", "cab", "finance",
    "security_admin", "auditor", "process_owner", "supervisor", "admin",
}
FLOW_NODES = (
    "//bpmn:process//*[self::bpmn:startEvent or self::bpmn:endEvent or self::bpmn:userTask"
    " or self::bpmn:businessRuleTask or self::bpmn:scriptTask or self::bpmn:exclusiveGateway"
    " or self::bpmn:parallelGateway or self::bpmn:boundaryEvent or self::bpmn:subProcess"
    " or self::bpmn:intermediateCatchEvent]"
)


def parse(name: str) -> etree._ElementTree:
    return etree.parse(str(WORKFLOWS / f"{name}.bpmn"))


def bounds(doc) -> dict[str, tuple[float, float, float, float]]:
    result = {}
    for shape in doc.xpath("//bpmndi:BPMNShape", namespaces=NS):
        b = shape.find("dc:Bounds", NS)
        result[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return result


def overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_pack_has_exactly_the_six_processes():
    assert sorted(p.stem for p in WORKFLOWS.glob("*.bpmn")) == sorted(PROCESSES)


@pytest.mark.parametrize("name", PROCESSES)
def test_validates_against_the_bpmn_xsd(name):
    xsd = Path(SpiffWorkflow.__file__).parent / "bpmn/parser/schema/BPMN20.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    doc = parse(name)
    assert schema.validate(doc), schema.error_log


@pytest.mark.parametrize("name", PROCESSES)
def test_spiffworkflow_parses_it_with_the_dmn(name):
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(WORKFLOWS / f"{name}.bpmn")])
    parser.add_dmn_files([str(p) for p in WORKFLOWS.glob("*.dmn")])
    spec = parser.get_spec(name)
    parser.get_subprocess_specs(name)
    assert spec.name == name


@pytest.mark.parametrize("name", PROCESSES)
def test_every_element_has_di_and_no_shapes_overlap(name):
    doc = parse(name)
    shapes = bounds(doc)
    edges = {e.get("bpmnElement"): e for e in doc.xpath("//bpmndi:BPMNEdge", namespaces=NS)}
    nodes = doc.xpath(FLOW_NODES, namespaces=NS)
    assert nodes
    missing = [n.get("id") for n in nodes if n.get("id") not in shapes]
    assert missing == []
    for flow in doc.xpath("//bpmn:sequenceFlow", namespaces=NS):
        edge = edges.get(flow.get("id"))
        assert edge is not None, flow.get("id")
        assert len(edge.findall("di:waypoint", NS)) >= 2
    # a node may only overlap its own subprocess (containment) or its host (boundary event)
    host = {}
    for n in nodes:
        parent = n.getparent()
        if parent.tag == f"{{{NS['bpmn']}}}subProcess":
            host[n.get("id")] = parent.get("id")
        if n.get("attachedToRef"):
            host[n.get("id")] = n.get("attachedToRef")
    ids = [n.get("id") for n in nodes]
    clashes = [
        (a, b)
        for i, a in enumerate(ids)
        for b in ids[i + 1:]
        if host.get(a) != b and host.get(b) != a and overlap(shapes[a], shapes[b])
    ]
    assert clashes == []


@pytest.mark.parametrize("name", PROCESSES)
def test_lanes_are_groups_and_contain_their_elements(name):
    doc = parse(name)
    shapes = bounds(doc)
    pool = shapes[doc.xpath("//bpmn:participant/@id", namespaces=NS)[0]]
    for lane in doc.xpath("//bpmn:lane", namespaces=NS):
        assert lane.get("name") in GROUPS
        lx, ly, lw, lh = shapes[lane.get("id")]
        assert pool[1] <= ly and ly + lh <= pool[1] + pool[3]
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = shapes[ref.text]
            if doc.xpath(f"//bpmn:boundaryEvent[@id='{ref.text}']", namespaces=NS):
                continue  # sits on its host's border
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, ref.text


@pytest.mark.parametrize("name", PROCESSES)
def test_every_user_task_and_the_start_event_have_a_labelled_form(name):
    doc = parse(name)
    holders = doc.xpath("//bpmn:userTask", namespaces=NS) + doc.xpath(
        "//bpmn:process/bpmn:startEvent[not(bpmn:timerEventDefinition)]", namespaces=NS
    )
    for holder in holders:
        fields = holder.findall(".//camunda:formField", NS)
        assert fields, holder.get("id")
        for field in fields:
            assert field.get("label"), (holder.get("id"), field.get("id"))
            assert field.get("id").isidentifier() and not field.get("id").startswith("_")
        ids = [f.get("id") for f in fields]
        if "decision" in ids:  # an approval gate
            assert "comment" in ids
            values = {v.get("id") for v in holder.findall(".//camunda:formField[@id='decision']/camunda:value", NS)}
            assert {"approve", "reject"} <= values


@pytest.mark.parametrize("name", PROCESSES)
def test_identity_and_outcomes_are_declared(name):
    doc = parse(name)
    process = doc.xpath("//bpmn:process", namespaces=NS)[0]
    assert process.get("id") == name and process.get("isExecutable") == "true"
    props = {p.get("name"): p.get("value") for p in process.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)}
    assert props["case_prefix"].isupper() and "name_zh" in props and "required_records" in props
    # every end event on the main path names its outcome; side branches (escalations) do not
    outcomes = doc.xpath(
        "//bpmn:endEvent/bpmn:extensionElements/camunda:properties/camunda:property[@name='outcome']/@value",
        namespaces=NS,
    )
    assert outcomes
    assert set(outcomes) <= {"resolved", "implemented", "rejected", "rolled_back", "reclassified",
                             "provisioned", "completed", "passed", "failed",
                             "rectified", "not_rectified",
                             "expired", "approved"}  # rectification (issue 7)


def test_priority_table_validates_against_the_dmn_xsd():
    xsd = Path(SpiffWorkflow.__file__).parent / "dmn/parser/schema/DMN13.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    doc = etree.parse(str(WORKFLOWS / "incident_priority.dmn"))
    assert schema.validate(doc), schema.error_log
