"""The engine's clock: real UTC time, or a frozen instant for drills, `--now` and tests.

SpiffWorkflow's timer events read `datetime.now(timezone.utc)` directly; `install()` swaps the
`datetime` name in its timer module for a subclass that asks this clock, so a frozen instant
is seen by timer evaluation too.
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


class _ClockDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
        value = _frozen.get()
        if value is None:
            return _dt.datetime.now(tz)
        return value.astimezone(tz) if tz is not None else value.astimezone().replace(tzinfo=None)


def install() -> None:
    """Make SpiffWorkflow's timers read this clock (idempotent)."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockDatetime  # type: ignore[attr-defined]


def parse_instant(text: str) -> _dt.datetime:
    """Parse an ISO 8601 instant; a value without offset is taken as UTC."""
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc)
