"""Emergency response: the 10-step flow, the recovery target and expert escalation, review."""


from tests.workflows.conftest import after

REPORT = {"system": "social insurance", "symptoms": "Application down in all offices", "business_impact": "No claims"}


def to_recovery(desk, case, fault_type="application"):
    desk.act(case, "accept_and_classify", {"classification": "emergency", "fault_type": fault_type}, by="sam")
    assert desk.tasks(case) == ["start_plan"]
    desk.act(case, "start_plan", {"plan_reference": "EP-3", "notified": "IT director, operations"}, by="mona")
    desk.act(case, "assemble_team", {"team_lead": "Mona", "user_side_team": "Rita",
                                     "provider_side_team": "Eve (software), Ed (database)"}, by="mona")
    desk.act(case, "gather_facts", {"event_category": "application crash", "event_source": "release 5.2",
                                    "evidence": "logs copied to /evidence/EMR"}, by="eve")
    desk.act(case, "contain", {"containment_actions": "Switched to the standby system"}, by="eve")
    assert desk.tasks(case) == ["recover"]


def close(desk, case):
    desk.act(case, "write_report", {"emergency_report": "Crash after release; rolled back"}, by="eve")
    assert desk.tasks(case) == ["review"]
    return desk.act(case, "review", {"root_cause": "untested release", "lessons_learned": "test first",
                                     "rectification_actions": "Release gate by 1 May (Eve)"}, by="mona")


def test_emergency_recovered_in_time_is_reviewed_and_closed(desk):
    case = desk.start("emergency_response", REPORT, by="sam")
    assert case.key.startswith("EMR-")
    assert desk.tasks(case) == ["accept_and_classify"]
    to_recovery(desk, case)
    desk.act(case, "recover", {"recovery_actions": "Rolled back release 5.2"}, by="eve")
    case = close(desk, case)
    assert case.status == "closed" and case.outcome == "resolved"
    assert desk.events(case)[-3:] == ["task_claimed", "task_completed", "case_closed"]
    assert desk.closing(case)["missing_records"] == []


def test_application_fault_not_recovered_in_two_hours_calls_in_experts(desk):
    case = desk.start("emergency_response", REPORT, by="sam")
    to_recovery(desk, case)
    desk.events(case)
    assert desk.fire(after(case, hours=1)) == 0
    assert desk.fire(after(case, hours=2, minutes=30)) == 1
    assert desk.tasks(case) == ["call_experts", "recover"]
    assert desk.events(case) == ["sla_warning", "timer_fired", "case_escalated"]  # warned at 75%
    desk.act(case, "call_experts", {"experts_called": "provider_experts", "experts_note": "DB expert in 1 h"}, by="mona")
    desk.act(case, "recover", {"recovery_actions": "Expert repaired the index"}, by="eve")
    case = close(desk, case)
    assert case.outcome == "resolved" and case.data["experts_called"] == "provider_experts"


def test_other_faults_have_a_four_hour_recovery_target(desk):
    case = desk.start("emergency_response", REPORT, by="sam")
    to_recovery(desk, case, fault_type="network")
    assert desk.fire(after(case, hours=3)) == 0
    assert desk.fire(after(case, hours=4, minutes=30)) == 1
    assert desk.tasks(case) == ["call_experts", "recover"]


def test_not_an_emergency_closes_as_reclassified(desk):
    case = desk.start("emergency_response", REPORT, by="sam")
    case = desk.act(case, "accept_and_classify", {"classification": "not_emergency", "fault_type": "other"}, by="sam")
    assert case.status == "closed" and case.outcome == "reclassified"
    assert desk.tasks(case) == []


def test_a_reclassified_case_owes_no_emergency_records(desk):
    case = desk.start("emergency_response", REPORT, by="sam")
    case = desk.act(case, "accept_and_classify", {"classification": "not_emergency", "fault_type": "other"}, by="sam")
    assert desk.closing(case)["missing_records"] == []
