"""HTTP fixtures: the app bound to the test's rolled-back session, and JSON API clients.

Requests share the test's `session`, so what a test sets up is visible to the app once the
test commits it (a commit inside the test only releases a savepoint; the outer transaction
is still rolled back after the test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.people import tokens
from models import User
from webui import create_app
from webui.auth import limiter

API = "/api/v1"


class _Borrowed:
    """The test's session as the app sees it: the request teardown must not close it."""

    def __init__(self, session: Session):
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def close(self) -> None:
        """Keep the session open for the test."""


@pytest.fixture(scope="session")
def _api_app(sqlite_engine: Engine) -> Iterator[tuple[Flask, dict[str, Session]]]:
    """One app per run (per pytest-xdist worker) for the HTTP tests: building an app compiles every
    URL rule, about 40 ms of CPU, which a test would pay each time. `app` binds it to the test."""
    current: dict[str, Session] = {}
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": str(sqlite_engine.url),
        "START_WORKER": False, "WTF_CSRF_ENABLED": True,
    })
    app.extensions["opsgate_sessionmaker"] = lambda: _Borrowed(current["session"])

    @app.post("/_test/login/<int:user_id>")
    @app.extensions["csrf"].exempt
    def _test_login(user_id: int) -> str:
        # Stands in for the login form: what follows is a normal Flask-Login session.
        user = current["session"].get(User, user_id)
        assert user is not None
        login_user(user)
        return "ok"

    yield app, current
    app.extensions["opsgate_engine"].dispose()


@pytest.fixture
def app(_api_app: tuple[Flask, dict[str, Session]], session: Session) -> Iterator[Flask]:
    """The web app, CSRF on, talking to the test's session; each test starts with the app's
    configuration as built and with no request counted against a rate limit."""
    app, current = _api_app
    config = dict(app.config)
    current["session"] = session
    limiter.reset()
    yield app
    del current["session"]
    app.config.clear()
    app.config.update(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class ApiClient:
    """Calls /api/v1 as one user, with a bearer token or with a browser session."""

    def __init__(self, client: FlaskClient, user: User | None, auth: str, headers: dict[str, str]):
        self.client, self.user, self.auth, self.headers = client, user, auth, headers

    def request(self, method: str, path: str, **kw: Any) -> TestResponse:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.open(API + path, method=method, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.request("POST", path, **kw)

    def open_ticket(self, summary: str = "Printer on fire", **extra: Any) -> dict[str, Any]:
        """Open an api_ticket case (the `ticket` fixture's process); return its JSON."""
        body = {"process": "api_ticket", "title": summary, "data": {"summary": summary}, **extra}
        response = self.post("/cases", json=body)
        assert response.status_code in (200, 201), response.json
        return response.json


def session_client(app: Flask, user: User) -> ApiClient:
    """Log a browser in as `user`; its writes carry the session's CSRF token."""
    browser = app.test_client()
    assert browser.post(f"/_test/login/{user.id}").status_code == 200
    me = browser.get(API + "/me")
    assert me.status_code == 200, me.json
    return ApiClient(browser, user, "session", {"X-CSRFToken": me.json["csrf_token"]})


def token_client(app: Flask, session: Session, user: User) -> ApiClient:
    """A script holding an API token for `user`."""
    token = tokens.create_token(session, user.name, actor=None, name="test")
    session.commit()
    return ApiClient(app.test_client(), user, "token", {"Authorization": f"Bearer {token}"})


@pytest.fixture(params=["token", "session"])
def auth(request: pytest.FixtureRequest) -> str:
    """Run a test once with a bearer token and once with a browser session."""
    return request.param


@pytest.fixture
def api_as(app: Flask, session: Session, make_user: Callable[..., User], auth: str
           ) -> Callable[..., ApiClient]:
    """api_as("engineer") or api_as(user): an API client for a (new) user, in the test's auth mode."""

    def make(*groups: str | User, mode: str | None = None, name: str | None = None) -> ApiClient:
        if groups and isinstance(groups[0], User):
            user = groups[0]
        else:
            user = make_user(*[g for g in groups if isinstance(g, str)], name=name)
        session.commit()
        if (mode or auth) == "session":
            return session_client(app, user)
        return token_client(app, session, user)

    return make


@pytest.fixture
def ticket(deploy: Callable[..., Any], session: Session) -> str:
    """Deploy the API test process (triage by service_desk, approval by engineer); its key."""
    deploy("api_ticket.bpmn")
    session.commit()
    return "api_ticket"

