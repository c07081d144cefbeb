"""JSON API authentication: bearer tokens, browser sessions, and CSRF for session writes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from models import ApiToken

TICKET = {"process": "api_ticket", "data": {"summary": "x"}}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer og_not_a_real_token"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer "},
])
def test_without_valid_credentials_every_route_is_401(client, ticket, headers):
    for method, path in [("GET", "/api/v1/cases"), ("POST", "/api/v1/cases"),
                         ("GET", "/api/v1/tasks"), ("GET", "/api/v1/me")]:
        response = client.open(path, method=method, headers=headers, json=TICKET)
        assert response.status_code == 401, path
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_401(api_as, ticket, session):
    api = api_as("service_desk", mode="token")
    assert api.get("/me").status_code == 200
    session.execute(update(ApiToken).values(revoked_at=dt.datetime.now(dt.timezone.utc)))
    session.commit()
    assert api.get("/me").status_code == 401


def test_an_inactive_users_token_is_401(api_as, ticket, session):
    api = api_as("service_desk", mode="token")
    api.user.active = False
    session.commit()
    assert api.get("/cases").status_code == 401


def test_me_tells_who_is_calling(api_as, ticket, auth):
    api = api_as("service_desk")
    me = api.get("/me").json
    assert me["name"] == api.user.name and me["auth"] == auth
    assert set(me["groups"]) == {"requester", "service_desk"}
    assert (me["csrf_token"] is not None) == (auth == "session")


def test_token_requests_need_no_csrf_token_and_set_no_cookie(api_as, ticket):
    api = api_as("service_desk", mode="token")
    response = api.post("/cases", json=TICKET)
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_session_writes_need_the_csrf_header(api_as, ticket):
    api = api_as("service_desk", mode="session")
    refused = api.post("/cases", json=TICKET, headers={"X-CSRFToken": ""})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "csrf_failed"
    forged = api.post("/cases", json=TICKET, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 403
    assert api.get("/cases").json["items"] == []
    assert api.post("/cases", json=TICKET).status_code == 201


def test_session_reads_need_no_csrf_header(api_as, ticket):
    api = api_as("service_desk", mode="session")
    assert api.get("/cases", headers={"X-CSRFToken": ""}).status_code == 200


def test_a_bad_token_is_refused_even_with_a_session(api_as, ticket):
    api = api_as("service_desk", mode="session")
    response = api.get("/cases", headers={"Authorization": "Bearer og_wrong"})
    assert response.status_code == 401


def test_the_openapi_document_needs_no_credentials(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.")


def documented_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document, path parameters filled."""
    from webui.api.openapi import full_document

    ops = []
    for path, methods in full_document()["paths"].items():
        for method in methods:
            if path != "/openapi.json":
                filled = path.replace("{key}", "api_ticket").replace("{ref}", "TKT-000001")
                filled = filled.replace("{task_id}", "some-task")
                # every other parameter is a number (notice, model, delegation ids, versions)
                ops.append((method.upper(), re.sub(r"\{[a-z_]+\}", "1", filled)))
    return ops


@pytest.mark.parametrize(("method", "path"), documented_operations())
def test_every_documented_operation_is_401_without_credentials(client, ticket, method, path):
    response = client.open("/api/v1" + path, method=method, json={})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_token_records_when_it_was_last_used(api_as, ticket, session):
    from engine.timing import clock

    api = api_as("service_desk", mode="token")
    t0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc)

    def stamp() -> dt.datetime | None:
        session.expire_all()
        return session.scalars(select(ApiToken.last_used_at)).one()

    assert stamp() is None
    with clock.frozen(t0):
        assert api.get("/me").status_code == 200
    assert stamp() == t0
    with clock.frozen(t0 + dt.timedelta(seconds=30)):
        assert api.get("/cases").status_code == 200
    assert stamp() == t0  # a minute's resolution: a busy script does not write on every call
    with clock.frozen(t0 + dt.timedelta(minutes=2)):
        assert api.get("/cases").status_code == 200
    assert stamp() == t0 + dt.timedelta(minutes=2)
