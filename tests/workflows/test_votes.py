"""Group approval (votes): the change request's CAB vote, and the rules on a board of its own."""

import pytest
from sqlalchemy import select

from engine.cases import services
from engine.errors import InvalidDefinition, NotAllowed
from engine.processes import deployment
from engine.processes.votes import VoteRules, decide
from models import AuditEvent, HumanTask
from tests.workflows.conftest import after
from tests.workflows.test_change_request import APPROVE, request

BOARD = ["alma", "ben", "chen", "dora"]


@pytest.fixture
def board(desk, make_user):
    """Four CAB members; dora also chairs (change_manager)."""
    for name in BOARD:
        groups = ["requester", "cab"] + (["change_manager"] if name == "dora" else [])
        desk.people[name] = make_user(name=name, groups=groups)
    return desk


def at_cab(desk, by="rita"):
    case = desk.start("change_request", request("normal"), by=by)
    desk.act(case, "assess_change", {"risk": "low", "impact_assessment": "none", **APPROVE}, by="carl")
    desk.events(case)
    return case


def ballots(desk, case):
    """(voter, state) of each vote task row of the case."""
    rows = desk.session.execute(select(HumanTask.assignee_id, HumanTask.state)
                                .where(HumanTask.case_id == case.id, HumanTask.element_id == "cab_approval"))
    names = {p.id: n for n, p in desk.people.items()}
    return sorted((names[a], s) for a, s in rows)


def audit_of(desk, case, kind):
    return list(desk.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.type == kind)
                                     .order_by(AuditEvent.seq)))


def test_each_member_gets_a_vote_and_a_majority_passes(board):
    case = at_cab(board)
    assert ballots(board, case) == sorted((n, "ready") for n in ["cathy", *BOARD])
    board.vote(case, "cab_approval", "approve", "fine", by="alma")
    board.vote(case, "cab_approval", "approve", by="ben")
    assert board.tasks(case).count("cab_approval") == 3
    case = board.vote(case, "cab_approval", "approve", "ok with me", by="chen")
    assert board.tasks(case) == ["test_change"]
    assert dict(ballots(board, case)) == {"alma": "completed", "ben": "completed", "chen": "completed",
                                         "cathy": "cancelled", "dora": "cancelled"}
    assert board.events(case) == ["vote_cast", "vote_cast", "vote_cast", "gate_approved"]
    cast = audit_of(board, case, "vote_cast")
    assert [(e.actor, e.data["data"]["decision"], e.data["data"]["comment"]) for e in cast] == \
        [("alma", "approve", "fine"), ("ben", "approve", ""), ("chen", "approve", "ok with me")]
    assert case.data["cab_approval_tally"] == {"voters": 5, "approve": 3, "reject": 0, "result": "approve",
                                               "reason": "rule"}


def test_one_reject_vetoes_the_change_back_to_assessment(board):
    case = at_cab(board)
    board.vote(case, "cab_approval", "approve", by="alma")
    case = board.vote(case, "cab_approval", "reject", "No rollback test", by="ben")
    assert board.tasks(case) == ["assess_change"]
    assert board.events(case) == ["vote_cast", "vote_cast", "gate_rejected"]
    assert audit_of(board, case, "gate_rejected")[-1].data["vote"]["reason"] == "veto"


def test_a_vote_is_its_members_own(board):
    case = at_cab(board)
    alma_task = board.session.scalars(select(HumanTask.id).where(
        HumanTask.case_id == case.id, HumanTask.assignee_id == board["alma"].id)).one()
    with pytest.raises(NotAllowed, match="alma's"):
        services.complete_task(board.session, alma_task, {"decision": "approve"}, actor=board["ben"])


def test_the_requester_never_votes_on_their_own_change(board):
    case = at_cab(board, by="alma")
    assert "alma" not in dict(ballots(board, case))
    assert case.data["cab_approval_voters"] == ["ben", "cathy", "chen", "dora"]


def test_a_missed_quorum_deadline_escalates_and_the_vote_stays_open(board):
    case = at_cab(board)
    board.vote(case, "cab_approval", "approve", by="alma")
    due = board.session.scalars(select(HumanTask.due_at).where(HumanTask.case_id == case.id,
                                                               HumanTask.state == "ready")).first()
    assert due is not None
    board.events(case)
    assert board.fire(after(case, days=3, hours=1)) == 1
    # the reminder before the deadline, then the deadline itself
    assert board.events(case) == ["sla_warning", "timer_fired", "case_escalated"]
    assert board.tasks(case).count("cab_approval") == 4
    board.vote(case, "cab_approval", "approve", by="ben")
    case = board.vote(case, "cab_approval", "approve", by="chen")
    assert board.tasks(case) == ["test_change"]


