"""opsgate's timer event definitions: SpiffWorkflow's three kinds on the engine clock, with their state under our keys.

SpiffWorkflow's own `TimeDateEventDefinition`, `DurationTimerEventDefinition` and
`CycleTimerEventDefinition` read `datetime.now()` and keep their state in a task's
`internal_data` under `event_value` / `event_fired`, names that are the library's business.
The subclasses here override the public hooks SpiffWorkflow calls on an event definition
(`has_fired`, `cycle_complete` through `update_task`, `catch`, `reset`, `details`), read the time
from `engine.timing.clock.now()` (so a frozen instant, `opsgate worker --now`, is seen by timer
evaluation) and keep everything in the task's public `internal_data` dict under keys of ours:

====================  =================================================================
`opsgate_due`         next due instant, ISO 8601 UTC; absent until first evaluated
`opsgate_fired`       True once the event fired (the catching task then runs)
`opsgate_cycle`       a cycle's bookkeeping: `{"left": repetitions left, -1 for ever,
                      "period": seconds}`
`opsgate_sla_total`   an SLA clock's length in seconds (working seconds on a business
                      calendar), recorded the first time the clock is seen
`opsgate_sla_warned`  True once the 75 % warning went out
`opsgate_sla_remaining`  set while the clock is paused: the seconds it had left
                      (`opsgate_due` is then absent)
`opsgate_slots`       on an event-based gateway's task: `{slot: {the keys above}}`, one
                      slot per timer the gateway races (its index in the gateway's
                      MultipleEventDefinition), so two timers never share a due instant
====================  =================================================================

`engine.timing.timers` reads and edits these through the methods of `OpsgateTimer` only.

`adopt()` puts the definitions in place of SpiffWorkflow's in a parsed spec, by replacing each
catching event's public `event_definition` attribute (and the timers inside a
`MultipleEventDefinition`). The parsed spec is never stored with a case
(engine.cases.serializer), so every parse adopts again: engine.processes.specs for running
cases, engine.processes.validation at deploy time, with the same parsing of timer values
(`OpsgateTimer.parse_value`) for both.

**Cases stored before these definitions** carry SpiffWorkflow's `event_value` / `event_fired`
keys. Every method here reads a task's data through `_data`, so the first time a definition
touches such a task, `migrate` moves them to ours: the due instant (UTC), a cycle's
`{"cycles", "next", "duration"}` as `opsgate_cycle` plus `opsgate_due`, a paused clock's
parked instant (9999-12-31) dropped, `event_fired` as `opsgate_fired`; the old keys are
removed, and only ours are written from then on. Tasks no definition touches again (finished
ones) keep their old keys; nothing reads them. tests/engine/test_timer_migration.py covers it
with states the old code wrote.

What opsgate relies on from SpiffWorkflow here is pinned by tests/engine/test_spiff_contract.py.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, MutableMapping
from typing import Any, ClassVar

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent

from engine.errors import said
from engine.timing import clock

UTC = dt.timezone.utc

DUE = "opsgate_due"
FIRED = "opsgate_fired"
CYCLE = "opsgate_cycle"
SLA_TOTAL = "opsgate_sla_total"
SLA_WARNED = "opsgate_sla_warned"
SLA_REMAINING = "opsgate_sla_remaining"
SLOTS = "opsgate_slots"

# SpiffWorkflow's keys, read once from cases stored before these definitions (see the docstring).
LEGACY_VALUE = "event_value"
LEGACY_FIRED = "event_fired"
# Where the old code parked a paused clock's due instant.
LEGACY_PARKED = dt.datetime(9999, 12, 31, tzinfo=UTC)


class InvalidTimerValue(ValueError):
    """A timer's value (literal or evaluated expression) that is not a valid ISO 8601 value for its kind."""


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# SpiffWorkflow counts a duration's months one by one: bound them before it does (a thousand years).
MAX_MONTHS = 12_000


# A duration with hours or seconds but no `T` (`P1H`, `P1D2H`), as some modelers write it: read
# as if the T were there (`PT1H`). Minutes without T stay months (`P1M`), as ISO 8601 says.
_NO_T = re.compile(r"^P((?:\d+(?:\.\d+)?[YWD])*)((?:\d+(?:\.\d+)?H)(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?"
                   r"|\d+(?:\.\d+)?S)$")


