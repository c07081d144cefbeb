"""Change request: standard, normal and emergency paths, gates, separation of duties, rollback."""

import pytest

from engine.cases import services
from engine.errors import InvalidData, NotAllowed
from tests.workflows.conftest import after

APPROVE = {"decision": "approve", "comment": ""}
REJECT = {"decision": "reject", "comment": "Not now"}
PASSED = {"verification_result": "passed", "verification_note": "Logins work"}
FAILED = {"verification_result": "failed", "verification_note": "Reports broken"}


def request(change_type, finance="no"):
    return {
        "change_type": change_type,
        "system": "general ledger" if finance == "yes" else "mail",
        "description": "Upgrade to 2.4",
        "finance_system": finance,
        "change_plan": "1. stop 2. upgrade 3. start",
        "rollback_plan": "restore snapshot",
    }


def through_approvals(desk, case, finance=False):
    desk.events(case)
    desk.act(case, "assess_change", {"risk": "medium", "impact_assessment": "30 min outage", **APPROVE}, by="carl")
    assert desk.events(case) == ["task_claimed", "gate_approved"]
    assert desk.tasks(case) == ["cab_approval"]
    desk.act(case, "cab_approval", APPROVE, by="cathy")
    if finance:
        assert desk.tasks(case) == ["finance_approval"]
        desk.act(case, "finance_approval", APPROVE, by="fiona")
    assert desk.tasks(case) == ["test_change"]


def test_standard_change_goes_straight_to_implementation(desk):
    case = desk.start("change_request", request("standard"), by="rita")
    assert case.key.startswith("CHG-")
    assert desk.tasks(case) == ["implement_change"]
    desk.act(case, "implement_change", {"implementation_record": "done"}, by="eve")
    assert desk.tasks(case) == ["verify_change"]
    case = desk.act(case, "verify_change", PASSED, by="ed")
    assert case.status == "closed" and case.outcome == "implemented"
    assert desk.events(case)[-1] == "case_closed"


def test_normal_change_with_finance_system_needs_finance_approval_and_a_test(desk):
    case = desk.start("change_request", request("normal", finance="yes"), by="rita")
    assert desk.events(case) == ["case_started"]
    through_approvals(desk, case, finance=True)
    desk.act(case, "test_change", {"test_record": "Tested in UAT", "test_result": "passed"}, by="eve")
    desk.act(case, "implement_change", {"implementation_record": "done"}, by="eve")
    desk.act(case, "verify_change", PASSED, by="ed")
    assert desk.tasks(case) == ["pir"]
    case = desk.act(case, "pir", {"review_summary": "Achieved"}, by="carl")
    assert case.outcome == "implemented"
    assert desk.closing(case) == {"outcome": "implemented", "missing_records": []}
    assert case.data["cab_approval_decision"] == "approve"


def test_normal_change_without_finance_system_skips_finance(desk):
    case = desk.start("change_request", request("normal"), by="rita")
    through_approvals(desk, case, finance=False)


@pytest.mark.parametrize(
    ("finance", "steps", "rejecting_gate"),
    [
        ("no", [], ("assess_change", "carl")),
        ("yes", [("assess_change", "carl"), ("cab_approval", "cathy")], ("finance_approval", "fiona")),
    ],
)
def test_any_gate_can_reject_a_normal_change(desk, finance, steps, rejecting_gate):
    case = desk.start("change_request", request("normal", finance), by="rita")
    for element, who in steps:
        extra = {"risk": "low", "impact_assessment": "none"} if element == "assess_change" else {}
        desk.act(case, element, {**extra, **APPROVE}, by=who)
    desk.events(case)
    element, who = rejecting_gate
    extra = {"risk": "high", "impact_assessment": "too risky"} if element == "assess_change" else {}
    case = desk.act(case, element, {**extra, **REJECT}, by=who)
    assert case.status == "closed" and case.outcome == "rejected"
    assert desk.events(case) == ["task_claimed", "gate_rejected", "case_closed"]
    assert desk.tasks(case) == []


def test_a_cab_reject_sends_the_change_back_to_assessment_and_the_board_votes_again(desk):
    case = desk.start("change_request", request("normal"), by="rita")
    desk.act(case, "assess_change", {"risk": "low", "impact_assessment": "none", **APPROVE}, by="carl")
    desk.events(case)
    case = desk.act(case, "cab_approval", {"decision": "reject", "comment": "Plan the rollback test first"}, by="cathy")
    assert case.status == "open" and desk.tasks(case) == ["assess_change"]
    assert desk.events(case) == ["vote_cast", "gate_rejected"]
    assert case.data["cab_approval_decision"] == "reject"
    desk.act(case, "assess_change", {"risk": "low", "impact_assessment": "rollback tested", **APPROVE}, by="carl")
    assert desk.tasks(case) == ["cab_approval"]
    desk.act(case, "cab_approval", APPROVE, by="cathy")
    assert desk.tasks(case) == ["test_change"]
    assert case.data["cab_approval_tally"] == {"voters": 1, "approve": 1, "reject": 0, "result": "approve",
                                               "reason": "rule"}


