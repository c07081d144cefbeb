"""The engine's errors. Each class carries the HTTP status the web layer answers with, so
pages and the API map an error the same way (webui.errors and webui.api.errors read it)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Name:
    """Something people name in two languages (a task, a process): str() is the English, so a
    sentence made with it reads as before; the web pages say `zh` to a reader of Chinese."""

    en: str
    zh: str | None = None

    def __str__(self) -> str:
        return self.en


@dataclass(frozen=True)
class GroupName(Name):
    """A group by its shipped names, and its key: pages name it as the admin titled it."""

    key: str = ""


@dataclass(frozen=True)
class Names:
    """Several names in one place of a sentence (the groups a task is offered to): English joins
    them with ", ", a Chinese page with "、"."""

    items: tuple[Name, ...]

    def __str__(self) -> str:
        return ", ".join(str(item) for item in self.items)


class Said(str):
    """A sentence the engine says, with the template it was made from and its values.

    It is the English text (`template % values`), so the API's JSON, the logs and every caller
    that reads a message as a str see exactly what they did; a web page says it in the reader's
    language instead: the template is a gettext msgid (extracted from the engine by babel.cfg's
    keyword `said`), and the values are formatted one by one (a `Name`, `Names` or nested `Said`
    in the reader's language, anything else as str). Decision: the engine cannot import Flask-Babel
    (import-linter), so it keeps what a translation needs instead of translating."""

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, values: Mapping[str, Any]) -> Said:
        text = template % {k: str(v) for k, v in values.items()} if values else template
        self = super().__new__(cls, text)
        self.template, self.values = template, dict(values)
        return self

    def __reduce__(self) -> Any:
        return Said, (self.template, self.values)


def said(template: str, **values: Any) -> Said:
    """Say a sentence from a %-template with named values (`%(task)s`, so translators may
    reorder them); a template without values is said as it is (no `%` to double)."""
    return Said(template, values)


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
