"""Call activities to processes of the same file or the same deploy batch, deployed in any order (#16)."""
from __future__ import annotations

import pytest

from engine.cases import queries, services
from engine.errors import InvalidDefinition
from tests.engine.interop_helpers import DATA, complete, db_session, deploy_files, person, ready

__all__ = ["db_session"]

SAME_FILE = (DATA / "call_same_file.bpmn").read_text()


def _split() -> tuple[str, str, str, str]:
    head_end = SAME_FILE.index('  <bpmn:process id="call_parent"')
    child_at = SAME_FILE.index('  <bpmn:process id="call_child"')
    tail = SAME_FILE.index("</bpmn:definitions>")
    return SAME_FILE[:head_end], SAME_FILE[head_end:child_at], SAME_FILE[child_at:tail], SAME_FILE[tail:]


@pytest.mark.parametrize("callee_first", [False, True])
def test_processes_of_one_file_that_call_each_other_deploy_and_run(db_session, tmp_path, callee_first):
    head, parent, child, tail = _split()
    path = tmp_path / "calls.bpmn"
    path.write_text(head + (child + parent if callee_first else parent + child) + tail)
    erin = person(db_session, "erin", "engineer")
    deployed = deploy_files(db_session, str(path))
    assert sorted((d.key, d.version) for d in deployed) == [("call_child", 1), ("call_parent", 1)]
    case = services.start_case(db_session, "call_parent", {}, actor=erin)
    assert ready(db_session, case.key) == ["review"]
    complete(db_session, case.key, "review", erin, {"note": "fine"})
    assert queries.find_case(db_session, case.key).status == "closed"


@pytest.mark.parametrize("order", [("parent", "child"), ("child", "parent")])
def test_two_files_of_one_batch_call_each_other_in_any_order(db_session, tmp_path, order):
    head, parent, child, tail = _split()
    paths = []
    for name in order:
        path = tmp_path / f"{name}.bpmn"
        path.write_text(head + (parent if name == "parent" else child) + tail)
        paths.append(str(path))
    erin = person(db_session, "erin", "engineer")
    deploy_files(db_session, *paths)
    case = services.start_case(db_session, "call_parent", {}, actor=erin)
    assert ready(db_session, case.key) == ["review"]


def test_a_call_cycle_in_one_file_is_refused_naming_the_elements(db_session, tmp_path):
    head, parent, child, tail = _split()
    child = child.replace('<bpmn:userTask id="review"', '<bpmn:callActivity id="back" calledElement="call_parent"/>'
                          '<bpmn:sequenceFlow id="cb" sourceRef="back" targetRef="c_end"/>\n'
                          '    <bpmn:userTask id="review"')
    path = tmp_path / "cycle.bpmn"
    path.write_text(head + parent + child + tail)
    with pytest.raises(InvalidDefinition) as caught:
        deploy_files(db_session, str(path))
    messages = [(p["element_id"], p["message"]) for p in caught.value.details]
    assert ("call_review", "call_parent calls itself (call_parent -> call_child -> call_parent): a call activity may "
            "not lead back to its own process; model the repetition as a loop instead") in messages
