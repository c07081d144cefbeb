"""Web UI fixtures: each test gets its own copy of a migrated SQLite database, so the pages
commit for real (as in production) and nothing leaks into other tests; `session` here is a
plain session on that database (make_user and deploy use it), committed by the setup.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine import db
from engine.cases import services
from models import Case, User
from webui import create_app

DATA = Path(__file__).resolve().parent.parent / "data"
PASSWORD = "correct-horse-1"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test."""
    path = tmp_path_factory.mktemp("ui-template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def ui_engine(template_db: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "ui.db"
    shutil.copyfile(template_db, path)
    engine = db.make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def session(ui_engine: Engine) -> Iterator[Session]:
    """A plain session on this test's own database (overrides the rolled-back one)."""
    with Session(ui_engine, expire_on_commit=False) as sess:
        yield sess


def build_app(engine: Engine, **config: object) -> Flask:
    app = create_app({"TESTING": True, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                      "SECRET_KEY": "tests", "WTF_CSRF_ENABLED": False, "START_WORKER": False, **config})
    return app


@pytest.fixture
def app(ui_engine: Engine) -> Iterator[Flask]:
    flask_app = build_app(ui_engine)
    yield flask_app
    flask_app.extensions["opsgate_engine"].dispose()


@pytest.fixture
def csrf_app(ui_engine: Engine) -> Iterator[Flask]:
    """The app with CSRF checks on, as in production."""
    flask_app = build_app(ui_engine, WTF_CSRF_ENABLED=True)
    yield flask_app
    flask_app.extensions["opsgate_engine"].dispose()


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
