"""The version comparison a process owner reads before and after deploying."""

from pathlib import Path

from engine.processes.compare import compare_bpmn

DATA = Path(__file__).parent.parent / "data"

V1 = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="l1" name="cab"><bpmn:flowNodeRef>approve</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
    <bpmn:userTask id="approve" name="CAB approval">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="decision" label="Decision" type="enum">
          <camunda:value id="approve" name="Approve" /><camunda:value id="reject" name="Reject" />
        </camunda:formField>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="sla" attachedToRef="approve"><bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:endEvent id="old_end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_renamed_task_changed_form_and_timer_are_listed():
    v2 = (V1.replace(b'name="CAB approval"', b'name="CAB review"')
            .replace(b"PT4H", b"PT8H")
            .replace(b'<camunda:value id="reject" name="Reject" />',
                     b'<camunda:value id="reject" name="Reject" /><camunda:value id="rework" name="Rework" />')
            .replace(b'<bpmn:endEvent id="old_end" />', b'<bpmn:endEvent id="done" name="Done" />'))
    diff = compare_bpmn(V1, v2)
    assert [(e.element_id, e.kind, e.name) for e in diff.added] == [("done", "endEvent", "Done")]
    assert [e.element_id for e in diff.removed] == ["old_end"]
    changed = {e.element_id: e.changes for e in diff.changed}
    assert ("name", "CAB approval", "CAB review") in changed["approve"]
    assert ("form field decision", "Decision (enum: approve, reject)",
            "Decision (enum: approve, reject, rework)") in changed["approve"]
    assert changed["sla"] == [("timer", "timeDuration PT4H", "timeDuration PT8H")]
    assert not diff.empty


def test_moving_shapes_is_not_a_change():
    xml = (DATA / "miwg" / "A.2.0.bpmn").read_bytes()
    moved = xml.replace(b'x="', b'x="1', 3)
    assert compare_bpmn(xml, moved).empty
