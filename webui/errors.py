"""Answer the engine's errors on pages (an error page) and in JSON, with the status each error class carries."""
from __future__ import annotations

from typing import Any

from flask import Flask, make_response, render_template, render_template_string, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from engine import errors
from webui.api.errors import engine_error_response
from webui.db import discard_session_changes
from webui.i18n import say

_PAGE = """<!doctype html><title>{{ status }}</title><h1>{{ status }}</h1><p>{{ message }}</p>"""


# What a page says of Werkzeug's own refusals (an address that matches no page, a query value the
# page cannot use, a method it does not take), in the reader's language. The API answers them in
# JSON (webui.api.errors.http_error_response).
PAGE_MESSAGES = {
    400: _l("This page was asked for with a value it cannot use. Go back and try again."),
    403: _l("You are not allowed to open this page."),
    404: _l("There is no such page. The link may be out of date, or the address mistyped."),
    405: _l("This page cannot be used that way."),
    413: _l("What was sent is larger than this server accepts."),
}


class Refusal:
    """A refusal made in the web layer (a Werkzeug error, a CSRF failure) shaped like an engine
    error, for the shared error page (errors/engine.html)."""

    def __init__(self, message: str, details: Any = None) -> None:
        self.message, self.details = message, details


def http_error_page(exc: HTTPException) -> Any:
    """Answer a Werkzeug HTTP error on a page with the site's error page in the reader's language
    (its layout, its menu, a way back) instead of Werkzeug's bare English one. A refused query
    value (`webui.hardening.positive_int`) is listed under the sentence, naming its field. Headers
    the error carries (Allow on a 405) are kept; a server error is left to Flask."""
    status = exc.code or 500
    if status >= 500 or status not in PAGE_MESSAGES:
        return exc
    error = Refusal(str(PAGE_MESSAGES[status]), getattr(exc, "details", None))
    response = make_response(render_template("errors/engine.html", status=status, error=error), status)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


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
        return render_template_string(_PAGE, status=status, message=say(err.message)), status
