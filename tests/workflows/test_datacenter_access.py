"""Machine-room access: the information centre approves; entry and exit are registered with items."""

import pytest

from engine.errors import InvalidData, NotAllowed
from tests.workflows.conftest import after

REQUEST = {"visitor_name": "Li Wei", "visitor_type": "vendor_engineer", "visitor_company": "StoreCo",
           "machine_room": "Main machine room", "purpose": "Replace a failed disk in array 2",
           "planned_entry": "2026-12-02T09:00:00+00:00", "planned_items_in": "1 disk, laptop"}
ENTRY = {"entered_at": "2026-12-02T09:05:00+00:00", "identity_checked": "checked", "escort": "eve",
         "items_in": "1 x 2.4 TB disk (SN 99X1), laptop (asset L-17)", "prohibited_items": "none"}
EXIT = {"exited_at": "2026-12-02T10:20:00+00:00", "items_out": "failed disk (SN 41A7), laptop (asset L-17)"}


def test_an_approved_visit_is_registered_in_and_out(desk):
    case = desk.start("datacenter_access", REQUEST, by="rita")
    assert case.key.startswith("DCA-")
    assert desk.tasks(case) == ["approve_entry"]
    desk.act(case, "approve_entry", {"decision": "approve", "entry_conditions": "escorted; row 4 only"}, by="sean")
    assert desk.tasks(case) == ["record_entry"]
    desk.act(case, "record_entry", ENTRY, by="eve")
    case = desk.act(case, "record_exit", EXIT, by="ed")
    assert case.status == "closed" and case.outcome == "completed"
    assert case.data["items_in"].startswith("1 x 2.4 TB disk") and case.data["items_out"].startswith("failed disk")
    assert desk.closing(case) == {"outcome": "completed", "missing_records": []}


def test_only_the_information_centre_approves_and_never_for_itself(desk):
    case = desk.start("datacenter_access", REQUEST, by="sean")
    with pytest.raises(NotAllowed):
        desk.complete(case, "approve_entry", {"decision": "approve"}, by="eve")
    with pytest.raises(NotAllowed, match="requester"):
        desk.complete(case, "approve_entry", {"decision": "approve"}, by="sean")


def test_a_refusal_needs_a_reason_and_closes_the_request(desk):
    case = desk.start("datacenter_access", REQUEST, by="rita")
    with pytest.raises(InvalidData):
        desk.complete(case, "approve_entry", {"decision": "reject"}, by="sean")
    case = desk.act(case, "approve_entry", {"decision": "reject", "comment": "no change window"}, by="sean")
    assert case.status == "closed" and case.outcome == "rejected"
    assert desk.closing(case) == {"outcome": "rejected", "missing_records": []}


def test_an_unused_approval_expires_after_a_day(desk):
    case = desk.start("datacenter_access", REQUEST, by="rita")
    desk.act(case, "approve_entry", {"decision": "approve"}, by="sean")
    assert desk.fire(after(case, hours=23)) == 0
    assert desk.fire(after(case, days=1, minutes=5)) == 1
    case = desk.session.merge(case)
    assert case.status == "closed" and case.outcome == "expired"
    assert desk.tasks(case) == []


def test_a_visitor_still_inside_after_12_hours_is_checked_on(desk):
    case = desk.start("datacenter_access", REQUEST, by="rita")
    desk.act(case, "approve_entry", {"decision": "approve"}, by="sean")
    desk.act(case, "record_entry", ENTRY, by="eve")
    desk.events(case)
    assert desk.fire(after(case, hours=12, minutes=5)) == 1
    assert desk.tasks(case) == ["check_overstay", "record_exit"]
    assert "case_escalated" in desk.events(case)
    desk.act(case, "check_overstay", {"overstay_note": "Still replacing; escorted, leaves at 22:00"}, by="sean")
    case = desk.act(case, "record_exit", EXIT, by="eve")
    assert case.status == "closed" and case.outcome == "completed"
