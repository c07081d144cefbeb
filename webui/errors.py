"""Answer the engine's errors on pages (an error page) and in JSON, with the status each error class carries."""
from __future__ import annotations

from flask import Flask, render_template, render_template_string, request

from engine import errors
from webui.api.errors import engine_error_response
from webui.db import discard_session_changes

_PAGE = """<!doctype html><title>{{ status }}</title><h1>{{ status }}</h1><p>{{ message }}</p>"""


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(errors.EngineError)
    def engine_error(err: errors.EngineError):
        discard_session_changes()
        status = err.status
        if wants_json():
            return engine_error_response(err)
        if "errors/engine.html" in app.jinja_env.list_templates():
            # render_template, not Template.render: the page needs current_user, csrf_token, ...
            return render_template("errors/engine.html", status=status, error=err), status
        return render_template_string(_PAGE, status=status, message=err.message), status
