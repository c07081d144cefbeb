"""Every failure under /api/ is the JSON error model: no HTML, no traceback."""

from __future__ import annotations

import pytest

from engine.cases import queries, services


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert error["message"] and set(error) == {"code", "message", "details"}
    return error


@pytest.mark.parametrize(("data", "content_type", "needle"), [
    ('{"process": "api_ticket", ', "application/json", "Malformed JSON"),
    ('["a list"]', "application/json", "JSON object"),
    ('process=api_ticket', "application/x-www-form-urlencoded", "Content-Type"),
    ('', "application/json", "Malformed JSON"),
])
def test_a_malformed_body_is_400(api_as, ticket, data, content_type, needle):
    response = api_as("service_desk").post("/cases", data=data, content_type=content_type)
    assert needle in assert_error(response, 400, "bad_request")["message"]


def test_an_oversized_body_is_413(api_as, ticket):
    body = {"process": "api_ticket", "data": {"summary": "x" * 300_000}}
    response = api_as("service_desk").post("/cases", json=body)
    assert_error(response, 413, "payload_too_large")


def test_an_unknown_api_path_is_a_json_404(api_as):
    assert_error(api_as().get("/no/such/thing"), 404, "not_found")


def test_an_unknown_path_is_json_even_without_credentials(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")
    assert_error(client.get("/api/v2/cases"), 404, "not_found")


def test_a_wrong_method_is_a_json_405(api_as):
    response = api_as().request("DELETE", "/cases")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_an_unexpected_failure_is_a_json_500_without_traceback(api_as, ticket, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "list_tasks", explode)
    response = api_as("service_desk").get("/tasks")
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert error["details"] is None


def test_engine_errors_keep_their_details(api_as, ticket):
    response = api_as("service_desk").post("/cases", json={"process": "api_ticket", "data": {}})
    error = assert_error(response, 422, "invalid_data")
    assert error["details"] == {"summary": ["Summary is required"]}


def test_an_oversized_upload_is_413(api_as, app):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = api_as("process_owner").post("/processes", data=b"<x>" + b" " * 20_000 + b"</x>",
                                            content_type="application/xml")
    assert_error(response, 413, "payload_too_large")


def test_a_race_lost_at_commit_is_409(api_as, ticket, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError

    def lose(*args, **kwargs):
        raise StaleDataError("UPDATE statement on table 'case' expected to update 1 row(s)")

    monkeypatch.setattr(services, "claim_task", lose)
    response = api_as("service_desk").post("/tasks/any/claim")
    error = assert_error(response, 409, "conflict")
    assert "changed by someone else" in error["message"]
