"""The engine's errors. Each class carries the HTTP status the web layer answers with, so
pages and the API map an error the same way (webui.errors and webui.api.errors read it)."""
from __future__ import annotations

import datetime as dt
from typing import Any


class EngineError(Exception):
    """Base of every refusal the engine makes; the message is for a person to act on."""

    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(EngineError):
    code = "not_found"
    status = 404


class NotAllowed(EngineError):
    """The actor may not do this; the message names the rule (candidate group, SoD, role)."""

    code = "not_allowed"
    status = 403


class Conflict(EngineError):
    """The thing changed under the actor: already completed, claimed, or a concurrent action."""

    code = "conflict"
    status = 409


class InvalidData(EngineError):
    """Submitted data failed validation; details maps each field to its messages."""

    code = "invalid_data"
    status = 422


class TooManyAttempts(EngineError):
    """Sign-in is locked for this account or address after too many failures (engine.people.throttle)."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, until: dt.datetime):
        super().__init__(message, {"until": until.isoformat()})
        self.until = until


class InvalidDefinition(EngineError):
    """A BPMN/DMN file cannot deploy; details is [{file, element_id, line, message}]."""

    code = "invalid_definition"
    status = 422

    def __init__(self, message: str, details: list[dict[str, Any]]):
        super().__init__(message, details)


class ProcessFailure(EngineError):
    """The process itself failed while stepping (a condition or script raised); nothing is saved.

    422: the request was well formed, but the process could not move on with it; details name
    the element (`{"element_id": ...}`)."""

    code = "process_error"
    status = 422
