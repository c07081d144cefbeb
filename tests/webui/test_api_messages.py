"""POST /messages and /signals, and `opsgate message` / `opsgate signal` (#16)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.conftest import DATA
from webui.cli.base import main


@pytest.fixture
def race(deploy, session):
    deploy("event_race.bpmn", "message_start.bpmn", "message_kinds.bpmn")
    session.commit()


def test_a_message_correlated_by_a_case_variable_is_delivered(api_as, race):
    api = api_as("engineer")
    for ticket in ("V-1", "V-2"):
        assert api.post("/cases", json={"process": "event_race", "data": {"ticket": ticket}}).status_code == 201
    ambiguous = api.post("/messages", json={"name": "vendor_reply"})
    assert ambiguous.status_code == 409
    assert "2 cases wait for message 'vendor_reply'" in ambiguous.json["error"]["message"]
    sent = api.post("/messages", json={"name": "vendor_reply", "correlation": {"ticket": "V-2"},
                                       "data": {"reply": "patched"}, "idempotency_key": "k-1"})
    assert sent.status_code == 200
    assert sent.json == {"case": "RAC-000002", "status": "open", "started": False, "repeated": False}
    case = api.get("/cases/RAC-000002").json
    assert case["data"]["reply"] == "patched" and [t["name"] for t in case["open_tasks"]] == ["Review the reply"]
    again = api.post("/messages", json={"name": "vendor_reply", "correlation": {"ticket": "V-2"},
                                        "idempotency_key": "k-1"})
    assert again.status_code == 200 and again.json["repeated"] is True
    history = [e["type"] for e in api.get("/cases/RAC-000002/history").json]
    assert history.count("message_received") == 1
    missing = api.post("/messages", json={"name": "vendor_reply", "case": "RAC-000002"})
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "case RAC-000002 is not waiting for message 'vendor_reply'"


def test_a_message_start_event_answers_201(api_as, race):
    sent = api_as("engineer").post("/messages", json={"name": "vendor_ticket_opened", "data": {"ticket": "V-7"}})
    assert sent.status_code == 201 and sent.json["started"] is True and sent.json["case"].startswith("VTI-")


def test_bad_messages_and_requesters_are_refused(api_as, race):
    bad = api_as("engineer").post("/messages", json={"name": 5, "data": "x"})
    assert bad.status_code == 422 and set(bad.json["error"]["details"]) == {"name", "data"}
    assert api_as().post("/messages", json={"name": "vendor_reply"}).status_code == 403


def test_signals_are_broadcast(api_as, race):
    api = api_as("engineer")
    key = api.post("/cases", json={"process": "message_kinds", "data": {"asset": "a"}}).json["key"]
    task = api.get(f"/cases/{key}").json["open_tasks"][0]
    assert api.post(f"/tasks/{task['id']}/complete", json={"data": {"part": "fan"}}).status_code == 200
    assert api.post("/messages", json={"name": "parts_arrived", "case": key}).status_code == 200
    sent = api.post("/signals", json={"name": "maintenance_window_open"})
    assert sent.status_code == 200 and sent.json == {"delivered": 1, "cases": [key]}


def test_cli_message_and_signal(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(main, ["--database-url", url, *args])

    assert cli("init").exit_code == 0
    assert cli("deploy", str(DATA / "message_start.bpmn")).exit_code == 0
    started = cli("message", "vendor_ticket_opened", "--data", '{"ticket": "V-1"}', "--idempotency-key", "a")
    assert started.exit_code == 0 and started.output.startswith("vendor_ticket_opened: started VTI-000001")
    none = cli("message", "nobody", "--correlate", "ticket=V-1")
    assert none.exit_code == 1 and "no open case with ticket=V-1 waits for message 'nobody'" in none.output
    assert cli("signal", "anything").output.strip() == "anything: delivered to 0 case(s)"
