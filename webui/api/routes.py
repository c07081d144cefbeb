"""The JSON API at /api/v1 (CONTRACT.md, "JSON API"): thin routes over the engine.

Each route parses its input, calls one engine function, commits once, answers JSON.
Authentication is in api_auth, the error model in api_errors, the JSON shapes in api_json.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.cases import intake, messages, proposals, queries, services
from engine.errors import InvalidData
from engine.notifications import notices
from engine.people import delegations, roles
from engine.processes import catalog, descriptive
from engine.records import audit
from webui.api import caller, shapes
from webui.api.errors import api_error_response
from webui.api.openapi import document
from webui.api.params import body_text, iso_moment, json_object, page_args, page_of, query_choice, query_int, uploaded_files
from webui.db import get_session
from webui.downloads import definition_file
from webui.errors import http_error_page
from webui.hardening import MAX_PAGE

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
CASE_STATUSES = ("open", "closed", "cancelled")
TASK_SCOPES = ("group", "mine")
MAX_PER_PAGE = 200
TASKS_PER_PAGE = 200
EVENTS_PER_PAGE = 500
NOTICES_PER_PAGE = 100
# JSON bodies are small; BPMN uploads (POST /processes) get the app-wide MAX_CONTENT_LENGTH.
DEFAULT_MAX_JSON_BYTES = 256 * 1024


@bp.before_request
def _authenticate() -> None:
    if request.endpoint not in ("api.deploy_processes", "api.upload_model"):
        request.max_content_length = current_app.config.get(
            "API_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    g.actor = caller.authenticate()


bp.register_error_handler(Exception, api_error_response)
# An app-wide handler for a status code (a page's 404) would win over the Exception handler.
for _status in (400, 401, 403, 404, 405, 409, 413, 415, 422, 500):
    bp.register_error_handler(_status, api_error_response)


def init_app(app: Flask) -> None:
    """Exempt the API from form CSRF (api_auth checks session writes) and answer JSON."""
    app.extensions["csrf"].exempt(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _http_error(exc: HTTPException) -> Any:
    # Routing errors (unknown path, wrong method) happen outside any blueprint.
    if request.path.startswith("/api/"):
        return api_error_response(exc)
    return http_error_page(exc)


def _unexpected_error(exc: Exception) -> Any:
    # Other blueprints under /api/ (api_reports) get the JSON 500 too; pages keep Flask's.
    if request.path.startswith("/api/"):
        return api_error_response(exc)
    raise exc


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3 description of the registered routes."""
    routes = [(rule.rule, rule.methods or ()) for rule in current_app.url_map.iter_rules()
              if rule.rule.startswith(bp.url_prefix + "/")]
    return jsonify(document(routes))


@bp.get("/me")
def me() -> Response:
    """Show the caller, and the CSRF token a session needs for writes."""
    return jsonify(shapes.me_json(g.actor, g.api_auth))


@bp.get("/processes")
def list_processes() -> Response:
    """List the latest version of every deployed process."""
    return jsonify([shapes.process_json(d)
                    for d in catalog.list_definitions(get_session())])


@bp.get("/processes/<key>")
def get_process(key: str) -> Response:
    """Show a process version with its start form."""
    definition = catalog.get_definition(get_session(), key, query_int("version"))
    return jsonify(shapes.process_detail_json(get_session(), definition))


@bp.get("/processes/<key>/bpmn")
def get_process_bpmn(key: str) -> Response:
    """Return a process version's BPMN XML."""
    definition = catalog.get_definition(get_session(), key, query_int("version"))
    return definition_file(definition.bpmn, f"{definition.key}-v{definition.version}.bpmn")


@bp.post("/processes")
def deploy_processes() -> tuple[Response, int]:
    """Deploy BPMN/DMN sent as XML or as multipart `file` parts."""
    files = uploaded_files()
    session = get_session()
    results = proposals.deploy(session, files, actor=g.actor)
    session.commit()
    body = shapes.deploy_json(results)
    return jsonify(body), 201 if body["changed"] else 200


@bp.post("/models")
def upload_model() -> tuple[Response, int]:
    """Keep a BPMN file as a descriptive model (documentation, never run)."""
    files = uploaded_files()
    session = get_session()
    model, created = descriptive.save_model(session, files[0][0], files[0][1], actor=g.actor)
    session.commit()
    return jsonify(_model_json(model)), 201 if created else 200


@bp.get("/models")
def list_models() -> Response:
    """List the descriptive models, newest first."""
    return jsonify([_model_json(m, with_reasons=False) for m in descriptive.list_models(get_session())])


@bp.get("/models/<int:model_id>")
def get_model(model_id: int) -> Response:
    """Show a descriptive model and why the engine would not run it."""
    return jsonify(_model_json(descriptive.get_model(get_session(), model_id)))


