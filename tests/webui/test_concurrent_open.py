"""Opening cases from 16 threads at once, on SQLite and on PostgreSQL: every request succeeds and
every case gets its own key.

Issue #14: with SQLite, monitoring alerts (posts with a `dedup_key`) answered `500 database is
locked` on the case counter under 8 clients; engine/db.py says why and how it is avoided. Each
thread here posts plain cases, alerts with their own key, and one alert that every thread shares
(one case, counted 16 times)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select

from engine import db
from engine.people import tokens, users
from engine.processes import deployment
from models import Case, CaseCounter
from webui import create_app

DATA = Path(__file__).resolve().parents[1] / "data"
THREADS = 16
PER_THREAD = 3


def _prepare(engine: Engine) -> list[str]:
    """Deploy the ticket process and give every thread a desk agent's token."""
    maker = db.make_sessionmaker(engine)
    with maker() as session:
        deployment.deploy(session, [("api_ticket.bpmn", (DATA / "api_ticket.bpmn").read_bytes())], actor=None)
        found = []
        for n in range(THREADS):
            users.create_user(session, f"desk{n}", ["service_desk"], None, actor=None)
            found.append(tokens.create_token(session, f"desk{n}", actor=None))
        session.commit()
    return found


def _app(engine: Engine) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "concurrency", "START_WORKER": False,
                       "DATABASE_URL": engine.url.render_as_string(hide_password=False)})


def _open_from_threads(app: Flask, found: list[str]) -> list[tuple[int, Any]]:
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(found))

    def client(token: str) -> None:
        http = app.test_client()
        barrier.wait()
        for n in range(PER_THREAD + 1):
            body: dict[str, Any] = {"process": "api_ticket", "title": f"ticket {n}", "data": {"summary": "x"}}
            if n % 2:
                body["dedup_key"] = f"alert-{token[-8:]}-{n}"  # an alert of its own
            if n == PER_THREAD:
                body["dedup_key"] = "disk-full-on-db1"     # the alert every thread sends
            response = http.post("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}, json=body)
            with lock:
                answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=client, args=(t,)) for t in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return answers


def _check(engine: Engine, answers: list[tuple[int, Any]]) -> None:
    assert len(answers) == THREADS * (PER_THREAD + 1)
    failed = [a for a in answers if a[0] not in (200, 201)]
    assert not failed, failed[:3]
    shared = [body for _, body in answers if body["dedup_key"] == "disk-full-on-db1"]
    assert len({body["key"] for body in shared}) == 1  # one case for the shared alert ...
    assert max(body["occurrences"] for body in shared) == THREADS  # ... counting every post
    assert sorted(code for code, body in answers if body["dedup_key"] == "disk-full-on-db1") == \
        [200] * (THREADS - 1) + [201]
    keys = [body["key"] for code, body in answers if code == 201]
    assert len(keys) == THREADS * PER_THREAD + 1
    assert len(set(keys)) == len(keys)
    assert sorted(keys) == [f"TKT-{n:06d}" for n in range(1, len(keys) + 1)]  # no gaps, no repeats
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Case)) == len(keys)
        assert conn.scalar(select(CaseCounter.last).where(CaseCounter.prefix == "TKT")) == len(keys)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'opsgate.db'}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


def test_sixteen_threads_open_cases_on_sqlite(sqlite_file: Engine) -> None:
    found = _prepare(sqlite_file)
    app = _app(sqlite_file)
    try:
        _check(sqlite_file, _open_from_threads(app, found))
    finally:
        app.extensions["opsgate_engine"].dispose()


@pytest.mark.postgres
def test_sixteen_threads_open_cases_on_postgres(pg_clean: Engine) -> None:
    found = _prepare(pg_clean)
    app = _app(pg_clean)
    try:
        _check(pg_clean, _open_from_threads(app, found))
    finally:
        app.extensions["opsgate_engine"].dispose()
