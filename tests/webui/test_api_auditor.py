"""The auditor reads every case and its history, and every write it tries is 403."""

from __future__ import annotations

from pathlib import Path

import pytest

TICKET = (Path(__file__).parent.parent / "data" / "api_ticket.bpmn").read_bytes()


@pytest.fixture
def scene(api_as, ticket):
    """An open ticket whose triage task a service-desk user has claimed, and an auditor."""
    desk = api_as("service_desk")
    case = desk.open_ticket("audited", dedup_key="host1/disk")
    task_id = case["open_tasks"][0]["id"]
    assert desk.post(f"/tasks/{task_id}/claim").status_code == 200
    return {"case": case, "task": task_id, "auditor": api_as("auditor")}


def test_the_auditor_reads_everything(scene):
    auditor, key, task = scene["auditor"], scene["case"]["key"], scene["task"]
    for path in ["/processes", "/processes/api_ticket", "/processes/api_ticket/bpmn", "/cases",
                 f"/cases/{key}", f"/cases/{key}/history", "/tasks", f"/tasks/{task}",
                 "/audit/verify", f"/audit/verify?case={key}", "/me"]:
        assert auditor.get(path).status_code == 200, path
    assert key in {c["key"] for c in auditor.get("/cases").json["items"]}


@pytest.mark.parametrize("write", [
    "open case", "repeat alert", "deploy", "claim", "release", "complete",
])
def test_every_write_by_the_auditor_is_403(scene, write):
    auditor, case, task = scene["auditor"], scene["case"], scene["task"]
    requests = {
        "open case": ("/cases", {"json": {"process": "api_ticket", "data": {"summary": "x"}}}),
        "repeat alert": ("/cases", {"json": {"process": "api_ticket", "data": {"summary": "x"},
                                             "dedup_key": "host1/disk"}}),
        "deploy": ("/processes", {"data": TICKET, "content_type": "application/xml"}),
        "claim": (f"/tasks/{task}/claim", {}),
        "release": (f"/tasks/{task}/release", {}),
        "complete": (f"/tasks/{task}/complete", {"json": {"data": {"note": "x"}}}),
    }
    path, kw = requests[write]
    response = auditor.post(path, **kw)
    assert response.status_code == 403, response.json
    assert response.json["error"]["code"] == "not_allowed"
    after = auditor.get(f"/cases/{case['key']}").json
    assert after["occurrences"] == 1
    assert after["open_tasks"][0]["assignee"] == scene["case"]["requester"]
    assert len(auditor.get("/cases").json["items"]) == 1


def test_an_unclaimed_task_cannot_be_released_by_the_auditor(api_as, ticket):
    case = api_as("service_desk").open_ticket()
    response = api_as("auditor").post(f"/tasks/{case['open_tasks'][0]['id']}/release")
    assert response.status_code == 403
