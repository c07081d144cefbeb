"""/metrics, /healthz and /readyz as Prometheus and a load balancer see them, over a committed
database that a worker works on: the figures move when a case is opened, escalated and closed."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine import db
from engine.jobs import worker
from engine.timing import clock
from tests.engine.timer_helpers import UTC, World, migrated_copy
from webui import create_app

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)


@pytest.fixture
def world(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    for key in ("OPSGATE_CALENDAR", "OPSGATE_SMTP_HOST", "OPSGATE_METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(key, raising=False)
    engine = migrated_copy(template, tmp_path / "opsgate.db")
    w = World(engine)
    w.setup(T0 - H, "timer_kinds.bpmn")
    yield w
    engine.dispose()


def make_app(world: World, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": str(world.engine.url),
                       "START_WORKER": False, **config})


def scrape(client, at: dt.datetime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with clock.frozen(at):
        response = client.get("/metrics")
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    values = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values, name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_series_move_when_a_case_opens_escalates_and_closes(world):
    client = make_app(world).test_client()
    before = scrape(client, T0)
    assert value(before, "opsgate_cases_opened_total", process="timer_kinds") == 0
    assert value(before, "opsgate_timer_lag_seconds") == 0

    key = world.start(T0, "timer_kinds")
    opened = scrape(client, T0 + S)
    assert value(opened, "opsgate_cases_opened_total", process="timer_kinds") == 1
    assert value(opened, "opsgate_cases_open", process="timer_kinds") == 1
    assert value(opened, "opsgate_tasks_open", group="engineer") == 1
    assert value(opened, "opsgate_timer_lag_seconds") == 0  # nothing due yet
    assert value(opened, "opsgate_tasks_overdue", group="engineer") == 0

    # Three hours and a minute later, with no worker running: the hourly reminder (first due at
    # 1 h) is two hours and a minute late.
    warn_at = T0 + 3 * H + 60 * S
    late = scrape(client, warn_at)
    assert value(late, "opsgate_timer_lag_seconds") == 2 * 3600 + 60
    assert value(late, "opsgate_timers_due") >= 2
    assert value(late, "opsgate_sla_warnings_total", process="timer_kinds") == 0
    worker.run_once(world.factory, now=warn_at)
    warned = scrape(client, warn_at + S)
    assert value(warned, "opsgate_timer_lag_seconds") == 0
    assert value(warned, "opsgate_sla_warnings_total", process="timer_kinds") == 1

    # The SLA runs out at 4 h: a minute later the task is overdue and the timer a minute late.
    late_at = T0 + 4 * H + 60 * S
    breached = scrape(client, late_at)
    assert value(breached, "opsgate_tasks_overdue", group="engineer") == 1
    assert value(breached, "opsgate_timer_lag_seconds") == 60
    assert value(breached, "opsgate_escalations_total", process="timer_kinds") == 0
    worker.run_once(world.factory, now=late_at)
    escalated = scrape(client, late_at + S)
    assert value(escalated, "opsgate_timer_lag_seconds") == 0
    assert value(escalated, "opsgate_escalations_total", process="timer_kinds") == 1
    assert value(escalated, "opsgate_tasks_open", group="engineer") == 0
    assert value(escalated, "opsgate_tasks_overdue", group="engineer") == 0
    assert value(escalated, "opsgate_tasks_open", group="manager") == 1
    assert value(escalated, "opsgate_worker_heartbeat_age_seconds") >= 0
    assert [name for (name, _labels) in escalated if name == "opsgate_worker_last_seen_timestamp_seconds"]

    world.complete(late_at + 2 * S, key, "escalated", "mona")
    closed = scrape(client, late_at + 3 * S)
    assert world.case(key).status == "closed"
    assert value(closed, "opsgate_cases_closed_total", process="timer_kinds", outcome=world.case(key).outcome) == 1
    assert value(closed, "opsgate_cases_open", process="timer_kinds") == 0
    assert value(closed, "opsgate_tasks_open", group="manager") == 0
    # Every request so far was timed, by URL rule.
    assert value(closed, "opsgate_http_request_duration_seconds_count", method="GET", route="/metrics",
                 status="200") >= 4


def test_metrics_token(world):
    client = make_app(world, METRICS_TOKEN="s3cret-token").test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and b"metrics token" in refused.data
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and b"opsgate_timer_lag_seconds 0.0" in ok.data
    assert client.get("/healthz").json == {"status": "ok"}  # probes need no token


def test_readyz_wants_a_recent_worker(world):
    client = make_app(world).test_client()
    assert client.get("/healthz").status_code == 200
    waiting = client.get("/readyz")
    assert waiting.status_code == 503
    assert waiting.json["checks"]["database"] == "ok" and waiting.json["checks"]["migrations"] == "ok"
    assert "opsgate worker" in waiting.json["checks"]["worker"]
    worker.run_once(world.factory)
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "worker": "ok"}}
    with clock.frozen(dt.datetime.now(UTC) + dt.timedelta(minutes=5)):
        stale = client.get("/readyz")
    assert stale.status_code == 503 and "no worker seen for" in stale.json["checks"]["worker"]


def test_readyz_names_an_old_schema(world):
    from alembic import command

    command.downgrade(db.alembic_config(world.engine), "0007_hot_path_indexes")
    client = make_app(world).test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "run `opsgate init`" in answer.json["checks"]["migrations"]
    assert "0007_hot_path_indexes" in answer.json["checks"]["migrations"]


def test_request_id_is_echoed_or_made(world):
    client = make_app(world).test_client()
    given = client.get("/healthz", headers={"X-Request-Id": "lb-1234"})
    assert given.headers["X-Request-Id"] == "lb-1234"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id; with spaces"})
    assert made.headers["X-Request-Id"] != "bad id; with spaces" and len(made.headers["X-Request-Id"]) == 32


def test_multiprocess_mode_adds_up_the_processes(tmp_path, world):
    """Two processes (as gunicorn's workers) write request timings to PROMETHEUS_MULTIPROC_DIR;
    /metrics in a third adds them up."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "prom"
    folder.mkdir()
    script = (
        "import sys; from webui import create_app\n"
        "app = create_app({'TESTING': True, 'SECRET_KEY': 'x', 'DATABASE_URL': sys.argv[1], 'START_WORKER': False})\n"
        "c = app.test_client()\n"
        "for _ in range(int(sys.argv[2])): assert c.get('/healthz').status_code == 200\n"
        "if sys.argv[2] == '0': print(c.get('/metrics').get_data(as_text=True))\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "OPSGATE_LOG_FORMAT": "text"}
    for count in ("3", "2"):
        subprocess.run([sys.executable, "-c", script, str(world.engine.url), count], env=env, check=True,
                       cwd=Path(__file__).parents[2], timeout=120)
    out = subprocess.run([sys.executable, "-c", script, str(world.engine.url), "0"], env=env, check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=120).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(out) for s in f.samples}
    assert value(samples, "opsgate_http_request_duration_seconds_count", method="GET", route="/healthz",
                 status="200") == 5
    assert ("opsgate_cases_opened_total", ()) not in samples  # no cases: no process label, no series
