"""The Camunda invoice (tests/data/invoice) end to end through the API, its archive step done by the
reference worker (docs/external-worker.py) pointed at the test app (#16)."""
from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA

WORKER_PATH = Path(__file__).resolve().parents[2] / "docs" / "external-worker.py"


def _load_worker() -> Any:
    spec = importlib.util.spec_from_file_location("opsgate_reference_worker", WORKER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


class AppApi(worker.Api):
    """The worker's Api, sending through the test app as the API client's user instead of over HTTP."""

    def __init__(self, client: Any):
        super().__init__("http://test", "unused")
        self.client = client

    def send(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        answer = self.client.post(path, json=body)
        return answer.status_code, answer.json


@pytest.fixture
def invoice(api_as, session):
    owner = api_as("process_owner", "finance")
    files = {"file": [(io.BytesIO((DATA / "invoice" / n).read_bytes()), n) for n in ("invoice.bpmn",
                                                                                    "invoice_approver.dmn")]}
    deployed = owner.post("/processes", data=files, content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    return {"clerk": api_as("service_desk"), "boss": api_as("manager"), "fin": owner,
            "bot": AppApi(api_as("engineer"))}


def _do(api, case_key: str, element_name: str, data: dict[str, Any]) -> dict[str, Any]:
    [task] = [t for t in api.get("/tasks").json if t["case"] == case_key and t["name"] == element_name]
    done = api.post(f"/tasks/{task['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    return done.json


def _approved(people, supplier: str) -> str:
    opened = people["clerk"].post("/cases", json={"process": "invoice", "data": {"supplier": supplier, "amount": 200}})
    assert opened.status_code == 201, opened.json
    key = opened.json["key"]
    _do(people["boss"], key, "Approve the invoice", {"decision": "approve"})
    after = _do(people["fin"], key, "Check the booking", {"booking_ok": True})
    assert after["status"] == "open" and after["open_tasks"] == []  # waiting on the archive worker
    return key


def test_the_reference_worker_archives_an_approved_invoice(invoice):
    key = _approved(invoice, "ACME")
    assert worker.run_once(invoice["bot"], "archiver-1", {"archive": worker.archive}) == ["completed"]
    case = invoice["clerk"].get(f"/cases/{key}").json
    assert (case["status"], case["data"]["approver_group"]) == ("closed", "manager")
    assert case["data"]["archived_as"] == f"FAS/ACME/{key}"
    history = [e["type"] for e in invoice["clerk"].get(f"/cases/{key}/history").json]
    assert history[-2:] == ["external_task_completed", "case_closed"]
    assert worker.run_once(invoice["bot"], "archiver-1", {"archive": worker.archive}) == []  # nothing left


def test_the_worker_reports_failures_with_retries_then_leaves_the_job_for_a_person(invoice):
    key = _approved(invoice, "ACME")

    def broken(_variables):
        raise ConnectionError("archive server refused the connection")

    assert worker.run_once(invoice["bot"], "archiver-1", {"archive": broken}) == ["failed"]
    [job] = invoice["fin"].get(f"/external-tasks?state=all&case={key}").json
    assert (job["retries"], job["errorMessage"]) == (2, "ConnectionError: archive server refused the connection")
    assert worker.run_once(invoice["bot"], "archiver-1", {"archive": broken}) == []  # not before the timeout


def test_an_uncaught_business_error_is_reported_as_a_failure_needing_attention(invoice):
    key = _approved(invoice, "ACME")

    def duplicate(_variables):
        raise worker.BusinessError("DUPLICATE", "already archived under FAS/ACME/7")

    assert worker.run_once(invoice["bot"], "archiver-1", {"archive": duplicate}) == ["failed"]
    [job] = invoice["fin"].get("/external-tasks").json
    assert (job["case"], job["needs_attention"]) == (key, True)
    assert job["errorMessage"] == "BPMN error DUPLICATE is not caught: already archived under FAS/ACME/7"


def test_a_business_error_the_process_catches_takes_its_path(invoice, deploy, session):
    deploy("external/archive_job.bpmn")
    session.commit()
    opened = invoice["clerk"].post("/cases", json={"process": "archive_job", "data": {"document": "big.iso"}})

    def full(_variables):
        raise worker.BusinessError("ARCHIVE_FULL", "no space left", {"needed_gb": 40})

    assert worker.run_once(invoice["bot"], "archiver-1", {"archive": full}) == ["error"]
    case = invoice["clerk"].get(f"/cases/{opened.json['key']}").json
    assert [t["name"] for t in case["open_tasks"]] == ["Make room in the archive"]
    assert case["data"]["needed_gb"] == 40
