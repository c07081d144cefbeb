"""OPSGATE_LOG_FORMAT=json: one JSON line per request and per job, naming the request id, the
user and the case key."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from engine import logcontext
from webui import logs


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("json", "INFO")
    capsys.readouterr()
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]


def test_a_request_is_one_json_line_with_its_id_user_and_case(app, session, make_user, deploy, json_logs):
    from engine.cases import services

    deploy("four_steps.bpmn")
    requester = make_user(name="rhea")
    case = services.start_case(session, "four_steps", {"title": "Disk full", "urgent": True}, actor=requester)
    session.commit()
    client = app.test_client()
    client.post(f"/_test/login/{requester.id}")
    json_logs.readouterr()
    response = client.get(f"/cases/{case.key}", headers={"X-Request-Id": "req-42"})
    assert response.status_code == 200
    [line] = [x for x in lines(json_logs) if x["logger"] == "opsgate.requests"]
    assert line["request_id"] == "req-42" and line["user"] == "rhea" and line["case"] == case.key
    assert line["method"] == "GET" and line["route"] == "/cases/<ref>" and line["status"] == 200
    assert line["path"] == f"/cases/{case.key}" and line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert line["time"].endswith("Z")


def test_other_lines_carry_the_scope_and_exceptions_are_kept(json_logs):
    log = logging.getLogger("engine.something")
    with logcontext.scope(request_id="timer-7", user="system", case="INC-000001"):
        log.warning("timer %s late", "work_sla", extra={"job": "timer"})
        try:
            raise ValueError("broken expression")
        except ValueError:
            log.exception("failed")
    warning, error = lines(json_logs)
    assert warning == {**warning, "message": "timer work_sla late", "request_id": "timer-7", "user": "system",
                       "case": "INC-000001", "job": "timer", "level": "WARNING", "logger": "engine.something"}
    assert "ValueError: broken expression" in error["exception"]


def test_a_worker_job_is_one_line(json_logs, tmp_path, monkeypatch):
    import datetime as dt

    from engine import db
    from engine.jobs import worker
    from tests.engine.timer_helpers import World

    monkeypatch.delenv("OPSGATE_SMTP_HOST", raising=False)
    engine = db.make_engine(f"sqlite:///{tmp_path}/w.db")
    db.upgrade(engine)
    world = World(engine)
    t0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
    world.setup(t0, "timer_kinds.bpmn")
    key = world.start(t0, "timer_kinds")
    json_logs.readouterr()
    worker.run_once(world.factory, now=t0 + dt.timedelta(hours=1, seconds=1))
    jobs = [x for x in lines(json_logs) if x["logger"] == "opsgate.jobs" and x.get("job") == "timer"]
    assert jobs and all(j["case"] == key and j["user"] == "system" and j["outcome"] == "fired" for j in jobs)
    assert jobs[0]["request_id"].startswith("timer-")
    engine.dispose()


def test_a_bad_format_is_named():
    with pytest.raises(ValueError, match="OPSGATE_LOG_FORMAT must be text or json, not 'xml'"):
        logs.configure("xml")


def test_an_api_request_with_a_token_logs_the_tokens_user(app, session, make_user, json_logs):
    from engine.people import tokens

    make_user(name="tess")
    token = tokens.create_token(session, "tess", actor=None)
    session.commit()
    client = app.test_client()
    json_logs.readouterr()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer og_nobody"}).status_code == 401
    ok, refused = [x for x in lines(json_logs) if x["logger"] == "opsgate.requests"]
    assert ok["user"] == "tess" and ok["status"] == 200
    assert refused.get("user") is None and refused["status"] == 401
