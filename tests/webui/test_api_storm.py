"""Alert storms: posts with a dedup_key fold into the open case with that key."""

from __future__ import annotations

import pytest

from engine.processes import catalog, deployment

ALERT = {"source": "monitoring", "symptoms": "disk 98% full", "impact": "medium",
         "urgency": "high"}


@pytest.fixture
def pack(session):
    """The shipped process pack, deployed."""
    deployment.deploy_directory(session, catalog.workflows_dir(), actor=None)
    session.commit()


def test_200_alerts_with_5_keys_make_5_incidents(api_as, pack):
    monitoring = api_as("service_desk", mode="token")
    statuses: dict[int, int] = {}
    for n in range(200):
        host = f"db{n % 5}"
        response = monitoring.post("/cases", json={
            "process": "incident", "title": f"{host}: disk full", "dedup_key": f"{host}/disk",
            "data": {**ALERT, "system": host}})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert statuses == {201: 5, 200: 195}
    items = monitoring.get("/cases?process=incident&status=open").json["items"]
    assert len(items) == 5
    assert sorted(c["dedup_key"] for c in items) == [f"db{n}/disk" for n in range(5)]
    assert [c["occurrences"] for c in items] == [40] * 5
    assert sum(c["occurrences"] for c in items) == 200
    history = monitoring.get(f"/cases/{items[0]['key']}/history").json
    repeats = [e for e in history if e["type"] == "occurrence_added"]
    assert len(repeats) == 39
    assert repeats[-1]["data"]["occurrence"] == 40
    assert repeats[-1]["actor"] == monitoring.user.name


def test_a_repeat_answers_200_with_the_open_case(api_as, ticket):
    api = api_as("service_desk")
    first = api.post("/cases", json={"process": "api_ticket", "dedup_key": "web/http",
                                     "data": {"summary": "web down"}})
    again = api.post("/cases", json={"process": "api_ticket", "dedup_key": "web/http",
                                     "title": "still down", "data": {"summary": "web down"}})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["key"] == first.json["key"] and again.json["occurrences"] == 2
    other = api.post("/cases", json={"process": "api_ticket", "dedup_key": "web/dns",
                                     "data": {"summary": "dns down"}})
    assert other.status_code == 201 and other.json["key"] != first.json["key"]


def test_after_the_case_closes_the_key_opens_a_new_case(api_as, ticket):
    desk, engineer = api_as("service_desk"), api_as("engineer")
    body = {"process": "api_ticket", "dedup_key": "web/http", "data": {"summary": "web down"}}
    first = desk.post("/cases", json=body).json
    done = desk.post(f"/tasks/{first['open_tasks'][0]['id']}/complete",
                     json={"data": {"note": "restarted"}}).json
    closed = engineer.post(f"/tasks/{done['open_tasks'][0]['id']}/complete",
                           json={"data": {"decision": "approve"}}).json
    assert closed["status"] == "closed"
    again = desk.post("/cases", json=body)
    assert again.status_code == 201
    assert again.json["key"] != first["key"] and again.json["occurrences"] == 1


def test_a_repeat_is_not_checked_against_the_start_form(api_as, ticket):
    api = api_as("service_desk")
    api.post("/cases", json={"process": "api_ticket", "dedup_key": "k",
                             "data": {"summary": "first"}})
    # The incident exists; a terse repeat still counts rather than bouncing the monitor.
    again = api.post("/cases", json={"process": "api_ticket", "dedup_key": "k", "data": {}})
    assert again.status_code == 200 and again.json["occurrences"] == 2