def lenient_duration(text: str) -> str:
    """An ISO 8601 duration with its missing `T` put back (`P1H` -> `PT1H`); anything else unchanged."""
    match = _NO_T.match(text.strip().upper())
    return f"P{match.group(1)}T{match.group(2)}" if match else text


def _parsed_duration(duration: str) -> dict[str, float]:
    duration = lenient_duration(duration)
    parsed: dict[str, float] = TimerEventDefinition.parse_iso_duration(duration)
    if parsed.get("years", 0) * 12 + parsed.get("months", 0) > MAX_MONTHS:
        raise OverflowError(duration)
    return parsed


def span(duration: str, start: dt.datetime) -> dt.timedelta:
    """An ISO 8601 duration as a timedelta from `start` (months and years count from it: SpiffWorkflow's rule)."""
    return TimerEventDefinition.get_timedelta_from_start(_parsed_duration(duration), start)


def _text(value: object, tag: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidTimerValue(said("%(tag)s %(value)s is not an ISO 8601 text", tag=tag, value=repr(value)))
    return value.strip()


class OpsgateTimer(TimerEventDefinition):
    """What the three kinds share: the engine clock, our keys, and the bookkeeping `timers` uses."""

    # The element that holds the value in BPMN, for messages; SpiffWorkflow's class name, for `details`.
    tag: ClassVar[str] = ""
    event_type: ClassVar[str] = ""
    # Set on a timer inside a multiple event (an event-based gateway racing it against other
    # events): the gateway's one task holds each such timer's keys under `opsgate_slots[slot]`.
    slot: str | None = None

    def state(self, task: Any) -> MutableMapping[str, Any]:
        """The task's internal data this timer keeps its keys in (its own slot inside a multiple event)."""
        data = _data(task)
        if self.slot is None:
            return data
        slots: dict[str, dict[str, Any]] = data.setdefault(SLOTS, {})
        return slots.setdefault(self.slot, {})

    # ------------------------------------------------------------------ values

    @classmethod
    def parse_value(cls, value: object, now: dt.datetime) -> tuple[dt.datetime, dict[str, float] | None]:
        """Return the first due instant of an evaluated timer value as of `now`, and a cycle's
        bookkeeping (None for a single firing); InvalidTimerValue says what is wrong.

        Deploy-time validation calls this on literal values, the running definition on what the
        expression evaluated to: a value deploys if and only if it runs."""
        raise NotImplementedError

    def first_due(self, task: Any) -> tuple[dt.datetime, dict[str, float] | None]:
        """Evaluate the timer's expression for a task as of now: `parse_value` of what it says.

        A value that is not valid for the kind fails as SpiffWorkflow's WorkflowTaskException
        naming the task, which the engine reports as a process failure at that element."""
        value = task.workflow.script_engine.evaluate(task, self.expression)
        try:
            return self.parse_value(value, clock.now())
        except InvalidTimerValue as err:
            raise WorkflowTaskException(str(err), task=task) from None

    # ------------------------------------------------------------------ state

    def due(self, task: Any) -> dt.datetime | None:
        """Return when the event is next due; None before first evaluation, while paused, or once a cycle is spent."""
        data = self.state(task)
        text = data.get(DUE)
        if text is None:
            return None
        cycle = data.get(CYCLE)
        if cycle is not None and cycle["left"] == 0:
            return None
        return _instant(text)

    def cycle(self, task: Any) -> tuple[int, float] | None:
        """Return a cycle's (repetitions left, -1 for ever; period in seconds), or None for a single firing."""
        cycle = self.state(task).get(CYCLE)
        return None if cycle is None else (int(cycle["left"]), float(cycle["period"]))

    def fired(self, task: Any) -> bool:
        """Tell whether the event fired (its task runs, or ran)."""
        return bool(self.state(task).get(FIRED, False))

    def fire_now(self, task: Any) -> None:
        """Make the event fire the next time SpiffWorkflow looks at it (a scheduled start that is due)."""
        self.state(task)[FIRED] = True

    # ------------------------------------------------------------------ SLA clocks

    def is_paused(self, task: Any) -> bool:
        """Tell whether this is a paused SLA clock."""
        return self.state(task).get(SLA_REMAINING) is not None

    def pause(self, task: Any, remaining: float) -> None:
        """Stop the clock with `remaining` seconds left: it has no due instant until resumed."""
        data = self.state(task)
        data[SLA_REMAINING] = remaining
        data.pop(DUE, None)

    def remaining(self, task: Any) -> float | None:
        """Seconds a paused clock had left; None if it runs."""
        value = self.state(task).get(SLA_REMAINING)
        return None if value is None else float(value)

    def resume(self, task: Any, due: dt.datetime) -> None:
        """Restart a paused clock, due at `due`."""
        data = self.state(task)
        data.pop(SLA_REMAINING, None)
        data[DUE] = due.astimezone(UTC).isoformat()

    def sla_total(self, task: Any) -> float | None:
        """The clock's length in seconds as first seen; None before."""
        value = self.state(task).get(SLA_TOTAL)
        return None if value is None else float(value)

    def record_sla_total(self, task: Any, seconds: float) -> None:
        self.state(task)[SLA_TOTAL] = seconds

    def sla_warned(self, task: Any) -> bool:
        return bool(self.state(task).get(SLA_WARNED, False))

    def mark_sla_warned(self, task: Any) -> None:
        self.state(task)[SLA_WARNED] = True

    # ------------------------------------------------------------------ SpiffWorkflow's hooks

    def has_fired(self, my_task: Any) -> bool:
        """SpiffWorkflow's hook: evaluate the value once, then fire strictly after the due instant."""
        data = self.state(my_task)
        if data.get(FIRED):
            return True
        if data.get(SLA_REMAINING) is not None:
            return False  # a paused SLA clock does not fire
        if DUE not in data:
            due, _cycle = self.first_due(my_task)
            data[DUE] = due.isoformat()
        if _instant(data[DUE]) < clock.now():
            data[FIRED] = True
        return bool(data.get(FIRED, False))

    def catch(self, my_task: Any, event: Any = None) -> None:
        self.state(my_task)[FIRED] = True

    def reset(self, my_task: Any) -> None:
        self.state(my_task)[FIRED] = False

    def details(self, my_task: Any) -> PendingBpmnEvent:
        """SpiffWorkflow's `waiting_events()` entry: the next due instant, ISO UTC (None while paused or spent)."""
        due = self.due(my_task)
        return PendingBpmnEvent(self.name, self.event_type, due.isoformat() if due is not None else None)

    def __eq__(self, other: object) -> bool:
        # SpiffWorkflow compares event definitions by class and name; a SpiffWorkflow timer of the
        # same kind (one a stored case still holds, in a multiple event's `seen_events`) is the same event.
        return (isinstance(other, TimerEventDefinition) and _spiff_kind(other) is _spiff_kind(self)
                and self.name == other.name)


class OpsgateTimeDate(OpsgateTimer, TimeDateEventDefinition):
    """A timeDate timer: due at the instant its value names."""

    tag = "timeDate"
    event_type = "TimeDateEventDefinition"

    @classmethod
    def parse_value(cls, value: object, now: dt.datetime) -> tuple[dt.datetime, dict[str, float] | None]:
        text = _text(value, cls.tag)
        try:
            parsed = TimerEventDefinition.parse_time_or_duration(text)
        except Exception:  # SpiffWorkflow raises bare Exception (or ValueError) for bad values
            raise InvalidTimerValue(said("%(tag)s %(value)s is not a valid ISO 8601 date and time", tag=cls.tag,
                                         value=repr(text))) from None
        if not isinstance(parsed, dt.datetime):
            raise InvalidTimerValue(said("%(tag)s %(value)s is a duration; a timeDate needs a date and time "
                                         "(use timeDuration for a duration)", tag=cls.tag, value=repr(text)))
        return parsed.astimezone(UTC), None


class OpsgateDuration(OpsgateTimer, DurationTimerEventDefinition):
    """A timeDuration timer: due that long after it is first reached."""

    tag = "timeDuration"
    event_type = "DurationTimerEventDefinition"

    @classmethod
    def parse_value(cls, value: object, now: dt.datetime) -> tuple[dt.datetime, dict[str, float] | None]:
        text = _text(value, cls.tag)
        try:
            due = now + span(text, now)
        except OverflowError:
            raise InvalidTimerValue(said("%(tag)s %(value)s is too long", tag=cls.tag, value=repr(text))) from None
        except Exception:
            raise InvalidTimerValue(said("%(tag)s %(value)s is not a valid ISO 8601 duration", tag=cls.tag,
                                         value=repr(text))) from None
        return due.astimezone(UTC), None


class OpsgateCycle(OpsgateTimer, CycleTimerEventDefinition):
    """A timeCycle timer `R[n]/[start/]duration`: fires once per period, n times (for ever without n).

    A late cycle catches up one period per look (SpiffWorkflow adds one path each time
    `cycle_complete` says so); `engine.timing.timers.fired_timers` counts the periods."""

    tag = "timeCycle"
    event_type = "CycleTimerEventDefinition"

    @classmethod
    def parse_value(cls, value: object, now: dt.datetime) -> tuple[dt.datetime, dict[str, float] | None]:
        text = _text(value, cls.tag)
        bad = InvalidTimerValue(said("%(tag)s %(value)s is not a valid ISO 8601 repeating interval "
                                     "(R[n]/[start/]duration, e.g. R3/PT1H)", tag=cls.tag, value=repr(text)))
        parts = [lenient_duration(p) for p in text.upper().replace("--", "/").split("/")]
        text = "/".join(parts)
        if not parts[0].startswith("R") or not (parts[0][1:] == "" or parts[0][1:].isdigit()) or len(parts) not in (2, 3):
            raise bad
        count = int(parts[0][1:]) if parts[0][1:] else -1
        try:
            if len(parts) == 2:
                if not parts[1].startswith("P"):
                    raise bad
                # Only a duration: the first repetition is one period from now.
                period = span(parts[1], now)
                start = now + period
            else:
                for part in parts[1:]:
                    if part.startswith("P"):
                        _parsed_duration(part)
                _count, start, period = TimerEventDefinition.parse_iso_recurring_interval(text)
        except InvalidTimerValue:
            raise
        except OverflowError:
            raise InvalidTimerValue(said("%(tag)s %(value)s is too long", tag=cls.tag, value=repr(text))) from None
        except Exception:
            raise bad from None
        if period <= dt.timedelta():
            raise InvalidTimerValue(said("%(tag)s %(value)s has no period: it would fire without end", tag=cls.tag,
                                         value=repr(text)))
        return start.astimezone(UTC), {"left": count, "period": period.total_seconds()}

    def has_fired(self, my_task: Any) -> bool:
        # A cycle fires through `cycle_complete`; the task itself runs once the cycle is spent.
        # Inside an event-based gateway a cycle is a race entrant: its first period decides.
        if self.slot is not None:
            return OpsgateTimer.has_fired(self, my_task)
        return self.fired(my_task)

    def cycle_complete(self, my_task: Any) -> bool:
        """SpiffWorkflow's hook (from `update_task`): True when a period passed, to run one more path."""
        data = self.state(my_task)
        cycle: dict[str, Any] | None = data.get(CYCLE)
        if cycle is None or (cycle["left"] != 0 and DUE not in data):
            start, evaluated = self.first_due(my_task)
            assert evaluated is not None  # a cycle's parse_value always returns its bookkeeping
            data[DUE], data[CYCLE] = start.isoformat(), evaluated
            cycle = dict(evaluated)
        if cycle["left"] == 0:
            data[FIRED] = True
            return False
        due = _instant(data[DUE])
        if not due < clock.now():
            return False
        data[DUE] = (due + dt.timedelta(seconds=cycle["period"])).isoformat()
        if cycle["left"] > 0:
            data[CYCLE] = {**cycle, "left": cycle["left"] - 1}
        return True

    def start_one_period(self, task: Any) -> None:
        """Make a cycle start event add exactly one path now (a scheduled start that is due)."""
        data = self.state(task)
        data[DUE] = (clock.now() - dt.timedelta(microseconds=1)).isoformat()
        data[CYCLE] = {"left": 1, "period": 1.0}


_KINDS: tuple[tuple[type[TimerEventDefinition], type[OpsgateTimer]], ...] = (
    (TimeDateEventDefinition, OpsgateTimeDate),
    (DurationTimerEventDefinition, OpsgateDuration),
    (CycleTimerEventDefinition, OpsgateCycle),
)


BY_TAG: dict[str, type[OpsgateTimer]] = {kind.tag: kind for _spiff, kind in _KINDS}


def _spiff_kind(definition: TimerEventDefinition) -> type[TimerEventDefinition] | None:
    for spiff, _ours in _KINDS:
        if isinstance(definition, spiff):
            return spiff
    return None


def _data(task: Any) -> MutableMapping[str, Any]:
    """A timer task's internal data, with the keys of a case stored before these definitions moved to ours."""
    data: MutableMapping[str, Any] = task.internal_data
    if LEGACY_VALUE in data or LEGACY_FIRED in data:
        migrate(data)
    return data


def migrate(data: MutableMapping[str, Any]) -> None:
    """Move SpiffWorkflow's timer keys of a case stored before these definitions to ours (once)."""
    value = data.pop(LEGACY_VALUE, None)
    fired = data.pop(LEGACY_FIRED, None)
    if fired is not None:
        data.setdefault(FIRED, bool(fired))
    if DUE in data or CYCLE in data:
        return  # already ours (both written: ours win)
    if isinstance(value, dict):  # a cycle: {"cycles", "next", "duration"}
        left = int(value.get("cycles", 0))
        data[CYCLE] = {"left": max(left, -1), "period": float(value.get("duration", 0))}
        due = _legacy_instant(value.get("next"))
    else:
        due = _legacy_instant(value)
    if due is not None and due < LEGACY_PARKED and data.get(SLA_REMAINING) is None:
        data[DUE] = due.isoformat()
    # A parked instant (a paused clock) is dropped: the clock resumes from opsgate_sla_remaining.


def _legacy_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = TimerEventDefinition.parse_time_or_duration(value)
    except Exception:  # not stored by working code; evaluated afresh from the expression
        return None
    return parsed.astimezone(UTC) if isinstance(parsed, dt.datetime) else None


def ours(definition: Any) -> OpsgateTimer | None:
    """Return an opsgate timer definition as such; None for any other event definition.

    A SpiffWorkflow timer that nobody adopted raises TypeError: it would read the wall clock
    and keys opsgate does not keep."""
    if isinstance(definition, OpsgateTimer):
        return definition
    if isinstance(definition, TimerEventDefinition):
        raise TypeError(f"timer {definition.name!r} is SpiffWorkflow's own: parse specs through "
                        f"engine.processes.specs, which adopts opsgate's timer definitions")
    return None


def _adopted(definition: Any) -> Any:
    if isinstance(definition, OpsgateTimer) or not isinstance(definition, TimerEventDefinition):
        if isinstance(definition, MultipleEventDefinition):
            definition.event_definitions = [_adopted(d) for d in definition.event_definitions]
            for index, each in enumerate(definition.event_definitions):
                if isinstance(each, OpsgateTimer):
                    each.slot = str(index)
        return definition
    kind = _spiff_kind(definition)
    if kind is None:
        raise ValueError(f"timer {definition.name!r} is of a kind opsgate does not run ({type(definition).__name__})")
    replacement = dict(_KINDS)[kind](definition.name, definition.expression, description=definition.description)
    return replacement


def adopt(specs: Iterable[Any]) -> int:
    """Replace SpiffWorkflow's timer definitions in parsed process specs by opsgate's; return how many.

    Give it the process spec and its subprocess specs (`parser.get_subprocess_specs`)."""
    count = 0
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if definition is None:
                continue
            adopted = _adopted(definition)
            if adopted is not definition:
                task_spec.event_definition = adopted
                count += 1
            elif isinstance(definition, MultipleEventDefinition):
                count += sum(isinstance(d, OpsgateTimer) for d in definition.event_definitions)
    return count


# What engine.cases.serializer registers, so a definition that ends up in a task's internal
# data (a multiple event's `seen_events`) serializes: under our class names.
SERIALIZER_CONFIG: dict[type, type] = {kind: TimerConditionalEventDefinitionConverter for _spiff, kind in _KINDS}