BOARD_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://opsgate.example/test">
  <bpmn:process id="board_vote" name="Board vote" isExecutable="true">
    <bpmn:startEvent id="start" name="Proposed"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="vote" name="Board vote" camunda:candidateGroups="cab">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="decision" label="Decision" type="enum">
            <camunda:value id="approve" name="Approve" /><camunda:value id="reject" name="Reject" />
          </camunda:formField>
          <camunda:formField id="comment" label="Comment" type="text" />
        </camunda:formData>
        <camunda:properties>PROPS</camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" name="Approved?" default="f4">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="yes" name="Approved">
      <bpmn:extensionElements><camunda:properties><camunda:property name="outcome" value="approved" />
      </camunda:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="no" name="Rejected">
      <bpmn:extensionElements><camunda:properties><camunda:property name="outcome" value="rejected" />
      </camunda:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="vote" />
    <bpmn:sequenceFlow id="f2" sourceRef="vote" targetRef="gw" />
    <bpmn:sequenceFlow id="f3" name="approve" sourceRef="gw" targetRef="yes">
      <bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" name="reject" sourceRef="gw" targetRef="no" />
  </bpmn:process>
</bpmn:definitions>
"""


def board_process(board, **props):
    text = "".join(f'<camunda:property name="{k}" value="{v}" />' for k, v in props.items())
    source = BOARD_BPMN.replace("PROPS", text).encode()
    deployment.deploy(board.session, [("board_vote.bpmn", source)], actor=None)
    return board.start("board_vote", {}, by="rita")


def test_a_tie_goes_to_the_chair(board):
    board.session.delete(board["cathy"])  # four members: two against two
    board.session.flush()
    case = board_process(board, vote="majority", vote_chair="change_manager")
    board.vote(case, "vote", "approve", by="alma")
    board.vote(case, "vote", "reject", "too soon", by="ben")
    board.vote(case, "vote", "reject", "too soon", by="chen")
    case = board.vote(case, "vote", "approve", "worth it", by="dora")
    assert case.status == "closed" and case.outcome == "approved"
    assert audit_of(board, case, "gate_approved")[-1].data["vote"] == {
        "voters": 4, "approve": 2, "reject": 2, "result": "approve", "reason": "chair"}


def test_n_of_m_and_a_deadline_that_rejects(board):
    case = board_process(board, vote="2", vote_deadline="PT8H", vote_on_deadline="reject")
    board.vote(case, "vote", "approve", by="alma")
    board.events(case)
    board.fire(after(case, hours=9))
    # the voters were reminded at 75% of the time (6 hours), then the vote closed
    assert board.events(case) == ["sla_warning", "timer_fired", "vote_closed", "gate_rejected", "case_closed"]
    case = board.session.merge(case)
    assert case.outcome == "rejected" and board.tasks(case) == []


@pytest.mark.parametrize(("props", "message"), [
    ({"vote": "most"}, "vote 'most' is not a rule"),
    ({"vote": "majority", "vote_veto": "maybe"}, "vote_veto 'maybe' must be true or false"),
    ({"vote": "majority", "vote_chair": "board_chair"}, "vote_chair 'board_chair' is not a known group"),
    ({"vote": "any", "vote_deadline": "P2X"}, "not a valid ISO 8601"),
    ({"vote": "any", "vote_on_deadline": "reject"}, "vote_deadline is not"),
    ({"vote_veto": "true"}, "without the vote property"),
])
def test_deploy_names_what_is_wrong_with_a_vote(board, props, message):
    with pytest.raises(InvalidDefinition) as err:
        board_process(board, **props)
    assert any(message in d["message"] and d["element_id"] == "vote" for d in err.value.details)


@pytest.mark.parametrize(("rules", "votes", "expected"), [
    (VoteRules("any"), {"a": "approve"}, ("approve", "rule")),
    (VoteRules("any"), {"a": "reject", "b": "reject"}, (None, None)),
    (VoteRules("all"), {"a": "approve", "b": "reject"}, ("reject", "veto")),
    (VoteRules("n", n=2), {"a": "reject", "b": "reject"}, (None, None)),
    (VoteRules("n", n=2), {"a": "reject", "b": "reject", "c": "reject"}, ("reject", "rule")),
    (VoteRules("majority"), {"a": "reject", "b": "reject"}, (None, None)),
    (VoteRules("majority"), {"a": "approve", "b": "approve", "c": "reject", "d": "reject"}, ("reject", "no_majority")),
])
def test_decide(rules, votes, expected):
    tally = decide(rules, ["a", "b", "c", "d"], votes)
    assert (tally.result, tally.reason) == expected
