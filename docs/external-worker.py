"""A reference worker for opsgate's external tasks (docs/api.md, "External tasks"), in plain Python.

It fetches and locks jobs by topic, runs a handler for each, and reports back:

* the handler returns a dict -> complete, the dict becomes case data;
* the handler raises BusinessError(code) -> bpmnError: the process's boundary error event with
  that errorCode takes the case on (a code nothing catches answers 422; the job stays locked
  and is reported as a failure instead);
* the handler raises anything else -> failure with one retry fewer and a growing timeout; at 0
  retries the job needs attention (case page, process page) until a process owner retries it.

Run it:  OPSGATE_TOKEN=... python docs/external-worker.py --url http://127.0.0.1:5000 --topic archive
(`opsgate token create archiver` makes a token; the user must be in a staff group.)
Only the standard library is used (urllib); `Api.send` is the one place that speaks HTTP.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

log = logging.getLogger("opsgate-worker")

RETRIES = 3  # a job's first failure leaves this many retries minus one
BACKOFF_MS = 10_000  # first retry after 10 s, then 20 s, 40 s ...


class BusinessError(Exception):
    """The work cannot be done for a business reason the process models (a BPMN error)."""

    def __init__(self, code: str, message: str = "", variables: dict[str, Any] | None = None):
        super().__init__(message or code)
        self.code, self.message, self.variables = code, message or code, variables or {}


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}")
        self.status, self.body = status, body


class Api:
    """opsgate's API at `url` (e.g. http://127.0.0.1:5000) with a bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 30.0):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def send(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST a JSON body to /api/v1 + path; return (status, decoded answer)."""
        request = urllib.request.Request(self.url + "/api/v1" + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        status, answer = self.send(path, body)
        if status >= 400:
            raise ApiError(status, answer)
        return answer


def fetch_and_lock(api: Api, worker_id: str, topics: dict[str, int], max_tasks: int = 10) -> list[dict[str, Any]]:
    """Lock up to max_tasks jobs of the topics ({name: lock duration in ms}) for this worker."""
    return api.post("/external-tasks/fetch-and-lock", {
        "workerId": worker_id, "maxTasks": max_tasks,
        "topics": [{"topicName": name, "lockDuration": ms} for name, ms in topics.items()]})


def complete(api: Api, job: dict[str, Any], worker_id: str, variables: dict[str, Any]) -> Any:
    return api.post(f"/external-tasks/{job['id']}/complete", {"workerId": worker_id, "variables": variables})


def fail(api: Api, job: dict[str, Any], worker_id: str, message: str, retries: int, retry_timeout_ms: int) -> Any:
    return api.post(f"/external-tasks/{job['id']}/failure", {
        "workerId": worker_id, "errorMessage": message[:4000], "retries": retries, "retryTimeout": retry_timeout_ms})


def bpmn_error(api: Api, job: dict[str, Any], worker_id: str, code: str, message: str,
               variables: dict[str, Any] | None = None) -> Any:
    return api.post(f"/external-tasks/{job['id']}/bpmnError", {
        "workerId": worker_id, "errorCode": code, "errorMessage": message, "variables": variables or {}})


def next_retry(job: dict[str, Any]) -> tuple[int, int]:
    """(retries left, timeout in ms) after one more failure: the count goes down, the wait doubles."""
    left = (job.get("retries") if job.get("retries") is not None else RETRIES) - 1
    return max(left, 0), BACKOFF_MS * 2 ** max(RETRIES - 1 - left, 0)


def handle(api: Api, worker_id: str, job: dict[str, Any], handler: Callable[[dict[str, Any]], dict[str, Any]]) -> str:
    """Run one job's handler and report the outcome; return "completed", "error" or "failed"."""
    try:
        variables = handler(job.get("variables") or {})
    except BusinessError as err:
        try:
            bpmn_error(api, job, worker_id, err.code, err.message, err.variables)
            return "error"
        except ApiError as refused:
            if refused.status != 422:  # 422: no boundary event catches the code; report it as a failure
                raise
            fail(api, job, worker_id, f"BPMN error {err.code} is not caught: {err.message}", 0, 0)
            return "failed"
    except Exception as err:  # the work failed: retry later, or leave it for a person
        left, wait = next_retry(job)
        fail(api, job, worker_id, f"{type(err).__name__}: {err}", left, wait)
        log.warning("job %s failed (%d retries left): %s", job["id"], left, err)
        return "failed"
    complete(api, job, worker_id, variables or {})
    return "completed"


def run_once(api: Api, worker_id: str, handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
             lock_ms: int = 60_000, max_tasks: int = 10) -> list[str]:
    """One round: fetch, lock and handle what there is; return each job's outcome."""
    jobs = fetch_and_lock(api, worker_id, dict.fromkeys(handlers, lock_ms), max_tasks)
    outcomes = []
    for job in jobs:
        try:
            outcomes.append(handle(api, worker_id, job, handlers[job["topicName"]]))
        except ApiError as err:  # 409: the lock expired and another worker has it; 404: the case moved on
            log.warning("job %s: %s", job["id"], err)
            outcomes.append("lost")
    return outcomes


def run(api: Api, worker_id: str, handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
        poll_seconds: float = 5.0) -> None:
    """Work until stopped: a round, then a pause when there was nothing to do."""
    while True:
        try:
            if not run_once(api, worker_id, handlers):
                time.sleep(poll_seconds)
        except (OSError, ApiError) as err:  # opsgate unreachable or refusing: wait and try again
            log.error("%s; retrying in %.0f s", err, poll_seconds)
            time.sleep(poll_seconds)


def archive(variables: dict[str, Any]) -> dict[str, Any]:
    """An example handler for topic `archive`: file the invoice, answer where it went."""
    supplier = variables.get("supplier")
    if not supplier:
        raise BusinessError("NO_SUPPLIER", "the invoice names no supplier")
    return {"archived_as": f"FAS/{supplier}/{variables.get('case_key', '')}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("OPSGATE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--worker-id", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--topic", action="append", default=[], help="topics to work (default: archive)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    handlers = dict.fromkeys(args.topic or ["archive"], archive)
    run(Api(args.url, os.environ["OPSGATE_TOKEN"]), args.worker_id, handlers)


if __name__ == "__main__":
    main()
