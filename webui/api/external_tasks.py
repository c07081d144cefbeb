"""The external-task API (#16; engine.jobs.external_tasks): outside workers fetch, lock and finish jobs.

Bodies take Camunda 7's names (`workerId`, `maxTasks`, `topics: [{topicName, lockDuration}]` in
milliseconds, `errorMessage`, `retryTimeout` in milliseconds, `errorCode`) or CONTRACT.md's
(`worker_id`, `max_tasks`, `topics: [{name, lock_seconds}]`, `message`, `retry_seconds`, `code`);
`/bpmnError` and `/bpmn-error` are the same route. The routes sit on the API blueprint
(webui.api.routes), so authentication, the read-only token rule and the error model are its.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, g, jsonify, request

from engine.jobs import external_tasks
from engine.timing import clock
from models import ExternalTask
from webui.api import shapes
from webui.api.params import json_object, query_choice
from webui.api.routes import bp
from webui.db import get_session


def _pick(body: Mapping[str, Any], camunda: str, contract: str) -> Any:
    return body.get(camunda, body.get(contract))


def _millis(body: Mapping[str, Any], camunda: str, seconds: str) -> Any:
    """A duration in milliseconds, from Camunda's field or from CONTRACT.md's seconds."""
    if camunda in body or seconds not in body:
        return body.get(camunda)
    value = body[seconds]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value * 1000)
    return value


def _topics(raw: Any) -> Any:
    if not isinstance(raw, list):
        return raw
    return [{"topicName": _pick(t, "topicName", "name"), "lockDuration": _millis(t, "lockDuration", "lock_seconds"),
             "variables": t.get("variables")} if isinstance(t, Mapping) else t for t in raw]


def job_json(job: ExternalTask, case_key: str | None = None, variables: dict[str, Any] | None = None,
             process_key: str | None = None) -> dict[str, Any]:
    """A job as workers and people read it (CONTRACT.md's names, and Camunda's where they differ)."""
    answer = {
        "id": job.id, "topic": job.topic, "topicName": job.topic, "case": case_key, "activityId": job.element_id,
        "workerId": job.worker_id, "lock_expires_at": shapes.stamp(job.locked_until) if job.worker_id else None,
        "lockExpirationTime": shapes.stamp(job.locked_until) if job.worker_id else None,
        "retries": job.retries, "errorMessage": job.error_message,
        "needs_attention": job.retries == 0, "created_at": shapes.stamp(job.created_at),
    }
    if process_key is not None:
        answer["processDefinitionKey"] = process_key
    if variables is not None:
        answer["variables"] = variables
    return answer


@bp.post("/external-tasks/fetch-and-lock")
def fetch_and_lock_external_tasks() -> Response:
    """Lock jobs of the given topics for a worker; answer them with their case variables."""
    body = json_object()
    session = get_session()
    locked = external_tasks.fetch_and_lock(session, _pick(body, "workerId", "worker_id"), _topics(body.get("topics")),
                                           _pick(body, "maxTasks", "max_tasks"), actor=g.actor)
    session.commit()
    return jsonify([job_json(j.job, j.case_key, j.variables, j.process_key) for j in locked])


@bp.post("/external-tasks/<int:job_id>/complete")
def complete_external_task(job_id: int) -> Response:
    """Complete a locked job with variables; answer the case."""
    body = json_object()
    session = get_session()
    case = external_tasks.complete(session, job_id, _pick(body, "workerId", "worker_id"), body.get("variables"),
                                   actor=g.actor)
    session.commit()
    return jsonify(shapes.case_json(session, case))


@bp.post("/external-tasks/<int:job_id>/failure")
def fail_external_task(job_id: int) -> Response:
    """Report a worker's failure: retries left and when to try again."""
    body = json_object()
    session = get_session()
    job = external_tasks.report_failure(session, job_id, _pick(body, "workerId", "worker_id"),
                                        _pick(body, "errorMessage", "message"), body.get("retries"),
                                        _millis(body, "retryTimeout", "retry_seconds"), actor=g.actor,
                                        error_details=body.get("errorDetails"))
    session.commit()
    return jsonify(job_json(job))


@bp.post("/external-tasks/<int:job_id>/bpmnError")
@bp.post("/external-tasks/<int:job_id>/bpmn-error")
def external_task_bpmn_error(job_id: int) -> Response:
    """Throw a BPMN error from a locked job, for the error event that catches its code; answer the case."""
    body = json_object()
    session = get_session()
    case = external_tasks.throw_error(session, job_id, _pick(body, "workerId", "worker_id"),
                                      _pick(body, "errorCode", "code"), _pick(body, "errorMessage", "message"),
                                      body.get("variables"), actor=g.actor)
    session.commit()
    return jsonify(shapes.case_json(session, case))


@bp.post("/external-tasks/<int:job_id>/retries")
def retry_external_task(job_id: int) -> Response:
    """Give a job that needs attention new retries (process owners)."""
    body = json_object()
    session = get_session()
    job = external_tasks.retry(session, job_id, body.get("retries", 1), actor=g.actor)
    session.commit()
    return jsonify(job_json(job))


@bp.get("/external-tasks")
def list_external_tasks() -> Response:
    """List the jobs that need attention (`?state=attention`, the default), or all jobs of a case (`?case=KEY`)."""
    session = get_session()
    state = query_choice("state", ("attention", "all"), "attention")
    ref = request.args.get("case") or None
    jobs = external_tasks.list_jobs(session, actor=g.actor, case_ref=ref, attention_only=state == "attention")
    now = clock.now()
    return jsonify([job_json(a.job, a.case_key, process_key=a.process_key) | {"locked": a.job.worker_id is not None
                                                                              and a.job.locked_until is not None
                                                                              and a.job.locked_until > now}
                    for a in jobs])
