"""The deploy gate: structural lint, compiled DMN and loop expressions, limits, odd encodings, and
the refusals a process owner must be able to act on (docs/bpmn.md)."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from engine.errors import InvalidDefinition
from engine.processes import checks, lint
from models import ProcessDefinition

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BOUNDS = DATA / "bounds"

HEAD = ('<?xml version="1.0" encoding="{enc}"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'id="d" targetNamespace="x">\n<bpmn:process id="{key}" name="{name}" isExecutable="true">\n')
TASK = ('<bpmn:userTask id="{id}" name="{name}" camunda:candidateGroups="service_desk"><bpmn:extensionElements>'
        '<camunda:formData><camunda:formField id="note" label="Note" type="string" /></camunda:formData>'
        '</bpmn:extensionElements></bpmn:userTask>\n')


def diagram(body: str, key: str = "gate", name: str = "Gate", enc: str = "UTF-8") -> str:
    return HEAD.format(key=key, name=name, enc=enc) + body + "</bpmn:process>\n</bpmn:definitions>\n"


def simple(extra: str = "", key: str = "gate", name: str = "Gate", enc: str = "UTF-8") -> str:
    return diagram('<bpmn:startEvent id="start" name="Start" />\n' + TASK.format(id="work", name="Work")
                   + '<bpmn:endEvent id="end" name="End" />\n'
                   + '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />\n'
                   + '<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />\n' + extra, key, name, enc)


def refused(deploy, *files) -> list[dict]:
    with pytest.raises(InvalidDefinition) as caught:
        deploy(*files)
    return caught.value.details


def test_a_clean_diagram_deploys_without_findings(deploy):
    result = deploy(("gate.bpmn", simple()))[0]
    assert result.created and result.warnings == []


def test_an_orphan_task_is_refused_by_no_disconnected(deploy):
    details = refused(deploy, ("gate.bpmn", simple(TASK.format(id="orphan", name="Orphan"))))
    assert [(d["rule"], d["element_id"]) for d in details] == [("no-disconnected", "orphan")]
    assert "Orphan (orphan) is not connected" in details[0]["message"]
    assert details[0]["line"] == 9


def test_a_loop_cut_off_from_the_start_is_refused_by_no_unreachable(deploy):
    island = (TASK.format(id="a", name="A") + TASK.format(id="b", name="B")
              + '<bpmn:sequenceFlow id="fa" sourceRef="a" targetRef="b" /><bpmn:sequenceFlow id="fb" sourceRef="b" '
                'targetRef="a" />\n')
    details = refused(deploy, ("gate.bpmn", simple(island)))
    assert {(d["rule"], d["element_id"]) for d in details} == {("opsgate/no-unreachable", "a"),
                                                               ("opsgate/no-unreachable", "b")}


def test_a_gateway_branch_without_condition_or_default_is_refused(deploy):
    body = ('<bpmn:startEvent id="start" name="Start" />\n<bpmn:exclusiveGateway id="gw" name="Which?" />\n'
            + TASK.format(id="x", name="X") + TASK.format(id="y", name="Y")
            + '<bpmn:endEvent id="end" name="End" />\n'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />\n'
            '<bpmn:sequenceFlow id="fx" name="x" sourceRef="gw" targetRef="x"><bpmn:conditionExpression>note == "x"'
            '</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
            '<bpmn:sequenceFlow id="fy" sourceRef="gw" targetRef="y" />\n'
            '<bpmn:sequenceFlow id="f3" sourceRef="x" targetRef="end" /><bpmn:sequenceFlow id="f4" sourceRef="y" '
            'targetRef="end" />\n')
    details = refused(deploy, ("gate.bpmn", diagram(body)))
    assert [(d["rule"], d["element_id"]) for d in details] == [("conditional-flows", "fy")]
    assert "needs a condition or must be the default flow" in details[0]["message"]


def test_duplicate_ids_are_named_as_duplicates_not_as_an_xsd_type_error(deploy):
    details = refused(deploy, ("gate.bpmn", simple('<bpmn:endEvent id="work" name="Again" />\n')))
    assert details[0]["rule"] == "opsgate/no-duplicate-id"
    assert "id 'work' is used by 2 elements (lines 5, 9)" in details[0]["message"]
    assert not any("xs:ID" in d["message"] for d in details)


def test_warnings_are_reported_and_do_not_block(deploy):
    body = ('<bpmn:startEvent id="start" />\n' + TASK.format(id="work", name="Work")
            + '<bpmn:parallelGateway id="gw" name="Through" />\n'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />\n'
            '<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="gw" />\n'
            '<bpmn:endEvent id="end" name="End" /><bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end" />\n')
    result = deploy(("gate.bpmn", diagram(body)))[0]
    assert result.created
    assert {(w["rule"], w["element_id"]) for w in result.warnings} == {
        ("label-required", "start"), ("superfluous-gateway", "gw")}


def test_the_rule_table_uses_bpmnlints_names_and_the_issues_levels():
    assert {name: level for name, level in lint.RULES.items() if not name.startswith("opsgate/")} == {
        "no-disconnected": "error", "conditional-flows": "error", "no-implicit-end": "warn",
        "superfluous-gateway": "warn", "fake-join": "warn", "label-required": "warn"}
    vendored = (ROOT / "webui" / "static" / "vendor" / "bpmnlint" / "rules.txt").read_text().split()
    assert set(lint.RULES) - {"opsgate/no-duplicate-id", "opsgate/no-unreachable"} <= set(vendored)


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").glob("*.bpmn")), ids=lambda p: p.stem)
def test_the_shipped_pack_has_no_lint_errors(path):
    from engine.processes import bpmn_xml
    found = lint.check(bpmn_xml.parse_xml(path.read_bytes()))
    assert [f for f in found if f.level == "error"] == []


def test_a_forbidden_dmn_cell_is_refused_at_deploy_with_file_line_and_element(deploy):
    dmn = (BOUNDS / "bounds_rules.dmn").read_text().replace("sum(range(?)) &gt; 0", "__import__('os') == ?")
    details = refused(deploy, BOUNDS / "bounds_dmn.bpmn", ("bounds_rules.dmn", dmn))
    assert details[0]["file"] == "bounds_rules.dmn" and details[0]["element_id"] == "rule_big_n"
    assert details[0]["line"] == 8 and "rule 1, input 1" in details[0]["message"]
    assert "_" in details[0]["message"]


def test_dmn_output_cells_are_compiled_too(deploy):
    dmn = (BOUNDS / "bounds_rules.dmn").read_text().replace('"big"', "open('/etc/passwd')")
    details = refused(deploy, BOUNDS / "bounds_dmn.bpmn", ("bounds_rules.dmn", dmn))
    assert (details[0]["element_id"], "rule 1, output 1" in details[0]["message"]) == ("rule_big_size", True)


def test_dmn_cells_compile_as_the_engine_evaluates_them():
    assert checks.cell_expressions("impact", '"high"') == ['(impact) == ("high")']
    assert checks.cell_expressions("n", "> 5") == ["n > 5"]
    assert checks.cell_expressions("n", "1 < ? < 5") == ["n", "1 < dmninputexpr < 5"]


@pytest.mark.parametrize(("text", "why"), [
    ("1000000", "more than the 1,000 instances"),
    ("__import__('os')", "starts with"),
    ("", "empty loop cardinality"),
])
def test_a_literal_huge_or_forbidden_cardinality_is_refused_at_deploy(deploy, text, why):
    bpmn = (BOUNDS / "bounds_cardinality.bpmn").read_text().replace(
        "<bpmn:loopCardinality>n</bpmn:loopCardinality>", f"<bpmn:loopCardinality>{text}</bpmn:loopCardinality>")
    details = refused(deploy, ("bounds_cardinality.bpmn", bpmn))
    assert details[0]["element_id"] == "fan_out" and why in details[0]["message"]


def test_a_forbidden_completion_condition_is_refused_at_deploy(deploy):
    bpmn = (BOUNDS / "bounds_cardinality.bpmn").read_text().replace(
        "</bpmn:loopCardinality>", "</bpmn:loopCardinality><bpmn:completionCondition>().__class__"
                                   "</bpmn:completionCondition>")
    details = refused(deploy, ("bounds_cardinality.bpmn", bpmn))
    assert details[0]["element_id"] == "fan_out" and "completion condition" in details[0]["message"]


def test_a_self_calling_call_activity_is_refused_in_words(deploy):
    bpmn = simple().replace('<bpmn:userTask id="work"', '<bpmn:callActivity calledElement="gate" id="work"').replace(
        "</bpmn:userTask>", "</bpmn:callActivity>")
    details = refused(deploy, ("gate.bpmn", bpmn))
    assert details[0]["element_id"] == "work"
    assert "gate calls itself (gate -> gate)" in details[0]["message"]


def test_a_call_cycle_through_a_deployed_process_is_refused(deploy, session):
    deploy(("other.bpmn", simple(key="other", name="Other")))
    session.flush()
    calling = simple(key="gate").replace('<bpmn:userTask id="work"', '<bpmn:callActivity calledElement="other" id="work"'
                                         ).replace("</bpmn:userTask>", "</bpmn:callActivity>")
    deploy(("gate.bpmn", calling))
    back = simple(key="other", name="Other").replace(
        '<bpmn:userTask id="work"', '<bpmn:callActivity calledElement="gate" id="work"').replace(
        "</bpmn:userTask>", "</bpmn:callActivity>")
    details = refused(deploy, ("other.bpmn", back))
    assert "other calls itself (other -> gate -> other)" in details[0]["message"]


@pytest.mark.parametrize("encoding", ["UTF-16", "ISO-8859-1", "windows-1252"])
def test_any_declared_encoding_is_read_and_stored_as_utf8(deploy, encoding):
    source = simple(name="Gate - Änderung", enc=encoding).encode(encoding if encoding != "ISO-8859-1" else "latin-1",
                                                                     errors="replace")
    result = deploy(("gate.bpmn", source))[0]
    stored = result.definition.bpmn
    assert 'encoding="UTF-8"' in stored and "Änderung" in stored


def test_an_unknown_encoding_is_refused_with_a_message(deploy):
    details = refused(deploy, ("gate.bpmn", simple(enc="x-klingon").encode()))
    assert "save it as UTF-8" in details[0]["message"]


def test_a_ten_thousand_task_chain_is_refused_without_a_recursion_error(deploy):
    ids = ["start"] + [f"t{i}" for i in range(10_000)] + ["end"]
    body = ('<bpmn:startEvent id="start" name="Start" />' + "".join(f'<bpmn:task id="t{i}" name="T{i}" />'
                                                                    for i in range(10_000))
            + '<bpmn:endEvent id="end" name="End" />'
            + "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
                      for i, (a, b) in enumerate(itertools.pairwise(ids))))
    details = refused(deploy, ("chain.bpmn", diagram(body)))
    assert "split it into several processes" in details[0]["message"]
    long_chain = ids[:300] + ["end"]
    body = ('<bpmn:startEvent id="start" name="Start" />' + "".join(f'<bpmn:task id="t{i}" name="T{i}" />'
                                                                    for i in range(299))
            + '<bpmn:endEvent id="end" name="End" />'
            + "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
                      for i, (a, b) in enumerate(itertools.pairwise(long_chain))))
    details = refused(deploy, ("chain.bpmn", diagram(body)))
    assert f"at most {checks.MAX_CHAIN} elements in a row" in details[0]["message"]


def test_an_unsupported_element_is_named_as_such(deploy):
    bpmn = simple().replace("<bpmn:userTask", "<bpmn:complexGateway", 1).replace(
        "</bpmn:userTask>", "</bpmn:complexGateway>", 1)
    details = refused(deploy, ("gate.bpmn", bpmn))
    assert any(re.search(r"complexGateway work is not supported by the engine", d["message"]) for d in details)


def test_a_case_prefix_belongs_to_one_process(deploy, session):
    deploy(("gate.bpmn", simple()))
    session.flush()
    taken = simple(key="other", name="Other").replace(
        'isExecutable="true">', 'isExecutable="true"><bpmn:extensionElements><camunda:properties>'
                                '<camunda:property name="case_prefix" value="GAT" /></camunda:properties>'
                                '</bpmn:extensionElements>')
    details = refused(deploy, ("other.bpmn", taken))
    assert details[0]["message"].startswith("case prefix 'GAT' belongs to process 'gate'")


def test_deploy_file_names_are_reduced_to_a_safe_base_name(deploy, session):
    result = deploy(("../../etc/x.bpmn", simple()))[0]
    assert result.definition.filename == "x.bpmn"
    details = refused(deploy, ("..\\..\\evil.bpmn", b"<nope"))
    assert details[0]["file"] == "evil.bpmn"


def test_a_bpmn_calling_a_deployed_decision_resolves_it(deploy, session):
    deploy(BOUNDS / "bounds_dmn.bpmn", BOUNDS / "bounds_rules.dmn")
    session.flush()
    edited = (BOUNDS / "bounds_dmn.bpmn").read_text().replace('name="Classify"', 'name="Classify again"')
    result = deploy(("bounds_dmn.bpmn", edited))[0]
    assert result.created and result.version == 2
    assert [f["filename"] for f in result.definition.extra_files] == ["bounds_rules.dmn"]
    assert session.get(ProcessDefinition, result.definition.id).extra_files[0]["source"].startswith("<?xml")
