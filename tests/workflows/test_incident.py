"""Incident: priority from the DMN, diagnosis, resolution, escalation on the SLA timer, confirmation."""

import pytest

from engine.errors import InvalidData, NotAllowed
from tests.workflows.conftest import after

REPORT = {
    "requested_for": "rita",  # the service desk logs the call of the affected user
    "source": "phone",
    "system": "core banking",
    "symptoms": "Tellers cannot post transactions",
    "impact": "high",
    "urgency": "high",
}
DIAGNOSIS = {"diagnosis_report": "DB connection pool exhausted", "fault_level": "critical", "emergency_actions": "none"}
FAULT_RECORD = {"fault_symptoms": "posting fails", "fault_solution": "pool raised", "fault_result": "service restored"}


def resolve_and_confirm(desk, case, rating=5):
    desk.act(case, "diagnose", DIAGNOSIS, by="eve")
    assert "resolve" in desk.tasks(case)
    desk.act(case, "resolve", {"resolution": "Raised the pool size, restarted"}, by="eve")
    assert "confirm_resolution" in desk.tasks(case)
    return desk.act(case, "confirm_resolution", {"confirmation": "confirmed", "rating": rating}, by="rita")


def test_p1_incident_is_diagnosed_resolved_confirmed_and_recorded(desk):
    case = desk.start("incident", REPORT, by="sam")
    assert case.key.startswith("INC-")
    assert case.priority == "P1"
    assert case.data["sla_resolve"] == "PT2H" and case.data["sla_response"] == "PT15M"
    assert desk.tasks(case) == ["diagnose"]
    assert desk.events(case)[0] == "case_started"

    desk.act(case, "diagnose", DIAGNOSIS, by="eve")
    assert desk.events(case) == ["task_claimed", "task_completed"]
    desk.act(case, "resolve", {"resolution": "Raised the pool size"}, by="eve")
    desk.act(case, "confirm_resolution", {"confirmation": "confirmed", "rating": 5}, by="rita")
    desk.events(case)
    assert desk.tasks(case) == ["fault_record"]
    case = desk.act(case, "fault_record", FAULT_RECORD, by="eve")

    assert case.status == "closed" and case.outcome == "resolved"
    assert desk.tasks(case) == []
    assert desk.events(case) == ["task_claimed", "task_completed", "case_closed"]
    assert case.data["rating"] == 5 and case.data["diagnosis_report"]
    assert desk.closing(case) == {"outcome": "resolved", "missing_records": []}


def test_requester_reopens_and_the_incident_goes_back_to_diagnosis(desk):
    case = desk.start("incident", REPORT, by="sam")
    desk.act(case, "diagnose", DIAGNOSIS, by="eve")
    desk.act(case, "resolve", {"resolution": "restarted"}, by="eve")
    case = desk.act(case, "confirm_resolution", {"confirmation": "reopen", "confirmation_comment": "still down"}, by="rita")
    assert case.status == "open"
    assert desk.tasks(case) == ["diagnose"]
    resolve_and_confirm(desk, case)
    case = desk.act(case, "fault_record", FAULT_RECORD, by="eve")
    assert case.outcome == "resolved"


def test_resolution_target_passing_opens_an_escalation_and_work_goes_on(desk):
    case = desk.start("incident", REPORT, by="sam")
    desk.act(case, "diagnose", DIAGNOSIS, by="eve")
    desk.events(case)

    assert desk.fire(after(case, hours=1, minutes=59)) == 0
    assert desk.tasks(case) == ["resolve"]

    assert desk.fire(after(case, hours=2, minutes=1)) == 1
    assert desk.tasks(case) == ["escalate", "resolve"]
    assert desk.events(case) == ["sla_warning", "timer_fired", "case_escalated"]  # warned at 75%

    desk.act(case, "escalate", {"escalated_to": "vendor", "escalation_reference": "V-77",
                                "escalation_note": "Asked the DB vendor for a hotfix"}, by="eve")
    desk.act(case, "resolve", {"resolution": "Vendor hotfix applied"}, by="eve")
    desk.act(case, "confirm_resolution", {"confirmation": "confirmed", "rating": 3}, by="rita")
    case = desk.act(case, "fault_record", FAULT_RECORD, by="eve")
    assert case.status == "closed" and case.outcome == "resolved"
    assert case.data["escalated_to"] == "vendor"


def test_case_waits_for_the_escalation_record_before_closing(desk):
    case = desk.start("incident", REPORT, by="sam")
    assert desk.fire(after(case, hours=3)) == 1
    assert desk.events(case)[-2:] == ["timer_fired", "case_escalated"]
    resolve_and_confirm(desk, case)
    case = desk.act(case, "fault_record", FAULT_RECORD, by="eve")
    assert case.status == "open" and desk.tasks(case) == ["escalate"]
    case = desk.act(case, "escalate", {"escalated_to": "second_line", "escalation_note": "late"}, by="eve")
    assert case.status == "closed" and case.outcome == "resolved"


@pytest.mark.parametrize(
    ("impact", "urgency", "priority", "resolve"),
    [
        ("high", "high", "P1", "PT2H"),
        ("high", "medium", "P2", "PT8H"),
        ("medium", "high", "P2", "PT8H"),
        ("medium", "medium", "P3", "PT24H"),
        ("low", "high", "P3", "PT24H"),
        ("low", "low", "P4", "PT72H"),
    ],
)
def test_priority_and_resolution_target_come_from_the_decision_table(desk, impact, urgency, priority, resolve):
    case = desk.start("incident", {**REPORT, "impact": impact, "urgency": urgency}, by="sam")
    assert case.priority == priority
    assert case.data["sla_resolve"] == resolve


def test_only_engineers_diagnose(desk):
    case = desk.start("incident", REPORT, by="sam")
    with pytest.raises(NotAllowed):
        desk.act(case, "diagnose", DIAGNOSIS, by="sam")
    assert desk.tasks(case) == ["diagnose"]


def test_the_report_form_is_checked(desk):
    with pytest.raises(InvalidData) as err:
        desk.start("incident", {**REPORT, "impact": "enormous", "system": ""}, by="sam")
    assert {"impact", "system"} <= set(err.value.details)
