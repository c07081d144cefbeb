"""Map the engine's errors to HTTP statuses in one place, for pages and for the API."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, render_template_string, request

from engine import errors
from engine.cases.stepping import ProcessFailure

STATUS = {
    errors.NotFound: 404,
    errors.NotAllowed: 403,
    errors.Conflict: 409,
    errors.InvalidData: 422,
    errors.InvalidDefinition: 422,
    ProcessFailure: 422,
}

_PAGE = """<!doctype html><title>{{ status }}</title><h1>{{ status }}</h1><p>{{ message }}</p>"""


def status_for(err: errors.EngineError) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(code: str, message: str, details=None) -> dict:  # noqa: ANN001 - any JSON
    return {"error": {"code": code, "message": message, "details": details}}


def init_app(app: Flask) -> None:
    @app.errorhandler(errors.EngineError)
    def engine_error(err: errors.EngineError):  # noqa: ANN202
        status = status_for(err)
        if wants_json():
            return jsonify(error_body(err.code, err.message, err.details)), status
        if "errors/engine.html" in app.jinja_env.list_templates():
            # render_template, not Template.render: the page needs current_user, csrf_token, ...
            return render_template("errors/engine.html", status=status, error=err), status
        return render_template_string(_PAGE, status=status, message=err.message), status
