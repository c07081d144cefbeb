"""A case of each shipped process is driven to closed through the JSON API by users of the right groups."""

import pytest

from tests.webui.conftest import _api_app, app, token_client  # noqa: F401 - the app fixture, bound to this session
from tests.workflows.conftest import STAFF
from tests.workflows.test_change_request import APPROVE, PASSED, request
from tests.workflows.test_emergency_response import REPORT as EMERGENCY
from tests.workflows.test_incident import DIAGNOSIS, FAULT_RECORD
from tests.workflows.test_incident import REPORT as INCIDENT

SCENARIOS = {
    "incident": ("sam", INCIDENT, [
        ("diagnose", "eve", DIAGNOSIS),
        ("resolve", "eve", {"resolution": "restarted"}),
        ("confirm_resolution", "rita", {"confirmation": "confirmed", "rating": 4}),
        ("fault_record", "eve", FAULT_RECORD),
    ], "resolved"),
    "change_request": ("rita", request("normal", finance="yes"), [
        ("assess_change", "carl", {"risk": "low", "impact_assessment": "none", **APPROVE}),
        ("cab_approval", "cathy", APPROVE),
        ("finance_approval", "fiona", APPROVE),
        ("test_change", "eve", {"test_record": "UAT", "test_result": "passed"}),
        ("implement_change", "eve", {"implementation_record": "done"}),
        ("verify_change", "ed", PASSED),
        ("pir", "carl", {"review_summary": "achieved"}),
    ], "implemented"),
    "emergency_response": ("sam", EMERGENCY, [
        ("accept_and_classify", "sam", {"classification": "emergency", "fault_type": "application"}),
        ("start_plan", "mona", {"plan_reference": "EP-3", "notified": "director"}),
        ("assemble_team", "mona", {"team_lead": "Mona", "user_side_team": "Rita", "provider_side_team": "Eve"}),
        ("gather_facts", "eve", {"event_category": "crash", "event_source": "release", "evidence": "logs"}),
        ("contain", "eve", {"containment_actions": "standby"}),
        ("recover", "eve", {"recovery_actions": "rolled back"}),
        ("write_report", "eve", {"emergency_report": "report"}),
        ("review", "mona", {"root_cause": "c", "lessons_learned": "l", "rectification_actions": "r"}),
    ], "resolved"),
    "account_onboarding": ("rita", {"person_name": "Lin", "employee_id": "E1", "unit": "IT", "system": "ERP",
                                    "access_needed": "admin", "account_type": "administrator"}, [
        ("manager_approval", "mona", APPROVE),
        ("security_authorization", "sean", APPROVE),
        ("provision", "eve", {"existing_account": "none", "account_id": "lin", "permissions_granted": "admin"}),
        ("confirm_account", "rita", {"confirmation": "works"}),
    ], "provisioned"),
    "account_offboarding": ("rita", {"person_name": "Lin", "employee_id": "E1", "unit": "IT",
                                     "change_kind": "transfer", "effective_date": "2026-12-01",
                                     "accounts": "ERP lin"}, [
        ("manager_approval", "mona", APPROVE),
        ("revoke_accounts", "eve", {"revocation_record": "ERP modified"}),
        ("rotate_secrets", "ed", {"rotated_secrets": "none known"}),
        ("hand_over", "mona", {"handover_record": "manuals to Zhang"}),
        ("confirm_offboarding", "sean", {"confirmation_note": "checked"}),
    ], "completed"),
    "backup_restore_drill": ("eve", {"reason": "monthly"}, [
        ("run_backup", "eve", {"system": "ERP", "backup_media": "disk", "media_label": "ERP-1",
                               "backup_date": "2026-11-02", "backup_content": "db"}),
        ("restore", "eve", {"restore_target": "test", "restore_result": "succeeded"}),
        ("verify", "ed", {"integrity_check": "passed", "function_check": "passed"}),
        ("record_drill", "eve", {"drill_report": "ok"}),
    ], "passed"),
}


@pytest.fixture
def staff(app, session, desk):  # noqa: F811 - `app` is the imported fixture
    """An API client per member of the staff, on the pack template (`desk`: the pack deployed, the staff made)."""
    return {name: token_client(app, session, desk[name]) for name in STAFF}


@pytest.mark.parametrize("process", sorted(SCENARIOS))
def test_a_case_closes_through_the_api(staff, process):
    opener, data, steps, outcome = SCENARIOS[process]
    opened = staff[opener].post("/cases", json={"process": process, "title": f"API {process}", "data": data})
    assert opened.status_code == 201, opened.json
    key = opened.json["key"]
    for element, who, form in steps:
        api = staff[who]
        inbox = [t for t in api.get("/tasks").json if t["case"] == key and t["element_id"] == element]
        assert len(inbox) == 1, (element, who)
        task_id = inbox[0]["id"]
        assert api.post(f"/tasks/{task_id}/claim").status_code == 200
        done = api.post(f"/tasks/{task_id}/complete", json={"data": form})
        assert done.status_code == 200, (element, done.json)
    case = staff[opener].get(f"/cases/{key}").json
    assert (case["status"], case["outcome"], case["open_tasks"]) == ("closed", outcome, [])
    history = staff[opener].get(f"/cases/{key}/history").json
    assert history[0]["type"] == "case_started" and history[-1]["type"] == "case_closed"


def test_someone_outside_the_lane_is_refused_with_the_rule(staff):
    opened = staff["rita"].post("/cases", json={"process": "change_request", "title": "x", "data": request("normal")})
    (task,) = opened.json["open_tasks"]
    refused = staff["eve"].post(f"/tasks/{task['id']}/complete",
                                json={"data": {"risk": "low", "impact_assessment": "x", **APPROVE}})
    assert refused.status_code == 403
    assert "candidate group" in refused.json["error"]["message"]
