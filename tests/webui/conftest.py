"""Web UI fixtures: the app bound to the test's rolled-back session, and logged-in clients.

Setup data must be committed (`session.commit()` releases the test's savepoint, the outer
transaction is still rolled back at the end) so that a request that fails and rolls back
does not take the setup with it.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine import services
from models import Case, User
from webui import create_app

DATA = Path(__file__).resolve().parent.parent / "data"
PASSWORD = "correct-horse-1"


def build_app(session: Session, engine: Engine, **config: object) -> Flask:
    app = create_app({"TESTING": True, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                      "SECRET_KEY": "tests", "WTF_CSRF_ENABLED": False, **config})
    app.extensions["opsgate_sessionmaker"] = lambda: session
    return app


@pytest.fixture
def app(session: Session, sqlite_engine: Engine) -> Flask:
    return build_app(session, sqlite_engine)


@pytest.fixture
def csrf_app(session: Session, sqlite_engine: Engine) -> Flask:
    """The app with CSRF checks on, as in production."""
    return build_app(session, sqlite_engine, WTF_CSRF_ENABLED=True)


@pytest.fixture
def login(app: Flask) -> Callable[..., FlaskClient]:
    """Return a client logged in as the given user (made with password PASSWORD)."""

    def make(user: User, flask_app: Flask | None = None) -> FlaskClient:
        client = (flask_app or app).test_client()
        response = client.post("/login", data={"name": user.name, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return make


@pytest.fixture
def people(make_user: Callable[..., User], session: Session) -> dict[str, User]:
    """One user per role the pages care about, committed."""
    made = {
        "requester": make_user(name="rita", password=PASSWORD),
        "engineer": make_user("engineer", name="erin", password=PASSWORD),
        "manager": make_user("manager", name="mona", password=PASSWORD),
        "cab": make_user("cab", name="cathy", password=PASSWORD),
        "change_manager": make_user("change_manager", name="carl", password=PASSWORD),
        "auditor": make_user("auditor", name="aude", password=PASSWORD),
        "process_owner": make_user("process_owner", name="paul", password=PASSWORD),
        "supervisor": make_user("supervisor", name="suzy", password=PASSWORD),
        "admin": make_user("admin", name="ada", password=PASSWORD),
    }
    session.commit()
    return made


@pytest.fixture
def purchase(deploy: Callable, session: Session, people: dict[str, User]) -> Case:
    """A purchase_approval case opened by the requester, waiting on the engineer's review."""
    deploy("camunda_approval.bpmn")
    case = services.start_case(session, "purchase_approval", {"item": "Laptop", "amount": 1200},
                               actor=people["requester"], title="New laptop")
    session.commit()
    return case
