"""A session on SQLite and on PostgreSQL (issue #16's tests run on both), rolled back after each test."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import queries, services
from engine.people import users
from engine.processes import deployment
from models import HumanTask, User
from tests.conftest import rolled_back_session

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    with rolled_back_session(engine) as sess:
        yield sess


def person(session: Session, name: str, *groups: str) -> User:
    found = session.scalars(select(User).where(User.name == name)).first()
    return found or users.create_user(session, name, list(groups), actor=None)


def deploy_files(session: Session, *names: str, actor: User | None = None) -> list[deployment.DeployResult]:
    files = []
    for name in names:
        path = Path(name) if Path(name).is_absolute() else DATA / name
        files.append((path.name, path.read_bytes()))
    return deployment.deploy(session, files, actor=actor)


def ready(session: Session, key: str) -> list[str]:
    case = queries.find_case(session, key)
    return sorted(session.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case.id,
                                                                     HumanTask.state == "ready")))


def complete(session: Session, key: str, element: str, actor: User, data: dict | None = None) -> None:
    case = queries.find_case(session, key)
    task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.element_id == element,
                                                   HumanTask.state == "ready")).one()
    services.complete_task(session, task.id, data or {}, actor=actor)
