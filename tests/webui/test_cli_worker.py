"""`opsgate worker` and the in-process worker thread that `opsgate serve` starts with SQLite."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import db
from engine.cases import services
from engine.people import users
from engine.processes import deployment
from engine.timing import clock
from models import AuditEvent
from tests.conftest import DATA
from webui import create_app
from webui.cli.base import main
from webui.cli.worker import start_background_worker

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/worker.db"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


def open_waiting_case(url: str, at: dt.datetime) -> str:
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine).begin() as s, clock.frozen(at):
        deployment.deploy(s, [("timer_wait.bpmn", (DATA / "timer_wait.bpmn").read_bytes())], actor=None)
        requester = users.create_user(s, f"req{at:%H%M%S}", [], actor=None)
        key = services.start_case(s, "timer_wait", {}, actor=requester).key
    engine.dispose()
    return key


def fired(url: str) -> list[str]:
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as s:
        types = list(s.scalars(select(AuditEvent.task).where(AuditEvent.type == "timer_fired")))
    engine.dispose()
    return types


def test_worker_once_as_of_an_instant(url):
    open_waiting_case(url, T0)
    runner = CliRunner()
    early = runner.invoke(main, ["--database-url", url, "worker", "--once", "--now", "2026-11-30T09:59:00Z"])
    assert early.exit_code == 0 and "fired 0 timer event(s) from 0 due timer(s)" in early.output
    due = runner.invoke(main, ["--database-url", url, "worker", "--now", "2026-11-30T10:00:01+00:00"])
    assert due.exit_code == 0, due.output
    assert "fired 1 timer event(s) from 1 due timer(s)" in due.output
    assert fired(url) == ["wait"]
    again = runner.invoke(main, ["--database-url", url, "worker", "--once", "--now", "2026-11-30T10:00:01Z"])
    assert "fired 0" in again.output and fired(url) == ["wait"]


def test_bad_now_is_refused(url):
    result = CliRunner().invoke(main, ["--database-url", url, "worker", "--once", "--now", "tomorrow"])
    assert result.exit_code == 2 and "--now" in result.output and "'tomorrow'" in result.output


def test_serve_runs_one_worker_thread_with_sqlite(url):
    open_waiting_case(url, clock.now() - dt.timedelta(hours=2))  # due an hour ago, on the real clock
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "TESTING": True})
    stop = start_background_worker(app, interval=0.05)
    assert stop is not None
    try:
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a timing assertion
        while not fired(url) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threading.enumerate():
            if thread.name == "opsgate-worker":
                thread.join(timeout=60)
    assert fired(url) == ["wait"]


def test_no_worker_thread_when_told_not_to(url):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "START_WORKER": False})
    assert start_background_worker(app) is None