def test_rejecting_needs_a_comment(desk):
    case = desk.start("change_request", request("emergency"), by="rita")
    with pytest.raises(InvalidData) as err:
        desk.act(case, "emergency_approval", {"decision": "reject"}, by="carl")
    assert "comment" in err.value.details
    assert desk.tasks(case) == ["emergency_approval"]


def test_failed_test_withdraws_the_change(desk):
    case = desk.start("change_request", request("normal"), by="rita")
    through_approvals(desk, case)
    case = desk.act(case, "test_change", {"test_record": "Fails in UAT", "test_result": "failed"}, by="eve")
    assert case.status == "closed" and case.outcome == "rejected"


def test_emergency_change_rejected(desk):
    case = desk.start("change_request", request("emergency"), by="rita")
    case = desk.act(case, "emergency_approval", REJECT, by="carl")
    assert case.outcome == "rejected"


def test_emergency_change_rolled_back_with_late_documentation(desk):
    case = desk.start("change_request", request("emergency"), by="rita")
    assert desk.tasks(case) == ["emergency_approval"]
    desk.act(case, "emergency_approval", APPROVE, by="carl")
    desk.act(case, "implement_change", {"implementation_record": "patched live"}, by="eve")
    desk.act(case, "verify_change", FAILED, by="ed")
    assert desk.tasks(case) == ["roll_back"]
    desk.act(case, "roll_back", {"rollback_record": "snapshot restored"}, by="eve")
    assert desk.tasks(case) == ["document_emergency"]
    desk.events(case)

    assert desk.fire(after(case, days=1)) == 0
    assert desk.fire(after(case, days=3)) == 1
    assert desk.tasks(case) == ["chase_documentation", "document_emergency"]
    assert desk.events(case) == ["timer_fired"]  # a reminder, not an escalation of the case
    desk.act(case, "chase_documentation", {"reminder_note": "Eve promised it by Friday"}, by="carl")
    desk.act(case, "document_emergency", {"emergency_documentation": "plan, steps, evidence"}, by="eve")
    assert desk.tasks(case) == ["retrospective_review"]
    case = desk.act(case, "retrospective_review", {"retrospective_notes": "justified"}, by="cathy")
    assert case.status == "closed" and case.outcome == "rolled_back"
    assert desk.closing(case) == {"outcome": "rolled_back", "missing_records": []}


def test_emergency_change_documented_in_time(desk):
    case = desk.start("change_request", request("emergency"), by="rita")
    desk.act(case, "emergency_approval", APPROVE, by="carl")
    desk.act(case, "implement_change", {"implementation_record": "patched"}, by="eve")
    desk.act(case, "verify_change", PASSED, by="ed")
    desk.act(case, "document_emergency", {"emergency_documentation": "all of it"}, by="eve")
    assert desk.fire(after(case, days=3)) == 0
    case = desk.act(case, "retrospective_review", {"retrospective_notes": "fine"}, by="cathy")
    assert case.outcome == "implemented"


def test_standard_change_failing_verification_is_rolled_back(desk):
    case = desk.start("change_request", request("standard"), by="rita")
    desk.act(case, "implement_change", {"implementation_record": "done"}, by="eve")
    desk.act(case, "verify_change", FAILED, by="ed")
    case = desk.act(case, "roll_back", {"rollback_record": "reverted"}, by="eve")
    assert case.status == "closed" and case.outcome == "rolled_back"


def test_the_requester_never_approves_their_own_change(desk, make_user):
    boss = make_user(name="boss", groups=["requester", "change_manager"])
    case = services.start_case(desk.session, "change_request", request("emergency"), actor=boss, title="own")
    task_id = desk.task_id(case, "emergency_approval")
    with pytest.raises(NotAllowed, match="separation of duties"):
        services.complete_task(desk.session, task_id, APPROVE, actor=boss)
    assert desk.tasks(case) == ["emergency_approval"]


def test_whoever_approved_a_change_does_not_implement_it(desk, make_user):
    both = make_user(name="both", groups=["requester", "change_manager", "engineer"])
    case = desk.start("change_request", request("emergency"), by="rita")
    task_id = desk.task_id(case, "emergency_approval")
    services.complete_task(desk.session, task_id, APPROVE, actor=both)
    task_id = desk.task_id(case, "implement_change")
    with pytest.raises(NotAllowed, match="separation of duties"):
        services.complete_task(desk.session, task_id, {"implementation_record": "x"}, actor=both)
    desk.act(case, "implement_change", {"implementation_record": "x"}, by="eve")
    # and the implementer does not verify their own work
    with pytest.raises(NotAllowed, match="separation of duties"):
        desk.act(case, "verify_change", PASSED, by="eve")
