"""Revocable sessions, token rules and security headers (issue 13)."""
from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import select

from engine.people import tokens, users
from engine.timing import clock
from models import ApiToken, AuditEvent
from tests.webui.pages.conftest import PASSWORD


def _captured(app, client: FlaskClient) -> FlaskClient:
    """A second browser holding a copy of the first one's session cookie (as a thief would)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def _me(client: FlaskClient) -> int:
    return client.get("/api/v1/me").status_code


def test_a_captured_cookie_dies_at_logout(app, login, people):
    rita = login(people["requester"])
    thief = _captured(app, rita)
    assert _me(thief) == 200 and thief.get("/cases").status_code == 200
    other = login(people["requester"])  # a second session of the same person, elsewhere
    rita.post("/logout")
    assert _me(thief) == 401
    assert thief.get("/cases").status_code == 302  # to the sign-in page
    assert _me(other) == 401  # logout ends every session of that person
    again = login(people["requester"])
    assert _me(again) == 200


def test_a_captured_cookie_dies_at_deactivation_and_at_a_password_change(app, login, people, session):
    erin = login(people["engineer"])
    thief = _captured(app, erin)
    admin = login(people["admin"])
    saved = admin.post(f"/admin/users/{people['engineer'].id}",
                       data={"whole_form": "1", "groups": ["engineer"], "active": "y",
                             "password": "a-new-password-1"})
    assert saved.status_code == 302
    assert _me(thief) == 401 and _me(erin) == 401
    erin = app.test_client()
    assert erin.post("/login", data={"name": "erin", "password": "a-new-password-1"}).status_code == 302
    thief = _captured(app, erin)
    assert _me(thief) == 200
    admin.post(f"/admin/users/{people['engineer'].id}", data={"whole_form": "1", "groups": ["engineer"]})
    assert _me(thief) == 401 and _me(erin) == 401
    session.expire_all()
    assert not users.get_user(session, "erin").active


def test_other_people_keep_their_sessions(app, login, people):
    rita, erin = login(people["requester"]), login(people["engineer"])
    rita.post("/logout")
    assert _me(erin) == 200


def test_a_bearer_token_opens_the_api_but_not_the_pages(app, people, session):
    token = tokens.create_token(session, "ada", actor=None, name="script")
    session.commit()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    page = client.get("/cases", headers=bearer)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert client.get("/admin/users", headers=bearer).status_code == 302


def test_tokens_expire_by_the_engine_clock(app, people, session):
    start = clock.now()
    with clock.frozen(start):
        token = tokens.create_token(session, "ada", actor=None, name="week", expires_in_days=7)
        session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    with clock.frozen(start + dt.timedelta(days=6, hours=23)):
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
    with clock.frozen(start + dt.timedelta(days=7, seconds=1)):
        expired = client.get("/api/v1/me", headers=bearer)
        assert expired.status_code == 401 and "expired" in expired.json["error"]["message"]


def test_a_read_only_token_reads_but_does_not_write(app, people, session):
    token = tokens.create_token(session, "ada", actor=None, name="grafana", scope="read")
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=bearer).status_code == 200
    refused = client.post("/api/v1/notices/read", headers=bearer)
    assert refused.status_code == 403 and "read-only" in refused.json["error"]["message"]
    audit = session.scalars(select(AuditEvent).where(AuditEvent.type == "token_created")).all()
    assert audit[-1].data["scope"] == "read"


def test_the_admin_page_makes_expiring_read_only_tokens_and_shows_their_use(login, people, session):
    admin = login(people["admin"])
    page = admin.post("/admin/tokens", data={"user": "aude", "name": "dashboard", "expires_in_days": "30",
                                             "read_only": "y"}).get_data(as_text=True)
    assert "og_" in page
    row = session.scalars(select(ApiToken).where(ApiToken.name == "dashboard")).one()
    assert row.scope == "read" and row.expires_at is not None
    assert (row.expires_at - row.created_at).days == 30
    assert "read only" in page and "never" not in page.split("dashboard", 1)[1].split("</tr>", 1)[0]
    assert "Last used" in page


HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _has_security_headers(response, *, download: bool = False) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    csp = response.headers["Content-Security-Policy"]
    if download:  # a download keeps its own stricter policy: nothing in it may run
        assert "sandbox" in csp and "default-src 'none'" in csp
        return
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


def test_security_headers_on_a_page_an_api_answer_a_download_and_an_error(app, login, people, purchase):
    client = login(people["admin"])
    _has_security_headers(client.get("/cases"))
    _has_security_headers(client.get("/api/v1/me"))
    _has_security_headers(client.get("/login"))
    download = client.get(f"/api/v1/processes/{purchase.process_key}/bpmn")
    assert download.status_code == 200
    _has_security_headers(download, download=True)
    static = client.get("/static/favicon.svg")
    _has_security_headers(static)
    static.close()
    _has_security_headers(client.get("/no-such-page"))
    assert "Strict-Transport-Security" not in client.get("/cases").headers


def test_hsts_when_cookies_are_secure(ui_engine, people):
    from tests.webui.pages.conftest import build_app
    app = build_app(ui_engine, SESSION_COOKIE_SECURE=True)
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    app.extensions["opsgate_engine"].dispose()


def test_passwords_are_hashed_only_when_needed():
    # The CLI starts fast: importing the user module hashes nothing (issue 13).
    import engine.people.users as module
    assert not hasattr(module, "_DUMMY_HASH")
    assert PASSWORD  # the fixtures' password still signs in (see the tests above)
