"""Real races over HTTP: `opsgate serve` (waitress) on PostgreSQL, clients in threads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.cases import queries
from engine.people import tokens, users
from engine.processes import deployment
from models import AuditEvent, Case

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(pg_clean: Engine, tmp_path: Path) -> Iterator[str]:
    """`opsgate serve` in its own process against the test database; its base URL."""
    url = pg_clean.url.render_as_string(hide_password=False)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPSGATE_INSTANCE": str(tmp_path / "instance"),
           "OPSGATE_SECRET_KEY": "race-test"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from webui.cli.base import main; main()", "--database-url", url,
             "serve", "--port", str(port), "--threads", "8"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(600):  # up to a minute on a loaded machine
            try:
                urllib.request.urlopen(base + "/openapi.json", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(log.read_text())
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def call(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def at_once(*calls) -> list[tuple[int, dict]]:
    """Run the calls in threads released together; return their answers in order."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[int, dict] | None] = [None] * len(calls)

    def run(index: int, fn) -> None:
        barrier.wait()
        results[index] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results  # type: ignore[return-value]


@pytest.fixture
def people(pg_clean: Engine) -> dict[str, str]:
    """Deploy the test process and make two service-desk people with tokens."""
    with Session(pg_clean) as session:
        deployment.deploy(session, [("api_ticket.bpmn", (DATA / "api_ticket.bpmn").read_bytes())],
                           actor=None)
        issued = {}
        for name in ("ann", "bob"):
            users.create_user(session, name, ["service_desk"], actor=None)
            issued[name] = tokens.create_token(session, name, actor=None)
        session.commit()
    return issued


def test_two_clients_completing_one_task_one_wins_one_gets_409(server, people, pg_clean):
    for round_ in range(5):
        status, case = call("POST", server + "/cases", people["ann"],
                            {"process": "api_ticket", "data": {"summary": f"race {round_}"}})
        assert status == 201
        task = case["open_tasks"][0]["id"]
        answers = at_once(
            lambda task=task: call("POST", f"{server}/tasks/{task}/complete", people["ann"],
                         {"data": {"note": "ann did it"}}),
            lambda task=task: call("POST", f"{server}/tasks/{task}/complete", people["bob"],
                         {"data": {"note": "bob did it"}}))
        assert sorted(status for status, _ in answers) == [200, 409], answers
        loser = next(body for status, body in answers if status == 409)
        assert loser["error"]["code"] == "conflict"
        with Session(pg_clean) as session:
            stored = queries.find_case(session, case["key"])
            completions = session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.chain == case["key"], AuditEvent.type == "task_completed"))
            assert completions == 1
            assert [t.name for t in queries.open_tasks(session, stored)] == ["Approve fix"]


def test_two_clients_claiming_one_task_one_wins_one_gets_409(server, people):
    _, case = call("POST", server + "/cases", people["ann"],
                   {"process": "api_ticket", "data": {"summary": "claim race"}})
    task = case["open_tasks"][0]["id"]
    answers = at_once(lambda: call("POST", f"{server}/tasks/{task}/claim", people["ann"]),
                      lambda: call("POST", f"{server}/tasks/{task}/claim", people["bob"]))
    assert sorted(status for status, _ in answers) == [200, 409], answers


def test_a_concurrent_alert_storm_opens_one_case(server, people, pg_clean):
    body = {"process": "api_ticket", "dedup_key": "db1/disk", "data": {"summary": "disk full"}}
    answers = at_once(*[lambda: call("POST", server + "/cases", people["ann"], body)] * 8)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 7 + [201], answers
    assert len({case["key"] for _, case in answers}) == 1
    with Session(pg_clean) as session:
        (case,) = session.scalars(select(Case).where(Case.dedup_key == "db1/disk")).all()
        assert case.occurrences == 8
