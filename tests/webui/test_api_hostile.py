"""Odd and hostile input to the JSON API is refused with 400/404 and the error object naming
the field (issue 13), never a 500: NUL characters, lone surrogates, JSON nested 100,000 deep,
integers beyond 64 bits, superscript digits, out-of-range paging."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.webui.conftest import ApiClient

BIG = "9" * 30
RAW = {"Content-Type": "application/json"}


@pytest.fixture
def api(api_as: Callable[..., ApiClient], ticket: str) -> ApiClient:
    return api_as("admin", "service_desk", "engineer", "auditor")


def _refused(response: Any, status: int, field: str | None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["message"]
    if field is not None:
        assert field in error["details"], error
        assert field in error["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({"process": "api_ticket", "title": "a\x00b", "data": {"summary": "x"}}, "title"),
    ({"process": "api_ticket", "dedup_key": "a\x00b", "data": {"summary": "x"}}, "dedup_key"),
    ({"process": "api\x00ticket", "data": {"summary": "x"}}, "process"),
    ({"process": "api_ticket", "data": {"summary": "x\x00"}}, "data.summary"),
    ({"process": "api_ticket", "data": {"summary": "x", "n": 10**30}}, "data.n"),
])
def test_unstorable_text_and_huge_integers_in_a_body_name_the_field(api: ApiClient, body: dict, field: str) -> None:
    _refused(api.post("/cases", json=body), 400, field)


@pytest.mark.parametrize("raw", [
    '{"process": "api_ticket", "title": "\\ud800", "data": {"summary": "x"}}',
    '{"process": "api_ticket", "data": {"summary": "\\udc00"}}',
])
def test_a_lone_surrogate_in_json_is_refused(api: ApiClient, raw: str) -> None:
    response = api.post("/cases", data=raw, headers=RAW)
    assert response.status_code == 400
    assert "surrogate" in response.json["error"]["message"]


def test_json_nested_100000_deep_is_malformed_not_a_crash(api: ApiClient) -> None:
    response = api.post("/cases", data="[" * 100_000 + "]" * 100_000, headers=RAW)
    assert response.status_code == 400
    assert "nested deeper" in response.json["error"]["message"]
    deep = '{"process": "api_ticket", "data": {"summary": "x", "d": ' + "[" * 100 + "]" * 100 + "}}"
    response = api.post("/cases", data=deep, headers=RAW)
    _refused(response, 400, None)
    assert "nested deeper than 64" in response.json["error"]["message"]


@pytest.mark.parametrize(("path", "status", "field"), [
    ("/tasks/a%00b", 400, "path"),
    ("/cases/a%00b", 400, "path"),
    ("/processes/a%00b", 400, "path"),
    ("/audit/verify?case=a%00b", 400, "case"),
    (f"/cases?page={BIG}", 400, "page"),
    ("/cases?page=%C2%B2", 400, "page"),
    (f"/cases?per_page={BIG}", 400, "per_page"),
    ("/cases?per_page=201", 400, "per_page"),
    ("/cases?per_page=0", 400, "per_page"),
    (f"/tasks?page={BIG}", 400, "page"),
    (f"/notices?per_page={BIG}", 400, "per_page"),
    (f"/processes/api_ticket?version={BIG}", 400, "version"),
    (f"/processes/api_ticket/bpmn?version={BIG}", 400, "version"),
    (f"/cases/{BIG}", 404, None),
    (f"/cases/{BIG}/history", 404, None),
    ("/cases/%C2%B2", 404, None),
])
def test_odd_paths_and_parameters_are_400_or_404(api: ApiClient, path: str, status: int, field: str | None) -> None:
    _refused(api.get(path), status, field)


def test_odd_ids_in_writes_are_400_or_404(api: ApiClient) -> None:
    _refused(api.post(f"/notices/{BIG}/read"), 404, None)
    _refused(api.post("/tasks/a%00b/claim"), 400, "path")
    _refused(api.post("/tasks/a%00b/complete", json={"data": {}}), 400, "path")


def test_the_largest_page_is_answered(api: ApiClient) -> None:
    response = api.get("/cases?page=1000000&per_page=200")
    assert response.status_code == 200
    assert response.json == {"items": [], "next_page": None, "next_before": None}


# Found by the schemathesis run in .ci/schemathesis (issue 13).

@pytest.mark.parametrize("field", ["user", "deputy", "note"])
def test_a_delegation_field_that_is_not_text_is_422_naming_it(api: ApiClient, field: str) -> None:
    body: dict[str, Any] = {"deputy": "erin", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}
    body[field] = [None, {"x": 1}]
    _refused(api.post("/delegations", json=body), 422, field)


def test_a_multipart_part_without_a_name_is_400_not_a_crash(api: ApiClient) -> None:
    body = (b'--b\r\nContent-Disposition: form-data\r\n\r\n{"": null}\r\n'
            b'--b\r\nContent-Disposition: form-data; filename="x.zip"\r\n\r\nPK\x03\x04\r\n--b--\r\n')
    response = api.post("/models", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    _refused(response, 400, "form field")


@pytest.mark.parametrize(("path", "field"), [("/evaluations", "period"), ("/metrics?period=%09t", "period")])
def test_a_bad_report_period_is_422_as_the_document_says(api: ApiClient, path: str, field: str) -> None:
    _refused(api.get(path), 422, field)
    operation = api.get("/openapi.json").json["paths"][path.split("?")[0]]["get"]
    assert "422" in operation["responses"]
