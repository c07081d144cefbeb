"""In-app notices through the API: each caller sees and clears only their own."""
from __future__ import annotations

from engine.notifications import outbox
from tests.webui.conftest import API


def _announce(session) -> int:
    count = outbox.announce_ready_tasks(session)  # what the worker's pass does
    session.commit()
    return count


def test_notices_list_their_cases_and_clear(api_as, ticket, session):
    desk = api_as("service_desk")
    other = api_as("service_desk", mode="token")
    outsider = api_as("engineer", mode="token")
    case = desk.open_ticket("Printer on fire")
    assert desk.get("/notices").json == []  # the worker has not announced the task yet
    assert _announce(session) == 1
    [notice] = desk.get("/notices").json
    assert notice["kind"] == "task_assigned" and notice["case"] == case["key"]
    assert notice["subject"].startswith(case["key"]) and notice["read_at"] is None
    assert outsider.get("/notices").json == []  # not in the task's group
    assert desk.post(f"/notices/{notice['id']}/read").json == {"changed": 1}
    assert desk.post(f"/notices/{notice['id']}/read").json == {"changed": 0}
    assert desk.get("/notices", query_string={"unread": "true"}).json == []
    assert desk.get("/notices").json[0]["read_at"] is not None
    # Someone else's notice is not found, and "read all" touches only the caller's.
    [theirs] = other.get("/notices").json
    assert desk.post(f"/notices/{theirs['id']}/read").status_code == 404
    assert desk.post("/notices/read").json == {"changed": 0}
    assert other.post("/notices/read").json == {"changed": 1}


def test_notices_query_is_checked(api_as, ticket):
    response = api_as("service_desk").get("/notices", query_string={"unread": "maybe"})
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"unread": ["must be one of true, false"]}


def test_notices_need_credentials(client):
    assert client.get(API + "/notices").status_code == 401
    assert client.post(API + "/notices/read").status_code == 401
