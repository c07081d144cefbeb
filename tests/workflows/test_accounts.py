"""Account onboarding and offboarding: approvals, unique accounts, revocation target, hand-over."""

import datetime as dt

import pytest

from engine.cases import queries, services
from engine.errors import NotAllowed
from engine.timing import clock

APPROVE = {"decision": "approve", "comment": ""}
REJECT = {"decision": "reject", "comment": "Not in this unit"}
REQUEST = {"person_name": "Lin Wei", "employee_id": "E1042", "unit": "Finance", "system": "ERP",
           "access_needed": "Accounts payable clerk", "account_type": "standard"}
NEW = {"existing_account": "none", "account_id": "lwei", "permissions_granted": "AP clerk role"}
NOTICE = {"person_name": "Lin Wei", "employee_id": "E1042", "unit": "Finance", "change_kind": "departure",
          "effective_date": "2026-12-01", "accounts": "ERP lwei, VPN lwei", "known_secrets": "AP batch key"}


def test_standard_account_approved_provisioned_and_confirmed(desk):
    case = desk.start("account_onboarding", REQUEST, by="rita")
    assert case.key.startswith("ACC-")
    assert desk.tasks(case) == ["manager_approval"]
    desk.act(case, "manager_approval", APPROVE, by="mona")
    assert desk.tasks(case) == ["provision"]
    desk.act(case, "provision", NEW, by="eve")
    assert desk.tasks(case) == ["confirm_account"]
    case = desk.act(case, "confirm_account", {"confirmation": "works"}, by="rita")
    assert case.status == "closed" and case.outcome == "provisioned"


def test_administrator_account_needs_security_authorization(desk):
    case = desk.start("account_onboarding", {**REQUEST, "account_type": "administrator"}, by="rita")
    desk.act(case, "manager_approval", APPROVE, by="mona")
    assert desk.tasks(case) == ["security_authorization"]
    desk.act(case, "security_authorization", APPROVE, by="sean")
    desk.act(case, "provision", NEW, by="eve")
    desk.act(case, "confirm_account", {"confirmation": "problem", "confirmation_comment": "no admin menu"}, by="rita")
    assert desk.tasks(case) == ["provision"]
    desk.act(case, "provision", {**NEW, "permissions_granted": "ERP admin"}, by="eve")
    case = desk.act(case, "confirm_account", {"confirmation": "works"}, by="rita")
    assert case.outcome == "provisioned"


@pytest.mark.parametrize("account_type", ["standard", "administrator"])
def test_rejections_close_the_request(desk, account_type):
    case = desk.start("account_onboarding", {**REQUEST, "account_type": account_type}, by="rita")
    if account_type == "standard":
        case = desk.act(case, "manager_approval", REJECT, by="mona")
    else:
        desk.act(case, "manager_approval", APPROVE, by="mona")
        case = desk.act(case, "security_authorization", REJECT, by="sean")
    assert case.status == "closed" and case.outcome == "rejected"
    assert "gate_rejected" in desk.events(case)
    assert desk.closing(case)["missing_records"] == []  # a rejected request owes no account records


def test_a_second_account_for_the_same_person_is_refused(desk):
    case = desk.start("account_onboarding", REQUEST, by="rita")
    desk.act(case, "manager_approval", APPROVE, by="mona")
    case = desk.act(case, "provision", {"existing_account": "exists"}, by="eve")
    assert case.status == "closed" and case.outcome == "rejected"


def test_the_requester_does_not_approve_their_own_account(desk, make_user):
    lead = make_user(name="lead", groups=["requester", "manager"])
    case = services.start_case(desk.session, "account_onboarding", REQUEST, actor=lead, title="own")
    with pytest.raises(NotAllowed, match="separation of duties"):
        services.complete_task(desk.session, desk.task_id(case, "manager_approval"), APPROVE, actor=lead)


def start_offboarding(desk):
    case = desk.start("account_offboarding", NOTICE, by="rita")
    assert case.key.startswith("OFF-")
    desk.act(case, "manager_approval", APPROVE, by="mona")
    assert desk.tasks(case) == ["hand_over", "revoke_accounts", "rotate_secrets"]
    return case


def test_offboarding_revokes_rotates_hands_over_and_is_confirmed(desk):
    case = start_offboarding(desk)
    desk.act(case, "revoke_accounts", {"revocation_record": "ERP and VPN disabled"}, by="eve")
    desk.act(case, "rotate_secrets", {"rotated_secrets": "AP batch key replaced"}, by="ed")
    desk.act(case, "hand_over", {"handover_record": "AP manual to Zhang"}, by="mona")
    assert desk.tasks(case) == ["confirm_offboarding"]
    # the engineer who revoked does not confirm their own work
    with pytest.raises(NotAllowed):
        desk.act(case, "confirm_offboarding", {"confirmation_note": "checked"}, by="eve")
    case = desk.act(case, "confirm_offboarding", {"confirmation_note": "No active account left"}, by="sean")
    assert case.status == "closed" and case.outcome == "completed"
    assert desk.closing(case) == {"outcome": "completed", "missing_records": []}


def test_revocation_not_done_in_a_working_day_is_escalated(desk):
    friday = dt.datetime(2026, 11, 6, 10, 0, tzinfo=dt.timezone.utc)  # default calendar: Mon-Fri, UTC
    with clock.frozen(friday):
        case = start_offboarding(desk)
    (revoke,) = [t for t in queries.open_tasks(desk.session, case) if t.element_id == "revoke_accounts"]
    assert revoke.due_at.replace(tzinfo=dt.timezone.utc) == friday + dt.timedelta(days=3)  # Monday 10:00
    desk.events(case)
    assert desk.fire(friday + dt.timedelta(days=1, hours=2)) == 0  # Saturday: no working time passed
    assert desk.fire(friday + dt.timedelta(days=3, minutes=30)) == 1
    assert desk.tasks(case) == ["escalate_revocation", "hand_over", "revoke_accounts", "rotate_secrets"]
    assert desk.events(case) == ["sla_warning", "timer_fired", "case_escalated"]  # warned at 75%
    desk.act(case, "escalate_revocation", {"escalation_note": "Told the IT lead"}, by="mona")
    desk.act(case, "revoke_accounts", {"revocation_record": "done late"}, by="eve")
    desk.act(case, "rotate_secrets", {"rotated_secrets": "done"}, by="eve")
    desk.act(case, "hand_over", {"handover_record": "done"}, by="mona")
    case = desk.act(case, "confirm_offboarding", {"confirmation_note": "ok"}, by="sean")
    assert case.outcome == "completed"


def test_offboarding_rejected(desk):
    case = desk.start("account_offboarding", NOTICE, by="rita")
    case = desk.act(case, "manager_approval", REJECT, by="mona")
    assert case.status == "closed" and case.outcome == "rejected"
