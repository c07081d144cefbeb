"""The JSON error model for everything under /api/: no HTML error pages, no tracebacks.

Every failure is `{"error": {"code", "message", "details"}}`. Engine errors keep their own
code (`not_found`, `not_allowed`, `conflict`, `invalid_data`, `invalid_definition`); HTTP
errors get a snake_case code (`bad_request`, `unauthorized`, `payload_too_large`, ...).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import BadRequest, HTTPException

from engine.errors import (
    EngineError,
)
from webui.db import discard_session_changes

log = logging.getLogger(__name__)

API_ROOT = "/api/"

# Werkzeug's names for these read oddly as codes; the rest are its names in snake_case.
_HTTP_CODES = {413: "payload_too_large", 422: "invalid_data", 500: "internal_error"}
_HTTP_MESSAGES = {
    401: "Not authenticated: send 'Authorization: Bearer TOKEN' (see `opsgate token create`)"
         " or log in.",
    404: "No such API resource.",
    413: "Request body too large.",
    500: "Internal server error; the server log has the details.",
}


class InvalidRequest(BadRequest):
    """A malformed API request (400); details name the offending parameter."""

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.details = details


def is_api_request() -> bool:
    """Tell whether the current request is for the JSON API."""
    return request.path.startswith(API_ROOT)


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """Build the JSON error answer."""
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="opsgate"'
    return response


def engine_error_response(exc: EngineError) -> Response:
    """Answer an engine refusal with the status its class maps to."""
    return error_response(exc.status, exc.code, exc.message, exc.details)


def http_error_response(exc: HTTPException) -> Response:
    """Answer a Werkzeug HTTP error (bad JSON, 404 route, 405, 413, ...) as JSON."""
    status = exc.code or 500
    code = _HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
    # A description set by our own code (abort/raise with text) is the useful message;
    # Werkzeug's generic ones are replaced by ours where we have them.
    generic = type(exc).description
    message = exc.description if exc.description and exc.description != generic else None
    message = message or _HTTP_MESSAGES.get(status) or exc.description or exc.name
    details = getattr(exc, "details", None)
    response = error_response(status, code, message, details)
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def unexpected_error_response(exc: Exception) -> Response:
    """Log an unexpected failure and answer 500 without leaking it."""
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", _HTTP_MESSAGES[500])


def api_error_response(exc: Exception) -> Response:
    """Answer any exception raised while serving /api/ as the JSON error model."""
    if isinstance(exc, EngineError | StaleDataError):
        discard_session_changes()  # a failed action's changes must not be flushed by what follows
    if isinstance(exc, EngineError):
        return engine_error_response(exc)
    if isinstance(exc, CSRFError):
        # A refusal, not a malformed request: the session write lacks its CSRF token.
        return error_response(403, "csrf_failed", "CSRF check failed: a write made with a "
                              "browser session needs the X-CSRFToken header (GET /api/v1/me "
                              "gives the token), or use a bearer token. " + exc.description)
    if isinstance(exc, HTTPException):
        return http_error_response(exc)
    if isinstance(exc, StaleDataError):
        # The engine turns a lost race into Conflict when it flushes; this catches one at commit.
        return error_response(409, "conflict", "The case was changed by someone else at the same "
                              "time; reload it and try again.")
    return unexpected_error_response(exc)
