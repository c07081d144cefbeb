"""The OpenAPI 3 description of the JSON API (served at /api/v1/openapi.json).

The paths below are written from CONTRACT.md's "JSON API" table. `document()` serves only
the operations whose routes are registered, and tests/webui/test_api_openapi.py fails when
a registered route under /api/v1 has no operation here, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from webui.api.params import MAX_PER_PAGE
from webui.hardening import MAX_ID, MAX_PAGE

API_PREFIX = "/api/v1"

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": "#/components/responses/" + description}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


_VERSION = _query("version", "A deployed version number; default the latest.",
                  {"type": "integer", "minimum": 1, "maximum": MAX_ID})
_KEY = _path_param("key", "The process key (the BPMN process id).")
_VERSION_PATH = {"name": "version", "in": "path", "required": True, "description": "A version number.",
                 "schema": {"type": "integer", "minimum": 1}}
_VERSION_STATE = {"type": "object", "properties": {
    "key": {"type": "string"}, "version": {"type": "integer"},
    "status": {"type": "string", "enum": ["live", "proposed", "rejected"]}, "sha256": {"type": "string"},
    "reviewed_by": {"type": ["string", "null"]}, "review_comment": {"type": "string"},
    "review_case": {"type": ["string", "null"]}, "emergency": {"type": "boolean"}}}
_REF_PARAM = _path_param("ref", "The case id or its key (INC-000123).")
_TASK_ID = _path_param("task_id", "The task id (a UUID).")
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "description": "The external task's (job's) id.",
           "schema": {"type": "integer", "minimum": 1}}

_STR_SCHEMA = {"type": "string"}
_PAGE = [_query("page", "Page number, from 1; a `Link: <...>; rel=\"next\"` header "
                 "names the next page while there is one.",
                 {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
          _query("per_page", "Items per page.", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})]
_READ = ["BadRequest", "Unauthorized", "NotFound"]
_WRITE = ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict",
          "PayloadTooLarge"]


def _op(summary: str, ok: dict[str, Any], *, errors: list[str], tag: str,
        params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = dict(ok)
    codes = {"BadRequest": "400", "Unauthorized": "401", "Forbidden": "403",
             "NotFound": "404", "Conflict": "409", "PayloadTooLarge": "413",
             "Unprocessable": "422"}
    for name in errors:
        responses[codes[name]] = _error(name)
    responses.update(extra or {})
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


def _paths() -> dict[str, dict[str, Any]]:
    case_json = _json(_ref("Case"), "The case.")
    task_json = _json(_ref("Task"), "The task.")
    return {
        "/processes": {
            "get": _op("List the latest version of every deployed process.",
                       {"200": _json({"type": "array", "items": _ref("Process")},
                                     "Processes.")},
                       errors=["Unauthorized"], tag="processes"),
            "post": _op(
                "Deploy BPMN (and DMN) as new process versions (process_owner, admin).",
                {"201": _json(_ref("Deployed"), "Deployed as a new version."),
                 "200": _json(_ref("Deployed"), "Identical source: nothing changed.")},
                errors=["BadRequest", "Unauthorized", "Forbidden", "PayloadTooLarge"],
                tag="processes",
                body={"required": True, "content": {
                    "application/xml": {"schema": {"type": "string"}},
                    "multipart/form-data": {"schema": {
                        "type": "object",
                        "properties": {"file": {"type": "array", "items": {
                            "type": "string", "format": "binary"}}},
                        "required": ["file"]}}}},
                extra={"422": _json(_ref("DeployError"),
                                    "Invalid BPMN: nothing was deployed.")}),
        },
        "/processes/{key}": {
            "get": _op("Show a process version and its start form.",
                       {"200": _json(_ref("ProcessDetail"), "The process.")},
                       errors=_READ, tag="processes", params=[_KEY, _VERSION]),
        },
        "/processes/{key}/bpmn": {
            "get": _op("Download a process version's BPMN XML.",
                       {"200": {"description": "The BPMN XML.", "content": {
                           "application/xml": {"schema": {"type": "string"}}}}},
                       errors=_READ, tag="processes", params=[_KEY, _VERSION]),
        },
        "/processes/{key}/versions/{version}/review": {
            "post": _op("Approve or reject a proposed version as a second process owner (never its author); "
                        "the approval puts it live.",
                        {"200": _json(_VERSION_STATE, "The version with its review.")},
                        errors=_WRITE + ["Unprocessable"], tag="processes", params=[_KEY, _VERSION_PATH],
                        body={"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["decision", "comment"], "properties": {
                                "decision": {"type": "string", "enum": ["approve", "reject"]},
                                "comment": {"type": "string"}}}}}}),
        },
        "/processes/{key}/versions/{version}/put-live": {
            "post": _op("Put a proposed version live without a review (admins; an emergency, audited and told "
                        "to the process owners).",
                        {"200": _json(_VERSION_STATE, "The version, now live.")},
                        errors=_WRITE + ["Unprocessable"], tag="processes", params=[_KEY, _VERSION_PATH],
                        body={"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["reason"], "properties": {
                                "reason": {"type": "string"}}}}}}),
        },
        "/processes/{key}/history": {
            "get": _op("A process's version history: who proposed and reviewed each version, when and why, "
                       "its open cases, and the migrations of cases between versions.",
                       {"200": _json({"type": "object"}, "The history.")},
                       errors=_READ, tag="processes", params=[_KEY]),
        },
        "/cases": {
            "get": _op(
                "List the cases the caller may see, newest first, a page at a time.",
                {"200": _json(_ref("CasePage"), "One page of cases.")},
                errors=["BadRequest", "Unauthorized", "Unprocessable"], tag="cases",
                params=[_query("process", "Only cases of this process key.",
                               {"type": "string"}),
                        _query("status", "Only cases in this status.",
                               {"type": "string", "enum": ["open", "closed", "cancelled"]}),
                        _query("page", "Page number, from 1.",
                               {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
                        _query("before", "Only cases with a lower id: the previous page's `next_before`. "
                               "A deep page costs what the first does; not with `page`.",
                               {"type": "integer", "minimum": 1}),
                        _query("per_page", "Cases per page.",
                               {"type": "integer", "minimum": 1, "maximum": 200,
                                "default": 50})]),
            "post": _op(
                "Open a case. For `incident`, a `dedup_key` folds an alert storm into the "
                "open incident with that key (200, one more occurrence).",
                {"201": _json(_ref("Case"), "The case was opened."),
                 "200": _json(_ref("Case"),
                              "An open incident with this dedup_key exists: an occurrence "
                              "was added to it and it is returned.")},
                errors=_WRITE + ["Unprocessable"], tag="cases",
                body={"required": True, "content": {"application/json": {
                    "schema": _ref("NewCase")}}}),
        },
        "/cases/{ref}": {
            "get": _op("Show a case with its open tasks.", {"200": case_json},
                       errors=_READ + ["Forbidden"], tag="cases", params=[_REF_PARAM]),
        },
        "/cases/{ref}/history": {
            "get": _op("List a case's audit events, oldest first.",
                       {"200": _json({"type": "array", "items": _ref("AuditEvent")},
                                     "The audit trail.")},
                       errors=_READ + ["Forbidden"], tag="cases", params=[_REF_PARAM, *_PAGE]),
        },
        "/tasks": {
            "get": _op(
                "List the ready tasks the caller may act on.",
                {"200": _json({"type": "array", "items": _ref("Task")}, "Tasks.")},
                errors=["BadRequest", "Unauthorized"], tag="tasks",
                params=[_query("scope", "`group`: tasks of the caller's groups; `mine`: "
                               "tasks the caller has claimed.",
                               {"type": "string", "enum": ["group", "mine"],
                                "default": "group"}), *_PAGE]),
        },
        "/tasks/{task_id}": {
            "get": _op("Show a ready task and its form.", {"200": task_json},
                       errors=_READ + ["Forbidden"], tag="tasks", params=[_TASK_ID]),
        },
        "/tasks/{task_id}/claim": {
            "post": _op("Claim a task for the caller.", {"200": task_json},
                        errors=_WRITE, tag="tasks", params=[_TASK_ID]),
        },
        "/tasks/{task_id}/complete": {
            "post": _op(
                "Complete a task with its form data.", {"200": case_json},
                errors=_WRITE + ["Unprocessable"], tag="tasks", params=[_TASK_ID],
                body={"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"type": "object",
                                            "additionalProperties": True}}}}}}),
        },
        "/tasks/{task_id}/release": {
            "post": _op("Give a claimed task back to its group (its holder, or an admin).",
                        {"200": task_json}, errors=_WRITE, tag="tasks", params=[_TASK_ID]),
        },
        "/tasks/{task_id}/reassign": {
            "post": _op("Give a task to someone else with a reason (manager, admin); not a vote.",
                        {"200": task_json}, errors=_WRITE + ["Unprocessable"], tag="tasks", params=[_TASK_ID],
                        body={"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["to", "reason"],
                            "properties": {"to": {"type": "string"}, "reason": {"type": "string"}}}}}}),
        },
        "/delegations": {
            "get": _op("List the delegations (deputies) that concern the caller, not yet over; "
                       "everyone's for managers and admins.",
                       {"200": _json({"type": "array", "items": _ref("Delegation")}, "Delegations.")},
                       errors=["Unauthorized"], tag="people"),
            "post": _op("Name a deputy for a period (the caller's own, or someone's as a manager or admin).",
                        {"201": _json(_ref("Delegation"), "The delegation.")},
                        errors=_WRITE + ["Unprocessable"], tag="people",
                        body={"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["deputy", "starts_at", "ends_at"],
                            "properties": {"deputy": {"type": "string"}, "user": {"type": "string"},
                                           "starts_at": {"type": "string", "format": "date-time"},
                                           "ends_at": {"type": "string", "format": "date-time"},
                                           "note": {"type": "string"}}}}}}),
        },
        "/delegations/{delegation_id}/end": {
            "post": _op("End a delegation now (the person, the deputy, a manager or an admin).",
                        {"200": _json(_ref("Delegation"), "The delegation.")}, errors=_WRITE, tag="people",
                        params=[{"name": "delegation_id", "in": "path", "required": True,
                                 "schema": {"type": "integer"}}]),
        },
        "/me": {
            "get": _op("Show the caller; a browser session also gets its CSRF token.",
                       {"200": _json(_ref("Me"), "The caller.")},
                       errors=["Unauthorized"], tag="meta"),
        },
        "/audit/verify": {
            "get": _op("Recompute the audit hash chain (auditor, admin).",
                       {"200": _json(_ref("VerifyResult"), "The result.")},
                       errors=_READ + ["Forbidden"], tag="audit",
                       params=[_query("case", "Only this case (id or key).",
                                      {"type": "string"})]),
        },
        "/metrics": {
            "get": _op("Process metrics for a period (supervisor, auditor, admin).",
                       {"200": _json({"type": "object", "additionalProperties": True},
                                     "Metrics.")},
                       errors=["BadRequest", "Unauthorized", "Forbidden", "Unprocessable"], tag="reports",
                       params=[_query("period", "YYYY-MM or YYYY (instead of from/to); "
                                      "default the current month.", {"type": "string"}),
                               _query("from", "Start of the period (ISO 8601 date or time).",
                                      {"type": "string"}),
                               _query("to", "End of the period (ISO 8601; a date includes "
                                      "that whole day).", {"type": "string"}),
                               _query("process", "Only this process key.", _STR_SCHEMA),
                               _query("provider", "Only this provider.", _STR_SCHEMA),
                               _query("system", "Only this system.", _STR_SCHEMA),
                               _query("priority", "Only this priority (P1-P4).",
                                      _STR_SCHEMA)]),
        },
        "/evaluations": {
            "get": _op("Provider scorecards for a month (YYYY-MM) or annual assessments for a "
                       "year (YYYY) (supervisor, auditor, admin).",
                       {"200": _json({"type": "object", "additionalProperties": True},
                                     "Scorecards.")},
                       errors=["BadRequest", "Unauthorized", "Forbidden", "Unprocessable"], tag="reports",
                       params=[{**_query("period", "YYYY-MM or YYYY.", {"type": "string"}), "required": True},
                               _query("provider", "Only this provider.",
                                      {"type": "string"})]),
        },
        "/evaluations/cases": {
            "get": _op("The cases behind a KPI of a monthly scorecard, a page at a time "
                       "(supervisor, auditor, admin).",
                       {"200": _json({"type": "object", "additionalProperties": True},
                                     "{items: [case], next_page}.")},
                       errors=["Unauthorized", "Forbidden", "NotFound", "Unprocessable"],
                       tag="reports",
                       params=[_query("measure", "The KPI's measure (its source.measure).",
                                      {"type": "string"}),
                               _query("period", "YYYY-MM.", {"type": "string"}),
                               _query("provider", "Only this provider.", {"type": "string"}),
                               _query("show", "met or missed (default: all).",
                                      {"type": "string", "enum": ["met", "missed"]}),
                               _query("page", "Page number, from 1.",
                                      {"type": "integer", "minimum": 1, "maximum": MAX_PAGE})]),
        },
        "/notices": {
            "get": _op("List the caller's in-app notices, newest first (a task is waiting for "
                       "them, an SLA is running out, a case was escalated).",
                       {"200": _json({"type": "array", "items": _ref("Notice")}, "Notices.")},
                       errors=["BadRequest", "Unauthorized"], tag="notices",
                       params=[_query("unread", "`true`: only the unread ones.",
                                      {"type": "string", "enum": ["true", "false"],
                                       "default": "false"}), *_PAGE]),
        },
        "/notices/read": {
            "post": _op("Mark all of the caller's notices read.",
                        {"200": _json(_ref("Marked"), "How many changed.")},
                        errors=["Unauthorized", "Forbidden"], tag="notices"),
        },
        "/notices/{notice_id}/read": {
            "post": _op("Mark one of the caller's notices read.",
                        {"200": _json(_ref("Marked"), "How many changed (0 if it was read).")},
                        errors=["Unauthorized", "Forbidden", "NotFound"], tag="notices",
                        params=[_path_param("notice_id", "The notice id.")]),
        },
        "/models": {
            "get": _op("List the descriptive models (documentation, not executable), newest first.",
                       {"200": _json({"type": "array", "items": _ref("Model")}, "Models.")},
                       errors=["Unauthorized"], tag="processes"),
            "post": _op(
                "Keep a BPMN file as a descriptive model (process_owner, admin): stored as it is, drawn, never run; "
                "`reasons` says why the engine would not run it.",
                {"201": _json(_ref("Model"), "Kept."), "200": _json(_ref("Model"), "Identical file: the stored one.")},
                errors=["BadRequest", "Unauthorized", "Forbidden", "PayloadTooLarge"], tag="processes",
                body={"required": True, "content": {
                    "application/xml": {"schema": {"type": "string"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}},
                extra={"422": _json(_ref("DeployError"), "Not a readable BPMN file.")}),
        },
        "/models/{model_id}": {
            "get": _op("Show a descriptive model and why the engine would not run it.",
                       {"200": _json(_ref("Model"), "The model.")}, errors=_READ, tag="processes",
                       params=[_path_param("model_id", "The model id.")]),
        },
        "/models/{model_id}/bpmn": {
            "get": _op("Download a descriptive model's BPMN XML.",
                       {"200": {"description": "The BPMN XML.", "content": {
                           "application/xml": {"schema": {"type": "string"}}}}},
                       errors=_READ, tag="processes", params=[_path_param("model_id", "The model id.")]),
        },
        "/messages": {
            "post": _op(
                "Send a BPMN message (staff and integrations): delivered to the one open case waiting for it "
                "(chosen by `case` and/or `correlation`, case data fields that must equal the given values), or, "
                "when nothing waits and no case is named, a case starts at the process's message start event. "
                "`data` becomes case data; an `idempotency_key` delivers at most once (a repeat answers the first "
                "delivery with `repeated: true`).",
                {"200": _json(_ref("MessageDelivery"), "Delivered to a waiting case (or a repeat)."),
                 "201": _json(_ref("MessageDelivery"), "A case started at a message start event.")},
                errors=[*_WRITE, "Unprocessable"], tag="events",
                body=_json_body(_ref("Message"))),
        },
        "/signals": {
            "post": _op(
                "Broadcast a BPMN signal (staff and integrations) to every open case waiting for it.",
                {"200": _json(_ref("SignalDelivery"), "How many cases got it, and which.")},
                errors=[*_WRITE, "Unprocessable"], tag="events",
                body=_json_body(_ref("Signal"))),
        },
        "/external-tasks/fetch-and-lock": {
            "post": _op(
                "Fetch and lock jobs of external service tasks (`camunda:type=\"external\"`) by topic, for a worker "
                "(staff and integrations; a read-only token may not). Each job goes to one worker until its lock "
                "expires; an expired lock makes it fetchable again. Camunda 7's names (`workerId`, `maxTasks`, "
                "`topicName`, `lockDuration` in ms) or CONTRACT.md's (`worker_id`, `max_tasks`, `name`, "
                "`lock_seconds`).",
                {"200": _json({"type": "array", "items": _ref("ExternalTask")}, "The jobs now locked for the worker.")},
                errors=[*_WRITE, "Unprocessable"], tag="external tasks",
                body=_json_body(_ref("FetchAndLock"))),
        },
        "/external-tasks/{job_id}/complete": {
            "post": _op(
                "Complete a locked job; `variables` become case data and the case moves on. 409 when another "
                "worker holds the lock or the lock expired.",
                {"200": _json(_ref("Case"), "The case after the step.")},
                errors=[*_WRITE, "Unprocessable"], tag="external tasks", params=[_JOB_ID],
                body=_json_body(_ref("ExternalTaskComplete"))),
        },
        "/external-tasks/{job_id}/failure": {
            "post": _op(
                "Report a failure: the job is fetchable again after `retryTimeout` ms while `retries` are left; "
                "at 0 it needs attention (case page, process page) until a process owner retries it.",
                {"200": _json(_ref("ExternalTask"), "The job.")},
                errors=[*_WRITE, "Unprocessable"], tag="external tasks", params=[_JOB_ID],
                body=_json_body(_ref("ExternalTaskFailure"))),
        },
        "/external-tasks/{job_id}/bpmnError": {
            "post": _op(
                "Throw a BPMN error from a locked job: the boundary error event with that `errorCode` catches it "
                "and the case takes its path; a code nothing catches is 422 and the job is unchanged. "
                "`/bpmn-error` is the same route.",
                {"200": _json(_ref("Case"), "The case after the step.")},
                errors=[*_WRITE, "Unprocessable"], tag="external tasks", params=[_JOB_ID],
                body=_json_body(_ref("ExternalTaskError"))),
        },
        "/external-tasks/{job_id}/bpmn-error": {
            "post": _op("Throw a BPMN error from a locked job (the same as `/bpmnError`).",
                        {"200": _json(_ref("Case"), "The case after the step.")},
                        errors=[*_WRITE, "Unprocessable"], tag="external tasks", params=[_JOB_ID],
                        body={"required": True, "content": {"application/json": {
                            "schema": _ref("ExternalTaskError")}}}),
        },
        "/external-tasks/{job_id}/retries": {
            "post": _op("Give a job that needs attention new retries (process owners, admins); audited.",
                        {"200": _json(_ref("ExternalTask"), "The job, fetchable again.")},
                        errors=[*_WRITE, "Unprocessable"], tag="external tasks", params=[_JOB_ID],
                        body={"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"retries": {"type": "integer", "minimum": 1}}}}}}),
        },
        "/external-tasks": {
            "get": _op("List jobs that need attention (`?state=attention`, the default) or all jobs "
                       "(`?state=all`), optionally of one case (`?case=KEY`).",
                       {"200": _json({"type": "array", "items": _ref("ExternalTask")}, "The jobs.")},
                       errors=_READ, tag="external tasks",
                       params=[_query("state", "attention or all", {"type": "string", "enum": ["attention", "all"]}),
                               _query("case", "A case key.", _STR_SCHEMA)]),
        },
        "/openapi.json": {
            "get": {"summary": "This document.", "tags": ["meta"], "security": [],
                    "responses": {"200": {"description": "OpenAPI 3 document.",
                                          "content": {"application/json": {}}}}},
        },
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}


def _schemas() -> dict[str, Any]:
    form_field = {
        "type": "object",
        "required": ["name", "label", "type", "required"],
        "properties": {
            "name": _STR, "label": _STR,
            "type": {"type": "string", "enum": ["string", "text", "integer", "number",
                                                "boolean", "date", "datetime", "enum"]},
            "required": {"type": "boolean"},
            "choices": {"type": "array", "items": {
                "type": "object", "required": ["value", "label"],
                "properties": {"value": _STR, "label": _STR}}},
            "default": {}, "min": _nullable({"type": "number"}),
            "max": _nullable({"type": "number"}), "label_zh": _nullable(_STR),
            "readonly": {"type": "boolean"},
        },
        "additionalProperties": True,
    }
    process = {
        "type": "object", "required": ["key", "name", "version", "deployed_at", "sha256"],
        "properties": {"key": _STR, "name": _STR, "version": {"type": "integer"},
                       "deployed_at": _TIME, "sha256": _STR},
    }
    task = {
        "type": "object",
        "required": ["id", "case", "name", "lane", "candidate_groups", "assignee",
                     "due_at"],
        "properties": {
            "id": _STR, "case": {"type": "string", "description": "The case key."},
            "process": _STR, "name": _STR, "element_id": _STR, "lane": _nullable(_STR),
            "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
            "created_at": _TIME,
            "candidate_groups": {"type": "array", "items": _STR},
            "assignee": _nullable(_STR), "due_at": _nullable(_TIME),
            "form": {"type": "object", "properties": {
                "fields": {"type": "array", "items": _ref("FormField")}}},
        },
    }
    case = {
        "type": "object",
        "required": ["id", "key", "process", "version", "status", "outcome", "title",
                     "requester", "priority", "provider", "created_at", "closed_at",
                     "data", "open_tasks"],
        "properties": {
            "id": {"type": "integer"}, "key": _STR, "process": _STR,
            "version": {"type": "integer"},
            "status": {"type": "string", "enum": ["open", "closed", "cancelled"]},
            "outcome": _nullable(_STR), "title": _nullable(_STR),
            "requester": _nullable(_STR), "priority": _nullable(_STR),
            "provider": _nullable(_STR), "system": _nullable(_STR), "created_at": _TIME,
            "updated_at": _TIME,
            "closed_at": _nullable(_TIME),
            "data": {"type": "object", "additionalProperties": True},
            "open_tasks": {"type": "array", "items": _ref("Task")},
            "dedup_key": _nullable(_STR),
            "occurrences": {"type": "integer", "description":
                            "Alerts folded into this incident (1 for a new case)."},
            "sla_paused_since": {**_nullable(_TIME), "description":
                                 "Set while the case waits on its requester: its SLA clocks are stopped."},
            "sla_paused_seconds": {"type": "integer", "description":
                                   "Pending time so far (earlier pauses; the running one is not included)."},
        },
    }
    error = {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR, "details": {}},
        }},
    }
    problem = {"type": "object", "required": ["file", "message"], "properties": {
        "file": _STR, "element_id": _nullable(_STR), "line": _nullable({"type": "integer"}),
        "message": _STR, "rule": {"type": "string", "description": "the lint rule, for lint findings"}}}
    return {
        "Error": error,
        "FormField": form_field,
        "Process": process,
        "ProcessDetail": {"allOf": [process, {"type": "object", "properties": {
            "start_form": {"type": "object", "properties": {
                "fields": {"type": "array", "items": _ref("FormField")}}}}}]},
        "Deployed": {"type": "object", "required": ["key", "version"], "properties": {
            "key": _STR, "version": {"type": "integer"}, "changed": {"type": "boolean"},
            "deployed": {"type": "array", "items": {"type": "object", "properties": {
                "key": _STR, "version": {"type": "integer"},
                "created": {"type": "boolean"}}}},
            "warnings": {"type": "array", "items": problem,
                         "description": "Lint findings that do not block (docs/bpmn.md, 'Lint rules')."}}},
        "Me": {"type": "object", "required": ["name", "groups", "auth"], "properties": {
            "name": _STR, "display_name": _STR, "groups": {"type": "array", "items": _STR},
            "auth": {"type": "string", "enum": ["token", "session"]},
            "csrf_token": _nullable(_STR)}},
        "DeployError": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "object", "required": ["code", "message", "details"],
                      "properties": {"code": _STR, "message": _STR,
                                     "details": {"type": "array", "items": problem}}}}},
        "NewCase": {
            "type": "object", "required": ["process"],
            "properties": {
                "process": _STR, "title": _STR,
                "data": {"type": "object", "additionalProperties": True},
                "dedup_key": {"type": "string", "maxLength": 200, "description":
                              "incident only: alerts with the same key while the "
                              "incident is open become occurrences of it."},
            },
        },
        "Case": case,
        "CasePage": {"type": "object", "required": ["items", "next_page"], "properties": {
            "items": {"type": "array", "items": _ref("Case")},
            "next_page": _nullable({"type": "integer"}),
            "next_before": _nullable({"type": "integer"})}},
        "Task": task,
        "AuditEvent": {"type": "object",
                       "required": ["seq", "at", "actor", "type", "task", "data", "hash"],
                       "properties": {"seq": {"type": "integer"}, "at": _TIME,
                                      "actor": _STR, "type": _STR,
                                      "task": _nullable(_STR), "data": {},
                                      "hash": _STR}},
        "Notice": {"type": "object",
                   "required": ["id", "kind", "subject", "body", "case", "task_id", "created_at",
                                "read_at"],
                   "properties": {"id": {"type": "integer"},
                                  "kind": {"type": "string", "enum": ["task_assigned", "sla_warning",
                                                                      "case_escalated"]},
                                  "subject": _STR, "body": _STR, "case": _nullable(_STR),
                                  "task_id": _nullable(_STR), "created_at": _TIME,
                                  "read_at": _nullable(_TIME)}},
        "Model": {"type": "object", "required": ["id", "name", "filename", "sha256", "executable"],
                  "properties": {"id": {"type": "integer"}, "name": _STR, "filename": _STR, "sha256": _STR,
                                 "executable": {"type": "boolean", "description": "Always false."},
                                 "uploaded_by": _STR, "uploaded_at": _TIME,
                                 "reasons": {"type": "array", "items": {"type": "object", "properties": {
                                     "element_id": _nullable(_STR), "line": _nullable({"type": "integer"}),
                                     "message": _STR}}}}},
        "Message": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string", "maxLength": 200,
                                            "description": "The BPMN message's name (its `name`, not its id)."},
                                   "case": {"type": "string", "description": "The case key to deliver to."},
                                   "correlation": {"type": "object", "description":
                                                   "Case data fields the receiving case must have, with these values."},
                                   "data": {"type": "object", "description": "The payload: case data fields."},
                                   "idempotency_key": {"type": "string", "maxLength": 200}}},
        "MessageDelivery": {"type": "object", "required": ["case", "status", "started", "repeated"],
                            "properties": {"case": _STR, "status": _STR, "started": {"type": "boolean"},
                                           "repeated": {"type": "boolean"}}},
        "Signal": {"type": "object", "required": ["name"],
                   "properties": {"name": {"type": "string", "maxLength": 200}, "data": {"type": "object"}}},
        "SignalDelivery": {"type": "object", "required": ["delivered", "cases"],
                           "properties": {"delivered": {"type": "integer"},
                                          "cases": {"type": "array", "items": _STR}}},
        "ExternalTask": {"type": "object", "required": ["id", "topic", "case"], "properties": {
            "id": {"type": "integer"}, "topic": _STR, "topicName": _STR, "case": _STR, "activityId": _STR,
            "processDefinitionKey": _STR, "workerId": _nullable(_STR), "lock_expires_at": _nullable(_TIME),
            "lockExpirationTime": _nullable(_TIME), "retries": _nullable({"type": "integer"}),
            "errorMessage": _nullable(_STR), "needs_attention": {"type": "boolean"}, "created_at": _TIME,
            "variables": {"type": "object", "description": "The case data (or the fields the topic named)."}}},
        "FetchAndLock": {"type": "object", "required": ["workerId", "maxTasks", "topics"], "properties": {
            "workerId": {"type": "string", "maxLength": 200}, "maxTasks": {"type": "integer", "minimum": 1,
                                                                            "maximum": 100},
            "topics": {"type": "array", "items": {"type": "object", "required": ["topicName", "lockDuration"],
                                                  "properties": {"topicName": _STR,
                                                                 "lockDuration": {"type": "integer", "minimum": 1,
                                                                                  "description": "milliseconds"},
                                                                 "variables": {"type": "array", "items": _STR}}}}}},
        "ExternalTaskComplete": {"type": "object", "required": ["workerId"], "properties": {
            "workerId": _STR, "variables": {"type": "object"}}},
        "ExternalTaskFailure": {"type": "object", "required": ["workerId", "errorMessage", "retries"], "properties": {
            "workerId": _STR, "errorMessage": _STR, "errorDetails": _STR, "retries": {"type": "integer", "minimum": 0},
            "retryTimeout": {"type": "integer", "minimum": 0, "description": "milliseconds"}}},
        "ExternalTaskError": {"type": "object", "required": ["workerId", "errorCode"], "properties": {
            "workerId": _STR, "errorCode": _STR, "errorMessage": _STR, "variables": {"type": "object"}}},
        "Marked": {"type": "object", "required": ["changed"],
                   "properties": {"changed": {"type": "integer"}}},
        "Delegation": {"type": "object", "required": ["id", "user", "deputy", "starts_at", "ends_at"],
                       "properties": {"id": {"type": "integer"}, "user": _STR, "deputy": _STR, "starts_at": _TIME,
                                      "ends_at": _TIME, "ended_at": _nullable(_TIME), "note": _STR}},
        "VerifyResult": {"type": "object", "required": ["ok", "checked", "first_bad"],
                         "properties": {"ok": {"type": "boolean"},
                                        "checked": {"type": "integer"},
                                        "first_bad": {}, "reason": _STR}},
    }


def _responses() -> dict[str, Any]:
    texts = {
        "BadRequest": "Malformed request: bad JSON, wrong body type, bad query parameter.",
        "Unauthorized": "Not authenticated: no or unknown bearer token and no session.",
        "Forbidden": "Not allowed; the message names the rule (candidate group, "
                     "separation of duties, role, CSRF).",
        "NotFound": "No such thing.",
        "Conflict": "Task already completed or claimed by someone else, or the case "
                    "changed concurrently.",
        "PayloadTooLarge": "Request body too large.",
        "Unprocessable": "Invalid data; details maps each field to its messages.",
    }
    return {name: _json(_ref("Error"), text) for name, text in texts.items()}


def full_document() -> dict[str, Any]:
    """Return the whole description, including routes that may not be registered."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "opsgate API",
            "version": "1",
            "description": "IT-operations cases on BPMN. Authenticate with "
                           "`Authorization: Bearer TOKEN` (`opsgate token create NAME`), "
                           "or a browser session plus the `X-CSRFToken` header on writes.",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }


_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """Turn a Werkzeug rule under the API prefix into an OpenAPI path ('/tasks/{task_id}')."""
    return _CONVERTER.sub(r"{\1}", rule.removeprefix(API_PREFIX))


def document(routes: Iterable[tuple[str, Iterable[str]]]) -> dict[str, Any]:
    """Return the description limited to the registered (rule, methods) routes."""
    doc = full_document()
    registered: dict[str, set[str]] = {}
    for rule, methods in routes:
        registered.setdefault(openapi_path(rule), set()).update(m.lower() for m in methods)
    doc["paths"] = {
        path: {m: op for m, op in ops.items() if m in registered.get(path, set())}
        for path, ops in doc["paths"].items() if path in registered
    }
    return doc