@bp.get("/models/<int:model_id>/bpmn")
def get_model_bpmn(model_id: int) -> Response:
    """Return a descriptive model's BPMN XML."""
    model = descriptive.get_model(get_session(), model_id)
    return definition_file(model.bpmn, model.filename)


def _model_json(model: Any, *, with_reasons: bool = True) -> dict[str, Any]:
    out = {"id": model.id, "name": model.name, "filename": model.filename, "sha256": model.sha256,
           "executable": False, "uploaded_by": model.uploaded_by, "uploaded_at": model.uploaded_at.isoformat()}
    if with_reasons:
        out["reasons"] = model.reasons
    return out
def _version_json(definition: Any) -> dict[str, Any]:
    return {"key": definition.key, "version": definition.version, "status": definition.status,
            "sha256": definition.sha256, "reviewed_by": definition.reviewed_by,
            "review_comment": definition.review_comment, "review_case": definition.review_case,
            "emergency": definition.emergency}


@bp.post("/processes/<key>/versions/<int:version>/review")
def review_version(key: str, version: int) -> Response:
    """Approve or reject a proposed version as a second process owner: `{decision, comment}`."""
    body = json_object()
    session = get_session()
    proposals.decide(session, key, version, str(body.get("decision", "")), str(body.get("comment", "")),
                     actor=g.actor)
    session.commit()
    return jsonify(_version_json(proposals.get_proposal(session, key, version)))


@bp.post("/processes/<key>/versions/<int:version>/put-live")
def put_version_live(key: str, version: int) -> Response:
    """Put a proposed version live without a review (admins, an emergency): `{reason}`."""
    body = json_object()
    session = get_session()
    proposals.put_live(session, key, version, str(body.get("reason", "")), actor=g.actor)
    session.commit()
    return jsonify(_version_json(proposals.get_proposal(session, key, version)))


@bp.get("/processes/<key>/history")
def process_history(key: str) -> Response:
    """Each version's change record and how many open cases run on it, newest first."""
    return jsonify(proposals.history(get_session(), key))


@bp.post("/cases")
def open_case() -> tuple[Response, int]:
    """Open a case; an incident's dedup_key folds repeats into the open incident."""
    body = json_object()
    session = get_session()
    case, created = intake.open_case(session, body, actor=g.actor)
    session.commit()
    return jsonify(shapes.case_json(session, case, queries.held_open_tasks(session, case))), 201 if created else 200


@bp.get("/cases")
def list_cases() -> Response:
    """List the caller's visible cases, a page at a time, filtered by process and status:
    `?page=N`, or `?before=ID` (the cases below that id; `next_before` names the next page's)."""
    session = get_session()
    before = query_int("before")
    page = query_int("page", 1, MAX_PAGE) or 1
    if before is not None and "page" in request.args:
        raise InvalidData("page or before, not both", {"before": ["cannot be given with page"]})
    cases, next_page = queries.list_cases(session, actor=g.actor,
                                           process=request.args.get("process") or None,
                                           status=query_choice("status", CASE_STATUSES),
                                           page=page, before=before,
                                           per_page=query_int("per_page", queries.PAGE_SIZE, MAX_PER_PAGE)
                                           or queries.PAGE_SIZE)
    more = next_page is not None
    return jsonify(shapes.case_page_json(session, cases, None if before is not None else next_page,
                                         next_before=cases[-1].id if more and cases else None))


@bp.get("/cases/<ref>")
def get_case(ref: str) -> Response:
    """Show a case with its open tasks."""
    session = get_session()
    case = queries.get_case(session, ref, actor=g.actor)
    return jsonify(shapes.case_json(session, case))


@bp.get("/cases/<ref>/history")
def case_history(ref: str) -> Response:
    """List a case's audit events, oldest first."""
    session = get_session()
    case = queries.get_case(session, ref, actor=g.actor)
    page, per_page = page_args(EVENTS_PER_PAGE)
    events = audit.history(session, case, limit=per_page + 1, offset=(page - 1) * per_page)
    return page_of([shapes.event_json(e) for e in events], page, per_page)


@bp.get("/tasks")
def list_tasks() -> Response:
    """List the ready tasks the caller may act on."""
    scope = query_choice("scope", TASK_SCOPES, "group") or "group"
    session = get_session()
    page, per_page = page_args(TASKS_PER_PAGE)
    tasks = queries.list_tasks(session, actor=g.actor, scope=scope, limit=per_page + 1, offset=(page - 1) * per_page)
    return page_of([shapes.task_json(session, t) for t in tasks], page, per_page)


