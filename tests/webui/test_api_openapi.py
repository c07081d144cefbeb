"""The OpenAPI document describes every API route, and only routes that exist."""

from __future__ import annotations

from openapi_spec_validator import validate

from webui.api.openapi import API_PREFIX, full_document, openapi_path

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def registered(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route under the API prefix."""
    return {(openapi_path(rule.rule), method.lower())
            for rule in app.url_map.iter_rules() if rule.rule.startswith(API_PREFIX + "/")
            for method in (rule.methods or set()) - IGNORED_METHODS}


def described(doc: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, ops in doc["paths"].items() for method in ops}


def test_every_route_is_described(app):
    missing = registered(app) - described(full_document())
    assert not missing, f"routes missing from webui/api/openapi.py: {sorted(missing)}"


def test_the_served_document_is_valid_and_matches_the_routes(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json
    validate(doc)
    assert described(doc) == registered(app)


def test_the_contract_routes_are_all_registered(app):
    contract = {("/processes", "get"), ("/processes/{key}", "get"),
                ("/processes/{key}/bpmn", "get"), ("/processes", "post"), ("/cases", "post"),
                ("/cases", "get"), ("/cases/{ref}", "get"), ("/cases/{ref}/history", "get"),
                ("/tasks", "get"), ("/tasks/{task_id}", "get"), ("/tasks/{task_id}/claim", "post"),
                ("/tasks/{task_id}/complete", "post"), ("/audit/verify", "get")}
    assert contract <= registered(app)
