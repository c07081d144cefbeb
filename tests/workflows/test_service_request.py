"""Service request (work order): dispatch, work, confirmation with a rating, SLA by category."""

import pytest

from engine.errors import InvalidData
from tests.workflows.conftest import after

PRINTER = {"category": "printer", "description": "Printer on floor 3 jams on every page",
           "location": "Building A, room 301", "requested_for": "rita"}
WORK = {"work_record": "Replaced the fuser unit; test pages print", "work_hours": 1.5}


def test_work_order_is_dispatched_done_confirmed_and_rated(desk):
    case = desk.start("service_request", PRINTER, by="sam")
    assert case.key.startswith("SRQ-")
    assert case.data["sla_hours"] == 8
    assert desk.tasks(case) == ["dispatch_order"]
    desk.act(case, "dispatch_order", {"dispatch_decision": "dispatch", "dispatch_to": "provider",
                                "provider": "Acme IT", "dispatch_note": "fuser suspected"}, by="sam")
    assert case.provider == "Acme IT"
    assert desk.tasks(case) == ["do_work"]
    desk.act(case, "do_work", WORK, by="eve")
    assert desk.tasks(case) == ["confirm"]
    case = desk.act(case, "confirm", {"confirmation": "confirmed", "rating": 4, "feedback": "quick"}, by="rita")
    assert case.status == "closed" and case.outcome == "completed"
    assert case.data["rating"] == 4 and case.data["work_hours"] == 1.5
    assert desk.closing(case) == {"outcome": "completed", "missing_records": []}


def test_the_requester_sends_the_work_back(desk):
    case = desk.start("service_request", PRINTER, by="sam")
    desk.act(case, "dispatch_order", {"dispatch_decision": "dispatch", "dispatch_to": "engineer",
                                "assigned_engineer": "eve"}, by="sam")
    desk.act(case, "do_work", WORK, by="eve")
    case = desk.act(case, "confirm", {"confirmation": "reopen", "rating": 2, "feedback": "still jams"}, by="rita")
    assert case.status == "open" and desk.tasks(case) == ["do_work"]
    desk.act(case, "do_work", {"work_record": "Replaced the pickup roller too", "work_hours": 1}, by="ed")
    case = desk.act(case, "confirm", {"confirmation": "confirmed", "rating": 5}, by="rita")
    assert case.outcome == "completed" and case.data["rating"] == 5


def test_a_declined_request_closes_without_work_records(desk):
    case = desk.start("service_request", {**PRINTER, "category": "other"}, by="rita")
    case = desk.act(case, "dispatch_order", {"dispatch_decision": "decline",
                                       "dispatch_note": "personal printer, not supported"}, by="sam")
    assert case.status == "closed" and case.outcome == "rejected"
    assert desk.closing(case) == {"outcome": "rejected", "missing_records": []}


@pytest.mark.parametrize(("category", "hours"), [("network", 4), ("desktop", 8), ("software", 24), ("equipment", 40)])
def test_the_sla_follows_the_category(desk, category, hours):
    case = desk.start("service_request", {**PRINTER, "category": category}, by="rita")
    assert case.data["sla_hours"] == hours


def test_an_overdue_work_order_is_chased_and_the_work_goes_on(desk):
    case = desk.start("service_request", {**PRINTER, "category": "network"}, by="rita")
    desk.act(case, "dispatch_order", {"dispatch_decision": "dispatch", "dispatch_to": "engineer"}, by="sam")
    desk.events(case)
    assert desk.fire(after(case, hours=3, minutes=50)) == 0
    assert desk.fire(after(case, hours=4, minutes=1)) == 1
    assert desk.tasks(case) == ["chase_work", "do_work"]
    assert "case_escalated" in desk.events(case)
    desk.act(case, "chase_work", {"chase_note": "Eve on site at 15:00"}, by="ed")
    desk.act(case, "do_work", WORK, by="eve")
    case = desk.act(case, "confirm", {"confirmation": "confirmed", "rating": 3}, by="rita")
    assert case.status == "closed" and case.outcome == "completed"


def test_the_rating_must_be_one_to_five(desk):
    case = desk.start("service_request", PRINTER, by="sam")
    desk.act(case, "dispatch_order", {"dispatch_decision": "dispatch", "dispatch_to": "engineer"}, by="sam")
    desk.act(case, "do_work", WORK, by="eve")
    with pytest.raises(InvalidData) as err:
        desk.complete(case, "confirm", {"confirmation": "confirmed", "rating": 6}, by="rita")
    assert "rating" in err.value.details
