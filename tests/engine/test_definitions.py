"""Deploy: every refusal names file, element and line; nothing deploys unless everything is valid."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidDefinition, NotAllowed
from engine.processes import catalog, specs
from models import AuditEvent, ProcessDefinition
from tests.conftest import DATA

FOUR = (DATA / "four_steps.bpmn").read_text()


def variant(old: str, new: str, source: str = FOUR) -> bytes:
    assert old in source, old
    return source.replace(old, new, 1).encode()


def refusal(deploy, *files) -> list[dict]:
    with pytest.raises(InvalidDefinition) as info:
        deploy(*files)
    return info.value.details


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(ProcessDefinition))


def test_deploys_new_version_and_identical_source_is_a_no_op(session, deploy):
    first = deploy("four_steps.bpmn")
    assert [(r.key, r.version, r.created) for r in first] == [("four_steps", 1, True)]
    again = deploy("four_steps.bpmn")
    assert [(r.key, r.version, r.created) for r in again] == [("four_steps", 1, False)]
    changed = deploy(("four_steps.bpmn", variant('name="Triage"', 'name="First look"')))
    assert [(r.version, r.created) for r in changed] == [(2, True)]
    row = catalog.get_definition(session, "four_steps")
    assert row.version == 2 and row.manifest["tasks"]["triage"]["name"] == "First look"
    assert catalog.get_definition(session, "four_steps", 1).manifest["tasks"]["triage"]["name"] == "Triage"
    types = session.scalars(select(AuditEvent.type).where(AuditEvent.type == "process_deployed")).all()
    assert len(types) == 2


def test_manifest_reads_forms_lanes_and_rules(session, deploy):
    deploy("four_steps.bpmn")
    manifest = catalog.get_definition(session, "four_steps").manifest
    assert manifest["process"]["case_prefix"] == "FST"
    assert manifest["process"]["required_records"] == ["diagnosis"]
    assert [f["name"] for f in manifest["start_form"]] == ["title", "system", "urgent"]
    approve = manifest["tasks"]["approve_fix"]
    assert approve["candidate_groups"] == ["change_manager"]
    assert approve["sod_not_requester"] is True and approve["sod_not_actor_of"] == ["diagnose"]
    assert manifest["end_events"]["end_done"] == {"outcome": "resolved"}


def test_camunda_modeler_file_deploys(session, deploy):
    (result,) = deploy("camunda_approval.bpmn")
    manifest = result.definition.manifest
    assert manifest["tasks"]["review"]["candidate_groups"] == ["engineer"]
    amount = next(f for f in manifest["start_form"] if f["name"] == "amount")
    assert amount["type"] == "integer" and amount["required"] and amount["min"] == 1
    assert manifest["timers"]["review_sla"] == {"kind": "boundary", "escalation": True, "name": "8 hours",
                                                "top_level": True}


def test_malformed_xml_names_the_line(session, deploy):
    (detail,) = refusal(deploy, ("broken.bpmn", FOUR.replace("</bpmn:laneSet>", "</bpmn:laneSt>")))
    assert detail["file"] == "broken.bpmn" and "not well-formed" in detail["message"]
    assert detail["line"] == FOUR[: FOUR.index("</bpmn:laneSet>")].count("\n") + 1
    assert count(session) == 0


def test_external_entities_are_refused(session, deploy):
    xxe = FOUR.replace('<?xml version="1.0" encoding="UTF-8"?>',
                       '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    xxe = xxe.replace('name="Triage"', 'name="&x;"')
    (detail,) = refusal(deploy, ("xxe.bpmn", xxe))
    assert "DOCTYPE" in detail["message"] and "root:" not in str(detail)


def test_entity_bomb_is_refused(session, deploy):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
            + ']>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol9;</bpmn:definitions>')
    (detail,) = refusal(deploy, ("bomb.bpmn", bomb))
    assert "DOCTYPE" in detail["message"]


def test_oversized_file_is_refused(session, deploy):
    big = FOUR.replace("</bpmn:definitions>", "<!--" + "x" * (2 * 1024 * 1024) + "--></bpmn:definitions>")
    (detail,) = refusal(deploy, ("big.bpmn", big))
    assert "limit" in detail["message"]


def test_unknown_lane_group_is_refused(session, deploy):
    details = refusal(deploy, ("lanes.bpmn", variant('name="change_manager"', 'name="Change board"')))
    assert {d["element_id"] for d in details} == {"approve_fix"}
    assert "'Change board'" in details[0]["message"] and "not a known group" in details[0]["message"]
    assert details[0]["line"] is not None


MEASURE_ON_APPROVE = '<camunda:property name="sod_not_actor_of" value="diagnose" />'


def test_unknown_measure_is_refused(session, deploy):
    details = refusal(deploy, ("measure.bpmn", variant(
        MEASURE_ON_APPROVE, MEASURE_ON_APPROVE + '<camunda:property name="measure" value="speed" />')))
    assert [d["element_id"] for d in details] == ["approve_fix"]
    assert "measure 'speed' is not one of resolution, recovery" in details[0]["message"]


def test_a_declared_measure_counts_under_any_task_id(session, deploy):
    from engine.evaluation import provider_measures

    deploy(("measure.bpmn", variant(
        MEASURE_ON_APPROVE, MEASURE_ON_APPROVE + '<camunda:property name="measure" value="Resolution" />')))
    manifest = catalog.get_definition(session, "four_steps").manifest
    assert manifest["tasks"]["approve_fix"]["measure"] == "resolution"
    roles = provider_measures.task_roles(provider_measures.manifests(session))
    assert "approve_fix" in roles["resolution"] and "resolve" in roles["resolution"]  # the pack's own id too
    assert "approve_fix" not in roles["escalation"]


def test_broken_condition_is_refused(session, deploy):
    details = refusal(deploy, ("cond.bpmn", variant("decision == &quot;approve&quot;", "decision ==")))
    assert details[0]["element_id"] == "f6" and "syntax" in details[0]["message"]


def test_condition_escaping_the_sandbox_is_refused(session, deploy):
    details = refusal(deploy, ("cond.bpmn", variant("decision == &quot;approve&quot;", "().__class__.__bases__")))
    assert details[0]["element_id"] == "f6" and "_" in details[0]["message"]


@pytest.mark.parametrize("script, why", [
    ("import os", "imports are not allowed"),
    ("x = open('/etc/passwd').read()", "open is not allowed"),
    ("y = ().__class__.__mro__", "invalid attribute name"),
    ("z = 9 ** 999999999", "literal exponent"),
])
def test_forbidden_script_is_refused(session, deploy, script, why):
    details = refusal(deploy, ("script.bpmn", variant('priority = "P1" if urgent else "P3"', script)))
    assert details[0]["element_id"] == "set_priority" and why in details[0]["message"]


def test_bad_timer_value_is_refused(session, deploy):
    camunda = (DATA / "camunda_approval.bpmn").read_text()
    details = refusal(deploy, ("timer.bpmn", variant(">PT8H<", ">PT8X<", camunda)))
    assert details[0]["element_id"] == "review_sla" and "ISO 8601" in details[0]["message"]


def test_flow_to_missing_element_is_refused(session, deploy):
    details = refusal(deploy, ("flow.bpmn", variant('targetRef="diagnose"', 'targetRef="nowhere"')))
    assert any("nowhere" in d["message"] for d in details)
    assert all(d["file"] == "flow.bpmn" for d in details)


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call" calledElement="CALLED"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_call_activity_to_unknown_process_is_refused(session, deploy):
    details = refusal(deploy, ("caller.bpmn", CALLER.replace("CALLED", "no_such_process")))
    assert "no_such_process" in details[0]["message"]


def test_call_activity_to_a_deployed_process_deploys(session, deploy):
    deploy("four_steps.bpmn")
    (result,) = deploy(("caller.bpmn", CALLER.replace("CALLED", "four_steps")))
    assert result.definition.dependencies == {"four_steps": 1}
    loaded = specs.load(session, result.definition)
    assert "four_steps" in loaded.subprocess_specs


def test_one_bad_file_deploys_nothing(session, deploy):
    refusal(deploy, "four_steps.bpmn", ("bad.bpmn", b"<not-bpmn/>"))
    assert count(session) == 0


def test_user_task_without_form_deploys_with_a_warning_and_a_plain_done_form(session, deploy):
    no_form = FOUR.replace(
        '<camunda:formField id="result" label="Result" type="text"><camunda:validation><camunda:constraint name="required" /></camunda:validation></camunda:formField>', "")
    (result,) = deploy(("noform.bpmn", no_form))
    assert [(w["element_id"], w["rule"]) for w in result.warnings if w["rule"] == "opsgate/no-form"] == [
        ("implement", "opsgate/no-form")]
    form = specs.manifest_of(result.definition).task("implement").form
    assert [(f.name, f.required) for f in form.fields] == [("comment", False)]


def test_descriptive_model_says_why_it_cannot_run(session, deploy):
    details = refusal(deploy, ("desc.bpmn", variant('isExecutable="true"', 'isExecutable="false"')))
    assert "no executable process" in details[0]["message"]


def test_only_process_owners_deploy(session, deploy, make_user):
    with pytest.raises(NotAllowed, match="process owners"):
        deploy("four_steps.bpmn", actor=make_user("engineer"))
    (result,) = deploy("four_steps.bpmn", actor=make_user("process_owner", name="po"))
    assert result.definition.deployed_by == "po"


@pytest.mark.parametrize("expression, ok", [
    ('"PT2H" if fault_type == "application" else "PT4H"', True),
    ("sla_resolve", True),
    ('"PT8H"', True),
    ('"PT8X"', False),
    ("'2026-13-40T00:00:00Z'", False),
])
def test_timer_expressions_that_start_with_a_quote(session, deploy, expression, ok):
    source = variant(">PT8H<", f">{expression.replace(chr(34), '&quot;')}<", (DATA / "camunda_approval.bpmn").read_text())
    if ok:
        assert deploy(("timer.bpmn", source))[0].created
    else:
        assert refusal(deploy, ("timer.bpmn", source))[0]["element_id"] == "review_sla"
