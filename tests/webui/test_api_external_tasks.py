"""The external-task API (#16): what HTTP adds to engine.jobs.external_tasks (tests/engine/test_external_tasks.py):
Camunda's and CONTRACT.md's field names, status codes, the read-only token rule, the listing."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.people import tokens
from engine.timing import clock
from tests.webui.conftest import ApiClient

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def archive(deploy, session, api_as):
    deploy("external/archive_job.bpmn")
    session.commit()
    api = api_as("engineer")
    with clock.frozen(T0):
        opened = api.post("/cases", json={"process": "archive_job", "data": {"document": "lease.pdf"}})
    assert opened.status_code == 201, opened.json
    return api, opened.json["key"]


def _fetch(api, worker="w1", **more):
    return api.post("/external-tasks/fetch-and-lock", json={
        "workerId": worker, "maxTasks": 5, "topics": [{"topicName": "archive", "lockDuration": 30_000}], **more})


def test_fetch_lock_and_complete_in_camundas_words(archive):
    api, key = archive
    with clock.frozen(T0):
        fetched = _fetch(api)
    assert fetched.status_code == 200, fetched.json
    [job] = fetched.json
    assert (job["case"], job["topicName"], job["activityId"], job["workerId"]) == (key, "archive", "archive", "w1")
    assert job["variables"]["document"] == "lease.pdf"
    assert job["lockExpirationTime"] == job["lock_expires_at"] == "2026-03-02T09:00:30+00:00"
    with clock.frozen(T0 + dt.timedelta(seconds=10)):
        wrong = api.post(f"/external-tasks/{job['id']}/complete", json={"workerId": "w2", "variables": {}})
        done = api.post(f"/external-tasks/{job['id']}/complete", json={"workerId": "w1",
                                                                        "variables": {"archive_ref": "B-2"}})
    assert wrong.status_code == 409
    assert wrong.json["error"]["message"] == f"external task {job['id']} is locked by another worker (w1)"
    assert done.status_code == 200, done.json
    assert done.json["data"]["archive_ref"] == "B-2"
    assert [t["name"] for t in done.json["open_tasks"]] == ["Check the archive entry"]
    history = [e["type"] for e in api.get(f"/cases/{key}/history").json]
    assert "external_task_completed" in history
    gone = api.post(f"/external-tasks/{job['id']}/complete", json={"workerId": "w1"})
    assert gone.status_code == 404


def test_contracts_field_names_and_the_bpmn_error_route(archive):
    api, key = archive
    with clock.frozen(T0):
        fetched = api.post("/external-tasks/fetch-and-lock", json={
            "worker_id": "w9", "max_tasks": 1, "topics": [{"name": "archive", "lock_seconds": 60}]})
    [job] = fetched.json
    assert job["lock_expires_at"] == "2026-03-02T09:01:00+00:00"
    with clock.frozen(T0 + dt.timedelta(seconds=1)):
        uncaught = api.post(f"/external-tasks/{job['id']}/bpmn-error", json={"worker_id": "w9", "code": "OOPS"})
        caught = api.post(f"/external-tasks/{job['id']}/bpmnError", json={
            "workerId": "w9", "errorCode": "ARCHIVE_FULL", "errorMessage": "no space", "variables": {"freed": 0}})
    assert uncaught.status_code == 422
    assert uncaught.json["error"]["message"].startswith(
        f"no error event catches error code 'OOPS' thrown from archive in case {key}")
    assert caught.status_code == 200, caught.json
    assert [t["name"] for t in caught.json["open_tasks"]] == ["Make room in the archive"]


def test_failure_until_it_needs_attention_then_a_process_owner_retries(archive, api_as):
    api, key = archive
    owner = api_as("process_owner")
    with clock.frozen(T0):
        [job] = _fetch(api).json
        failed = api.post(f"/external-tasks/{job['id']}/failure", json={
            "workerId": "w1", "errorMessage": "archive offline", "retries": 0, "retryTimeout": 0})
    assert failed.status_code == 200, failed.json
    assert (failed.json["retries"], failed.json["needs_attention"], failed.json["errorMessage"]) == (
        0, True, "archive offline")
    listed = owner.get("/external-tasks?state=attention").json
    assert [(j["case"], j["errorMessage"]) for j in listed] == [(key, "archive offline")]
    refused = api.post(f"/external-tasks/{job['id']}/retries", json={"retries": 2})
    assert refused.status_code == 403
    retried = owner.post(f"/external-tasks/{job['id']}/retries", json={"retries": 2})
    assert retried.status_code == 200 and retried.json["retries"] == 2
    with clock.frozen(T0 + dt.timedelta(seconds=1)):
        assert [j["id"] for j in _fetch(api).json] == [job["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"maxTasks": 1, "topics": [{"topicName": "archive", "lockDuration": 1000}]}, "workerId"),
    ({"workerId": "w", "maxTasks": 1, "topics": "archive"}, "topics"),
    ({"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "archive", "lockDuration": "long"}]},
     "topics[0].lockDuration"),
    ({"workerId": "w", "maxTasks": 1000, "topics": [{"topicName": "archive", "lockDuration": 1000}]}, "maxTasks"),
])
def test_bad_bodies_are_422_naming_the_field(archive, body, field):
    api, _key = archive
    answer = api.post("/external-tasks/fetch-and-lock", json=body)
    assert answer.status_code == 422
    assert field in answer.json["error"]["details"]


def test_a_read_only_token_may_not_fetch(archive, app, session, make_user):
    user = make_user("engineer", name="reader_bot")
    token = tokens.create_token(session, user.name, actor=None, name="ro", scope="read")
    session.commit()
    api = ApiClient(app.test_client(), user, "token", {"Authorization": f"Bearer {token}"})
    answer = _fetch(api)
    assert answer.status_code == 403
    assert "read-only" in answer.json["error"]["message"]
