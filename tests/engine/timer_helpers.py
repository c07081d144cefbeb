"""Helpers for timer and worker tests that commit: a migrated database per test, people, cases."""
from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from engine import db
from engine.cases import queries, services
from engine.config import EngineConfig
from engine.people import users
from engine.processes import deployment
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, Timer, User

DATA = Path(__file__).parent.parent / "data"
UTC = dt.timezone.utc


class World:
    """A committed database with the timer test processes deployed and a few people."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @property
    def factory(self) -> sessionmaker[Session]:
        """Sessions configured from the environment as it is now, as a worker started now would be."""
        return db.make_sessionmaker(self.engine, EngineConfig.from_environ())

    @contextmanager
    def tx(self, at: dt.datetime | None = None) -> Iterator[Session]:
        with self.factory() as session, session.begin():
            if at is None:
                yield session
            else:
                with clock.frozen(at):
                    yield session

    def setup(self, at: dt.datetime, *files: str) -> None:
        with self.tx(at) as s:
            admin = users.create_user(s, "admin", ["admin", "process_owner"], actor=None)
            users.create_user(s, "erin", ["engineer"], actor=None, email="erin@example.org")
            users.create_user(s, "mona", ["manager"], actor=None, email="mona@example.org")
            users.create_user(s, "rick", [], actor=None, email="rick@example.org")
            deployment.deploy(s, [(name, (DATA / name).read_bytes()) for name in files], actor=admin)

    def user(self, s: Session, name: str) -> User:
        return s.scalars(select(User).where(User.name == name)).one()

    def start(self, at: dt.datetime, process: str, by: str = "rick") -> str:
        with self.tx(at) as s:
            return services.start_case(s, process, {}, actor=self.user(s, by)).key

    def complete(self, at: dt.datetime, key: str, element: str, by: str, data: dict | None = None) -> None:
        with self.tx(at) as s:
            case = queries.find_case(s, key)
            task = s.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.element_id == element,
                                                     HumanTask.state == "ready")).one()
            services.complete_task(s, task.id, data or {}, actor=self.user(s, by))

    def events(self, key: str, *types: str) -> list[tuple[str, str | None]]:
        with self.tx() as s:
            case = queries.find_case(s, key)
            rows = s.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
            return [(e.type, e.task) for e in rows if not types or e.type in types]

    def ready(self, key: str) -> list[str]:
        with self.tx() as s:
            case = queries.find_case(s, key)
            return sorted(s.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case.id,
                                                                       HumanTask.state == "ready")))

    def case(self, key: str) -> Case:
        with self.tx() as s:
            return queries.find_case(s, key)

    def timers(self, key: str | None = None) -> list[tuple[str, str, dt.datetime]]:
        with self.tx() as s:
            query = select(Timer).order_by(Timer.due_at, Timer.id)
            if key is not None:
                query = query.where(Timer.case_id == queries.find_case(s, key).id)
            return [(t.element_id, t.kind, t.due_at) for t in s.scalars(query)]


def migrated_copy(template: Path, target: Path) -> Engine:
    shutil.copy(template, target)
    return db.make_engine(f"sqlite:///{target}")