@bp.get("/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    """Show a ready task and its form."""
    session = get_session()
    task = queries.get_task(session, task_id, actor=g.actor)
    return jsonify(shapes.task_json(session, task, with_form=True))


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Response:
    """Claim a task for the caller."""
    session = get_session()
    task = services.claim_task(session, task_id, actor=g.actor)
    session.commit()
    return jsonify(shapes.task_json(session, task, with_form=True))


@bp.post("/tasks/<task_id>/release")
def release_task(task_id: str) -> Response:
    """Give a claimed task back to its candidate group."""
    session = get_session()
    task = services.release_task(session, task_id, actor=g.actor)
    session.commit()
    return jsonify(shapes.task_json(session, task, with_form=True))


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Response:
    """Complete a task with its form data; answer the case."""
    data = json_object().get("data", {})
    session = get_session()
    case = services.complete_task(session, task_id, data, actor=g.actor)
    session.commit()
    return jsonify(shapes.case_json(session, case, queries.held_open_tasks(session, case)))


@bp.post("/messages")
def send_message() -> tuple[Response, int]:
    """Deliver a message to the case waiting for it, or start a case at a message start event."""
    body = json_object()
    session = get_session()
    delivery = messages.send_message(session, body.get("name"), case=_text_or_none(body.get("case")),
                                     correlation=body.get("correlation"), data=body.get("data"),
                                     idempotency_key=body.get("idempotency_key"), actor=g.actor)
    session.commit()
    answer = {"case": delivery.case.key, "status": delivery.case.status, "started": delivery.started,
              "repeated": delivery.repeated}
    return jsonify(answer), 201 if delivery.started and not delivery.repeated else 200


@bp.post("/signals")
def send_signal() -> Response:
    """Broadcast a signal to every open case waiting for it."""
    body = json_object()
    session = get_session()
    cases = messages.broadcast_signal(session, body.get("name"), data=body.get("data"), actor=g.actor)
    session.commit()
    return jsonify({"delivered": len(cases), "cases": [c.key for c in cases]})


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


@bp.post("/tasks/<task_id>/reassign")
def reassign_task(task_id: str) -> Response:
    """Give a task to someone else, with a reason (managers and admins)."""
    body = json_object()
    session = get_session()
    task = services.reassign_task(session, task_id, to=str(body.get("to") or ""), reason=str(body.get("reason") or ""),
                                  actor=g.actor)
    session.commit()
    return jsonify(shapes.task_json(session, task, with_form=True))


@bp.get("/delegations")
def list_delegations() -> Response:
    """List the delegations that concern the caller, not yet over (everyone's for managers and admins)."""
    return jsonify([shapes.delegation_json(d) for d in delegations.list_delegations(get_session(), actor=g.actor)])


@bp.post("/delegations")
def create_delegation() -> tuple[Response, int]:
    """Name a deputy for a period: `{deputy, starts_at, ends_at, user?, note?}` (ISO 8601 with an offset)."""
    body = json_object()
    session = get_session()
    row = delegations.name_deputy(session, actor=g.actor, deputy=body_text(body, "deputy"),
                                  user=body_text(body, "user") or None, starts_at=iso_moment(body, "starts_at"),
                                  ends_at=iso_moment(body, "ends_at"), note=body_text(body, "note"))
    session.commit()
    return jsonify(shapes.delegation_json(row)), 201


@bp.post("/delegations/<int:delegation_id>/end")
def end_delegation(delegation_id: int) -> Response:
    """End a delegation now."""
    session = get_session()
    row = delegations.end_delegation(session, delegation_id, actor=g.actor)
    session.commit()
    return jsonify(shapes.delegation_json(row))


@bp.get("/notices")
def list_notices() -> Response:
    """List the caller's in-app notices, newest first."""
    unread = query_choice("unread", ("true", "false"), "false") == "true"
    session = get_session()
    page, per_page = page_args(NOTICES_PER_PAGE)
    rows = notices.list_notices(session, actor=g.actor, unread=unread, limit=per_page + 1,
                                offset=(page - 1) * per_page)
    keys = notices.case_keys(session, rows)
    return page_of([shapes.notice_json(n, keys) for n in rows], page, per_page)


@bp.post("/notices/read")
def read_notices() -> Response:
    """Mark all of the caller's notices read."""
    session = get_session()
    changed = notices.mark_read(session, actor=g.actor)
    session.commit()
    return jsonify({"changed": changed})


@bp.post("/notices/<int:notice_id>/read")
def read_notice(notice_id: int) -> Response:
    """Mark one of the caller's notices read."""
    session = get_session()
    changed = notices.mark_read(session, notice_id, actor=g.actor)
    session.commit()
    return jsonify({"changed": changed})


@bp.get("/audit/verify")
def verify_audit() -> Response:
    """Recompute the audit hash chain of one case or of everything."""
    roles.check_role(g.actor, "auditor", "admin", action="verifying the audit trail")
    session = get_session()
    ref = request.args.get("case")
    result = audit.verify(session, queries.get_case(session, ref, actor=g.actor) if ref else None)
    return jsonify(shapes.verify_json(result))
