"""The engine's errors. webui maps each class to one HTTP status in one place."""
from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every refusal the engine makes; the message is for a person to act on."""

    code = "error"

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(EngineError):
    code = "not_found"


class NotAllowed(EngineError):
    """The actor may not do this; the message names the rule (candidate group, SoD, role)."""

    code = "not_allowed"


class Conflict(EngineError):
    """The thing changed under the actor: already completed, claimed, or a concurrent action."""

    code = "conflict"


class InvalidData(EngineError):
    """Submitted data failed validation; details maps each field to its messages."""

    code = "invalid_data"


class InvalidDefinition(EngineError):
    """A BPMN/DMN file cannot deploy; details is [{file, element_id, line, message}]."""

    code = "invalid_definition"

    def __init__(self, message: str, details: list[dict[str, Any]]):
        super().__init__(message, details)
