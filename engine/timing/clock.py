"""The engine's clock: real UTC time, or a frozen instant for drills, `--now` and tests.

Everything in the engine that needs the time asks `now()`; timer evaluation does too, through
opsgate's own timer event definitions (engine.timing.definitions). Nothing patches SpiffWorkflow.
The frozen instant is a context variable: it holds for the thread (or task) that froze it.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
from collections.abc import Iterator

_frozen: contextvars.ContextVar[_dt.datetime | None] = contextvars.ContextVar("opsgate_now", default=None)


def now() -> _dt.datetime:
    """Return the current instant (aware, UTC), or the frozen one."""
    value = _frozen.get()
    return value if value is not None else _dt.datetime.now(_dt.timezone.utc)


@contextlib.contextmanager
def frozen(instant: _dt.datetime) -> Iterator[_dt.datetime]:
    """Evaluate everything inside the block as of `instant`."""
    if instant.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    token = _frozen.set(instant.astimezone(_dt.timezone.utc))
    try:
        yield instant
    finally:
        _frozen.reset(token)


def parse_instant(text: str) -> _dt.datetime:
    """Parse an ISO 8601 instant; a value without offset is taken as UTC."""
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc)


def month_bounds(year: int, month: int) -> tuple[_dt.datetime, _dt.datetime]:
    """[start, end) of a calendar month, in UTC."""
    return (_dt.datetime(year, month, 1, tzinfo=_dt.timezone.utc),
            _dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=_dt.timezone.utc))
