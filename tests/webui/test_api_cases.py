"""JSON API: opening, listing and reading cases, with a token and with a session."""

from __future__ import annotations

import pytest


def test_open_case_answers_201_with_the_case(api_as, ticket):
    api = api_as("service_desk")
    response = api.post("/cases", json={"process": "api_ticket", "title": "Mail down",
                                        "data": {"summary": "Mail down", "impact": "high"}})
    assert response.status_code == 201
    case = response.json
    assert case["key"].startswith("TKT-")
    assert case["process"] == "api_ticket" and case["version"] == 1
    assert case["status"] == "open" and case["outcome"] is None
    assert case["title"] == "Mail down"
    assert case["requester"] == api.user.name
    assert case["data"]["impact"] == "high"
    assert case["occurrences"] == 1 and case["dedup_key"] is None
    assert case["sla_paused_since"] is None and case["sla_paused_seconds"] == 0  # no pending time
    assert [t["name"] for t in case["open_tasks"]] == ["Triage"]
    assert case["open_tasks"][0]["case"] == case["key"]


def test_open_case_checks_the_start_form(api_as, ticket):
    api = api_as("service_desk")
    response = api.post("/cases", json={"process": "api_ticket",
                                        "data": {"impact": "huge", "colour": "red"}})
    assert response.status_code == 422
    details = response.json["error"]["details"]
    assert set(details) == {"summary", "impact", "colour"}
    assert api.get("/cases").json["items"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "no process"}, "process"),
    ({"process": "api_ticket", "data": ["not", "an", "object"]}, "data"),
    ({"process": "api_ticket", "title": 5, "data": {"summary": "x"}}, "title"),
    ({"process": "api_ticket", "data": {"summary": "x"}, "summary": "x"}, "summary"),
    ({"process": "api_ticket", "data": {"summary": "x"}, "dedup_key": ""}, "dedup_key"),
])
def test_open_case_names_the_bad_envelope_field(api_as, ticket, body, field):
    response = api_as("service_desk").post("/cases", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_data"
    assert field in response.json["error"]["details"]


def test_open_case_of_unknown_process_is_404(api_as, ticket):
    response = api_as("service_desk").post("/cases", json={"process": "nope", "data": {}})
    assert response.status_code == 404
    assert "nope" in response.json["error"]["message"]


def test_get_case_by_key_and_by_id(api_as, ticket):
    api = api_as("service_desk")
    case = api.open_ticket()
    by_key = api.get(f"/cases/{case['key']}")
    by_id = api.get(f"/cases/{case['id']}")
    assert by_key.status_code == by_id.status_code == 200
    assert by_key.json == by_id.json
    assert by_key.json["open_tasks"][0]["candidate_groups"] == ["service_desk"]


def test_unknown_case_is_404(api_as, ticket):
    api = api_as("service_desk")
    for ref in ("TKT-999999", "424242"):
        response = api.get(f"/cases/{ref}")
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"
    assert api.get("/cases/TKT-999999/history").status_code == 404


def test_a_plain_requester_may_not_read_anothers_case(api_as, ticket):
    case = api_as("service_desk").open_ticket()
    response = api_as().get(f"/cases/{case['key']}")
    assert response.status_code == 403
    assert "role" in response.json["error"]["message"]


def test_history_is_oldest_first_and_hash_linked(api_as, ticket):
    api = api_as("service_desk")
    case = api.open_ticket()
    response = api.get(f"/cases/{case['key']}/history")
    assert response.status_code == 200
    events = response.json
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "case_started" and events[0]["actor"] == api.user.name
    assert all(len(e["hash"]) == 64 for e in events)


def test_list_filters_by_process_and_status(api_as, ticket, deploy, session):
    deploy("four_steps.bpmn")
    session.commit()
    api = api_as("service_desk")
    first = api.open_ticket("one")
    api.open_ticket("two")
    listing = api.get("/cases?process=api_ticket&status=open")
    assert listing.status_code == 200
    assert [c["title"] for c in listing.json["items"]] == ["two", "one"]
    assert listing.json["next_page"] is None
    assert api.get("/cases?status=closed").json["items"] == []
    assert api.get("/cases?process=other").json["items"] == []
    assert first["key"] in {c["key"] for c in api.get("/cases").json["items"]}


def test_list_pages(api_as, ticket):
    api = api_as("service_desk")
    keys = [api.open_ticket(f"case {n}")["key"] for n in range(5)]
    seen, page = [], 1
    while page is not None:
        response = api.get(f"/cases?per_page=2&page={page}")
        assert response.status_code == 200
        assert len(response.json["items"]) <= 2
        seen += [c["key"] for c in response.json["items"]]
        page = response.json["next_page"]
    assert seen == keys[::-1]


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=-1", "status=maybe"])
def test_bad_list_parameters_are_400_naming_the_parameter(api_as, ticket, query):
    response = api_as("service_desk").get(f"/cases?{query}")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert query.split("=")[0] in response.json["error"]["details"]


def test_a_plain_requester_lists_only_their_own_cases(api_as, ticket):
    api_as("service_desk").open_ticket("staff case")
    requester = api_as()
    mine = requester.open_ticket("my case")
    assert [c["key"] for c in requester.get("/cases").json["items"]] == [mine["key"]]


def test_numbered_pages_keep_the_filters_and_match_pages_by_key(api_as, ticket):
    """A numbered page skips over ids only (queries._page_ids): the filters and the reader's
    own cases must hold on every page, and page n must be what `before=` gives from page n-1."""
    staff, requester = api_as("service_desk"), api_as()
    mine = []
    for n in range(5):
        staff.open_ticket(f"staff {n}")
        mine.append(requester.open_ticket(f"mine {n}")["key"])
    pages, page = [], 1
    while page is not None:
        listing = requester.get(f"/cases?per_page=2&page={page}").json
        pages.append([c["key"] for c in listing["items"]])
        page = listing["next_page"]
    assert pages == [mine[:2:-1], mine[2:0:-1], mine[:1]]
    by_number = staff.get("/cases?per_page=3&page=2&process=api_ticket").json["items"]
    first = staff.get("/cases?per_page=3&process=api_ticket").json["items"]
    by_key = staff.get(f"/cases?per_page=3&process=api_ticket&before={first[-1]['id']}").json["items"]
    assert [c["key"] for c in by_number] == [c["key"] for c in by_key]
    assert len(by_number) == 3
