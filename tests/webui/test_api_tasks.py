"""JSON API: task inboxes, claiming, completing; the refusals name their rule."""

from __future__ import annotations


def triage_task(api, case):
    """Return the id of the case's open Triage task."""
    (task,) = [t for t in case["open_tasks"] if t["name"] == "Triage"]
    return task["id"]


def test_inbox_lists_the_tasks_of_my_groups(api_as, ticket):
    desk = api_as("service_desk")
    case = desk.open_ticket()
    listing = desk.get("/tasks")
    assert listing.status_code == 200
    assert [(t["case"], t["name"]) for t in listing.json] == [(case["key"], "Triage")]
    assert api_as("engineer").get("/tasks").json == []
    assert desk.get("/tasks?scope=mine").json == []


def test_task_detail_has_its_form(api_as, ticket):
    desk = api_as("service_desk")
    task_id = triage_task(desk, desk.open_ticket())
    response = desk.get(f"/tasks/{task_id}")
    assert response.status_code == 200
    task = response.json
    assert task["id"] == task_id and task["lane"] == "service_desk"
    assert task["candidate_groups"] == ["service_desk"] and task["assignee"] is None
    (field,) = task["form"]["fields"]
    assert (field["name"], field["type"], field["required"]) == ("note", "text", True)


def test_unknown_task_is_404(api_as, ticket):
    desk = api_as("service_desk")
    for method, path in [("GET", "/tasks/nope"), ("POST", "/tasks/nope/claim"),
                         ("POST", "/tasks/nope/complete")]:
        response = desk.request(method, path, json={"data": {}})
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"


def test_claim_then_someone_else_gets_409(api_as, ticket):
    desk = api_as("service_desk")
    task_id = triage_task(desk, desk.open_ticket())
    claimed = desk.post(f"/tasks/{task_id}/claim")
    assert claimed.status_code == 200
    assert claimed.json["assignee"] == desk.user.name
    assert [t["id"] for t in desk.get("/tasks?scope=mine").json] == [task_id]
    other = api_as("service_desk")
    refused = other.post(f"/tasks/{task_id}/claim")
    assert refused.status_code == 409
    assert desk.user.name in refused.json["error"]["message"]
    assert other.post(f"/tasks/{task_id}/complete", json={"data": {"note": "x"}}).status_code == 409


def test_release_gives_the_task_back(api_as, ticket):
    desk = api_as("service_desk")
    task_id = triage_task(desk, desk.open_ticket())
    desk.post(f"/tasks/{task_id}/claim")
    other = api_as("service_desk")
    assert other.post(f"/tasks/{task_id}/release").status_code == 403
    released = desk.post(f"/tasks/{task_id}/release")
    assert released.status_code == 200 and released.json["assignee"] is None
    assert other.post(f"/tasks/{task_id}/claim").status_code == 200


def test_complete_moves_the_case_on_and_closes_it(api_as, ticket):
    desk = api_as("service_desk")
    case = desk.open_ticket()
    done = desk.post(f"/tasks/{triage_task(desk, case)}/complete",
                     json={"data": {"note": "toner replaced"}})
    assert done.status_code == 200
    assert done.json["key"] == case["key"]
    assert [t["name"] for t in done.json["open_tasks"]] == ["Approve fix"]
    engineer = api_as("engineer")
    approval = done.json["open_tasks"][0]["id"]
    closed = engineer.post(f"/tasks/{approval}/complete",
                           json={"data": {"decision": "approve"}})
    assert closed.status_code == 200
    assert (closed.json["status"], closed.json["outcome"]) == ("closed", "resolved")
    assert closed.json["open_tasks"] == [] and closed.json["closed_at"]
    types = [e["type"] for e in desk.get(f"/cases/{case['key']}/history").json]
    assert "task_completed" in types and "gate_approved" in types


def test_completing_twice_is_409(api_as, ticket):
    desk = api_as("service_desk")
    task_id = triage_task(desk, desk.open_ticket())
    assert desk.post(f"/tasks/{task_id}/complete", json={"data": {"note": "a"}}).status_code == 200
    again = desk.post(f"/tasks/{task_id}/complete", json={"data": {"note": "b"}})
    assert again.status_code == 409
    assert again.json["error"]["code"] == "conflict"


def test_wrong_group_is_403_naming_the_candidate_group(api_as, ticket):
    desk = api_as("service_desk")
    task_id = triage_task(desk, desk.open_ticket())
    response = api_as("engineer").post(f"/tasks/{task_id}/complete", json={"data": {"note": "x"}})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "not_allowed"
    assert "candidate group" in response.json["error"]["message"]
    assert "Service desk group" in response.json["error"]["message"]


def test_requester_may_not_approve_their_own_case(api_as, ticket):
    both = api_as("service_desk", "engineer")
    case = both.open_ticket()
    done = both.post(f"/tasks/{triage_task(both, case)}/complete", json={"data": {"note": "x"}})
    approval = done.json["open_tasks"][0]["id"]
    response = both.post(f"/tasks/{approval}/complete", json={"data": {"decision": "approve"}})
    assert response.status_code == 403
    assert "separation of duties" in response.json["error"]["message"]


def test_invalid_task_data_is_422_per_field(api_as, ticket):
    desk = api_as("service_desk")
    case = desk.open_ticket()
    done = desk.post(f"/tasks/{triage_task(desk, case)}/complete", json={"data": {"note": "x"}})
    approval = done.json["open_tasks"][0]["id"]
    engineer = api_as("engineer")
    response = engineer.post(f"/tasks/{approval}/complete",
                             json={"data": {"decision": "reject", "extra": 1}})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"comment", "extra"}
    assert engineer.get(f"/tasks/{approval}").json["state"] == "ready"


def test_bad_scope_is_400(api_as, ticket):
    response = api_as("service_desk").get("/tasks?scope=everyone")
    assert response.status_code == 400
    assert "scope" in response.json["error"]["details"]


def test_task_and_history_lists_page_with_a_link_header(api_as, ticket):
    desk = api_as("service_desk")
    keys = [desk.open_ticket(f"case {n}")["key"] for n in range(3)]
    first = desk.get("/tasks?per_page=2")
    assert first.status_code == 200 and len(first.json) == 2
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and "page=2" in link and "per_page=2" in link
    rest = desk.client.get(link[1:link.index(">")], headers=desk.headers)
    assert len(rest.json) == 1 and "Link" not in rest.headers
    assert {t["case"] for t in first.json + rest.json} == set(keys)
    desk.post(f"/tasks/{first.json[0]['id']}/claim")
    claimed = first.json[0]["case"]
    history = desk.get(f"/cases/{claimed}/history?per_page=1")
    assert [e["seq"] for e in history.json] == [1]
    assert f"/cases/{claimed}/history?" in history.headers["Link"]
