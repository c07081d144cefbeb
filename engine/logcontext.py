"""What the current request or job is about, for log lines: the request id, the user, the case.

The edge (a web request, a worker job) opens a scope with `scope(...)`; engine code that learns
the case it works on calls `set_case(key)`. A logging filter (webui.logs) copies the values onto
every record, so a JSON log line names its request, user and case without anyone passing them
down. Context variables keep threads (waitress) and the worker thread apart.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("opsgate_request_id", default=None)
_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("opsgate_user", default=None)
_case: contextvars.ContextVar[str | None] = contextvars.ContextVar("opsgate_case", default=None)


@contextlib.contextmanager
def scope(*, request_id: str | None = None, user: str | None = None, case: str | None = None) -> Iterator[None]:
    """Set the request id, user and case for the code inside; restore what was there after."""
    tokens = (_request_id.set(request_id), _user.set(user), _case.set(case))
    try:
        yield
    finally:
        _case.reset(tokens[2])
        _user.reset(tokens[1])
        _request_id.reset(tokens[0])


def set_case(key: str | None) -> None:
    """Name the case the current request or job works on (the last one named wins)."""
    _case.set(key)


def set_user(name: str | None) -> None:
    """Name the person the current request acts for (known once sign-in is checked)."""
    _user.set(name)


def current() -> dict[str, str | None]:
    """The request id, user and case of the current scope (None where unknown)."""
    return {"request_id": _request_id.get(), "user": _user.get(), "case": _case.get()}


def set_request(request_id: str | None) -> None:
    """Start a new request or job: its id, with no user or case known yet."""
    _request_id.set(request_id)
    _user.set(None)
    _case.set(None)
