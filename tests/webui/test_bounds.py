"""Runaway process definitions cannot freeze the server (docs/bpmn.md, "Limits").

One diagram per kind of runaway (tests/data/bounds): CPU in a gateway condition, in a timer
expression, in a script task and in a DMN cell; memory in a script; a loop with no wait state; a
computed multi-instance cardinality of a million. For each, a process owner's case is moved on
through the API in one thread while another thread asks the same server for the case: that
request is answered within a second while the bad one runs (a correctness bound: a server held by
one expression answers nothing), the bad action fails with a process_error naming the element,
and the case is exactly as it was before.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import db
from engine.config import EngineConfig
from engine.people import tokens, users
from engine.processes import deployment, sandbox
from webui import create_app

BOUNDS = Path(__file__).resolve().parents[1] / "data" / "bounds"
API = "/api/v1"
SECONDS = 3.0  # each sandboxed expression's deadline here: long enough to overlap the probe


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("bounds") / "bounds.db"
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    config = EngineConfig(database_url=url, script_seconds=SECONDS, step_budget=5000)
    with db.make_sessionmaker(engine, config)() as session:
        users.create_user(session, "desk", ["service_desk"], None, actor=None)
        token = tokens.create_token(session, "desk", actor=None, name="bounds")
        dmn = [(p.name, p.read_bytes()) for p in BOUNDS.glob("*.dmn")]
        for bpmn in sorted(BOUNDS.glob("*.bpmn")):
            deployment.deploy(session, [(bpmn.name, bpmn.read_bytes())] + (dmn if "dmn" in bpmn.stem else []),
                              actor=None)
        session.commit()
    app = create_app({"TESTING": True, "SECRET_KEY": "bounds", "DATABASE_URL": url, "START_WORKER": False,
                      "ENGINE_CONFIG": config})
    yield {"app": app, "headers": {"Authorization": f"Bearer {token}"}}
    engine.dispose()


def _call(server: dict[str, Any], method: str, path: str, **kw: Any) -> Any:
    client = server["app"].test_client()  # one client per call: threads do not share one
    return client.open(API + path, method=method, headers=server["headers"], **kw)


def _snapshot(server: dict[str, Any], key: str) -> tuple[Any, Any]:
    case = _call(server, "GET", f"/cases/{key}").get_json()
    history = _call(server, "GET", f"/cases/{key}/history").get_json()
    return case, history


def _busy(process: str) -> bool:
    """Whether the bad action is under way: a sandbox is running it, or (the loop) it is stepping."""
    return sandbox.busy() > 0 if process != "bounds_loop" else True


@pytest.mark.parametrize(("process", "n", "element", "why"), [
    ("bounds_condition", 10**12, "check", "ran longer than 3 s"),
    ("bounds_timer", 10**12, "late", "ran longer than 3 s"),
    ("bounds_script", 10**12, "crunch", "ran longer than 3 s"),
    ("bounds_dmn", 10**12, "classify", "ran longer than 3 s"),
    ("bounds_memory", 10**9, "inflate", "used more than the 256 MB of memory allowed"),
    ("bounds_loop", 1, "again", "a loop runs without end"),
    ("bounds_cardinality", 10**6, "fan_out", "at most 1,000 instances"),
])
def test_a_runaway_fails_alone_and_leaves_the_case_as_it_was(server, process, n, element, why):
    opened = _call(server, "POST", "/cases", json={"process": process, "title": f"runaway {process}", "data": {}})
    assert opened.status_code == 201, opened.get_json()
    key = opened.get_json()["key"]
    task = opened.get_json()["open_tasks"][0]
    before = _snapshot(server, key)

    answer: dict[str, Any] = {}

    def bad() -> None:
        response = _call(server, "POST", f"/tasks/{task['id']}/complete", json={"data": {"n": n}})
        answer.update(status=response.status_code, body=response.get_json())

    worker = threading.Thread(target=bad)
    worker.start()
    deadline = time.monotonic() + 5
    while not _busy(process) and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    probes = []
    while worker.is_alive() and len(probes) < 3:
        started = time.monotonic()
        probe = _call(server, "GET", f"/cases/{key}")
        probes.append((time.monotonic() - started, probe.status_code))
    worker.join(timeout=60)
    assert not worker.is_alive()

    if process != "bounds_cardinality":  # refused before any instance is made: nothing to overlap
        assert probes, "the bad action ended before a concurrent request could be made"
    assert all(status == 200 and elapsed < 1.0 for elapsed, status in probes), probes
    assert answer["status"] == 422, answer
    error = answer["body"]["error"]
    assert error["code"] == "process_error"
    assert error["details"]["element_id"] == element
    assert element in error["message"] and why in error["message"]
    assert _snapshot(server, key) == before


def test_the_server_answers_normally_after_the_runaways(server):
    opened = _call(server, "POST", "/cases", json={"process": "bounds_script", "title": "fine", "data": {}})
    task = opened.get_json()["open_tasks"][0]
    done = _call(server, "POST", f"/tasks/{task['id']}/complete", json={"data": {"n": 1000}})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["data"]["total"] == 499500
