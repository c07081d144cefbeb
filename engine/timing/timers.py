"""Timer events of one process instance: what waits, when it is due, SLA warnings and pauses.

Everything here reads or edits a SpiffWorkflow instance in memory, through the methods of
opsgate's timer event definitions (engine.timing.definitions, which own the keys in a task's
internal data); engine.cases.persistence turns the result into `Timer` rows when it saves a
case, and the worker (engine.jobs) fires those rows.

* Every waiting timer event (boundary, intermediate catch, a timer start event, cycles) is a
  `WaitingTimer` with its next due instant.
* A boundary timer the process counts as an escalation (every boundary timer unless its
  `escalation` property says false; see `engine.cases.stepping.sla_elements`) and that is not a cycle is an
  **SLA clock**: it gets a warning row at 75% of its length (`WARNING_AT`). Cycles fire once
  per period and get no warning.
* **Pending time**: while the case has a ready task that pauses the SLA (a task of the
  requester, see `engine.cases.persistence`), its SLA clocks stop: the definition keeps the
  time left and drops the due instant (a paused clock is due at no known time and does not
  fire); when no pausing task is ready any more the clock restarts with the time it had left. A clock whose expression uses
  business time (`business_hours`, `business_days`) counts what is left in working time.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.timing import calendar, clock, definitions
from engine.timing.definitions import OpsgateCycle, OpsgateTimer

UTC = dt.timezone.utc
WARNING_AT = 0.75
_CALENDAR_ARG = re.compile(r"calendar\s*=\s*[\"']([^\"']*)[\"']")


@dataclass(frozen=True)
class WaitingTimer:
    """One waiting timer event of an instance, or an SLA warning derived from one."""

    task_id: str
    element_id: str
    kind: str  # boundary | intermediate | start | sla_warning
    due_at: dt.datetime
    cycle: bool = False
    sla: bool = False
    attached_to: str | None = None
    period: float | None = None  # a cycle's period in seconds
    cycles_left: int | None = None  # a cycle's remaining repetitions (-1: for ever)


def definition(task: Any) -> OpsgateTimer:
    """Return the opsgate timer definition of a timer event task (TypeError for anything else)."""
    found = definitions.ours(task.task_spec.event_definition)
    if found is None:
        raise TypeError(f"{task.task_spec.bpmn_id} is not a timer event")
    return found


def _timer_tasks(wf: BpmnWorkflow) -> list[tuple[Any, OpsgateTimer]]:
    """(task, timer) for each waiting timer: a timer event's task, and each timer an event-based
    gateway's task races against its other events (MultipleEventDefinition)."""
    out: list[tuple[Any, OpsgateTimer]] = []
    for task in wf.event_manager.tasks.values():
        event = task.task_spec.event_definition
        if isinstance(event, TimerEventDefinition):
            out.append((task, definition(task)))
        elif isinstance(event, MultipleEventDefinition):
            out += [(task, d) for d in event.event_definitions if isinstance(d, OpsgateTimer)]
    return out


def _element_id(task: Any, timer: OpsgateTimer) -> str:
    """The BPMN element a timer belongs to: an event-based gateway's timer is its catch event after the gateway."""
    outputs = getattr(task.task_spec, "outputs", [])
    if timer.slot is not None and int(timer.slot) < len(outputs):
        return str(outputs[int(timer.slot)].bpmn_id)
    return str(task.task_spec.bpmn_id)


def _kind(task: Any) -> str:
    if isinstance(task.task_spec, BoundaryEvent):
        return "boundary"
    if isinstance(task.task_spec, StartEvent):
        return "start"
    return "intermediate"


def _attached_to(task: Any) -> str | None:
    if not isinstance(task.task_spec, BoundaryEvent):
        return None
    for sibling in task.parent.children:
        if not isinstance(sibling.task_spec, BoundaryEvent):
            return str(sibling.task_spec.bpmn_id)
    return None  # pragma: no cover


def _is_sla(task: Any, sla_elements: Collection[str] | None) -> bool:
    if not isinstance(task.task_spec, BoundaryEvent) or isinstance(task.task_spec.event_definition, OpsgateCycle):
        return False
    return sla_elements is None or task.task_spec.bpmn_id in sla_elements


def _business_calendar(task: Any) -> calendar.BusinessCalendar | None:
    """The calendar an SLA clock counts in, when its expression uses business time."""
    expression = str(getattr(task.task_spec.event_definition, "expression", "") or "")
    if "business_hours" not in expression and "business_days" not in expression:
        return None
    named = _CALENDAR_ARG.search(expression)
    # The calendars of the configuration the workflow's script engine was made for (its
    # environment carries them: engine.processes.scripting.script_engine).
    environment = getattr(task.workflow.script_engine, "environment", None)
    calendars = getattr(environment, "calendars", None)
    if not isinstance(calendars, calendar.Calendars):
        calendars = calendar.Calendars()
    return calendars.get(named.group(1) if named else "")


def _left(task: Any, due: dt.datetime, now: dt.datetime) -> float:
    """Seconds of clock time from now to due: working time for a business-time clock."""
    cal = _business_calendar(task)
    span = cal.working_time_between(now, due) if cal else due - now
    return max(0.0, span.total_seconds())


def _after(task: Any, start: dt.datetime, seconds: float) -> dt.datetime:
    cal = _business_calendar(task)
    return cal.add_hours(start, seconds / 3600) if cal else start + dt.timedelta(seconds=seconds)


def _warning_due(task: Any, due: dt.datetime, total: float) -> dt.datetime:
    rest = total * (1 - WARNING_AT)
    cal = _business_calendar(task)
    return cal.subtract_hours(due, rest / 3600) if cal else due - dt.timedelta(seconds=rest)


def waiting_timers(wf: BpmnWorkflow, sla_elements: Collection[str] | None = None) -> list[WaitingTimer]:
    """List the instance's waiting timers and pending SLA warnings, with due instants (UTC).

    `sla_elements` are the boundary timers that are SLA clocks (default: every boundary
    timer that is not a cycle). Records the length of each SLA clock seen for the first time,
    so its warning instant survives pauses and later saves.
    """
    now = clock.now()
    result = []
    for task, timer in _timer_tasks(wf):
        due = timer.due(task)
        if due is None or timer.is_paused(task) or (timer.slot is not None and timer.fired(task)):
            continue  # not yet evaluated, done, or a paused SLA clock
        sla = _is_sla(task, sla_elements)
        cycle = timer.cycle(task)
        waiting = WaitingTimer(task_id=str(task.id), element_id=_element_id(task, timer), kind=_kind(task),
                               due_at=due, sla=sla, attached_to=_attached_to(task), cycle=cycle is not None,
                               period=cycle[1] if cycle else None, cycles_left=cycle[0] if cycle else None)
        result.append(waiting)
        if not sla:
            continue
        total = timer.sla_total(task)
        if total is None:
            total = _left(task, due, now)
            timer.record_sla_total(task, total)
        if not timer.sla_warned(task):
            result.append(dataclasses.replace(waiting, kind="sla_warning", due_at=_warning_due(task, due, total),
                                              cycle=False, period=None, cycles_left=None))
    return result


def mark_warned(wf: BpmnWorkflow, task_id: str) -> bool:
    """Record that the SLA warning of a timer task went out; False if it is gone or was sent."""
    found = _find(wf, task_id)
    if found is None:
        return False
    task, timer = found
    if timer.sla_warned(task) or timer.is_paused(task):
        return False
    timer.mark_sla_warned(task)
    return True


def _find(wf: BpmnWorkflow, task_id: str) -> tuple[Any, OpsgateTimer] | None:
    for task, timer in _timer_tasks(wf):
        if str(task.id) == task_id:
            return task, timer
    return None


def sla_due(wf: BpmnWorkflow, task_id: str) -> dt.datetime | None:
    """Return when an SLA clock runs out, for messages."""
    found = _find(wf, task_id)
    return None if found is None else found[1].due(found[0])


def apply_pause(wf: BpmnWorkflow, pausing_elements: Iterable[str],
                sla_elements: Collection[str] | None = None) -> bool:
    """Stop or restart the SLA clocks as pausing tasks appear or go; True if a clock is paused.

    `pausing_elements` are the element ids of READY tasks that pause the SLA. A clock
    attached to a pausing task itself keeps running (it times the requester, not us).
    """
    pausing = set(pausing_elements)
    now = clock.now()
    paused = False
    for task, timer in _timer_tasks(wf):
        if not _is_sla(task, sla_elements) or _attached_to(task) in pausing:
            continue
        remaining = timer.remaining(task)
        due = timer.due(task)
        if pausing and remaining is None and due is not None:
            timer.pause(task, _left(task, due, now))
        elif not pausing and remaining is not None:
            timer.resume(task, _after(task, now, remaining))
        paused = paused or timer.is_paused(task)
    return paused


def fired_timers(before: Iterable[WaitingTimer], wf: BpmnWorkflow,
                 now: dt.datetime) -> list[tuple[WaitingTimer, dt.datetime]]:
    """Return (timer, due instant) for each firing since `before`; a late cycle fires once per period."""
    after = {(str(t.id), _element_id(t, d)): (t, d) for t, d in _timer_tasks(wf)
             if d.slot is None or not d.fired(t)}
    fired = []
    for timer in before:
        if timer.kind == "sla_warning" or timer.due_at >= now:
            continue
        task, now_def = after.get((timer.task_id, timer.element_id), (None, None))
        if timer.cycle and timer.period:
            period = dt.timedelta(seconds=timer.period)
            new_due = now_def.due(task) if now_def is not None else None
            if new_due is not None:
                times = round((new_due - timer.due_at) / period)
            else:  # finished: every period up to now, as far as repetitions were left
                times = (now - timer.due_at) // period + 1
                if timer.cycles_left is not None and timer.cycles_left >= 0:
                    times = min(times, timer.cycles_left)
            fired += [(timer, timer.due_at + period * k) for k in range(times)]
        elif now_def is None or now_def.due(task) != timer.due_at:
            fired.append((timer, timer.due_at))
    return fired


def fire_start_event(wf: BpmnWorkflow, element_id: str) -> None:
    """Make a new instance start from its timer start event now (a scheduled start)."""
    for task in wf.get_tasks(spec_name=element_id):
        timer = definition(task)
        if isinstance(timer, OpsgateCycle):
            timer.start_one_period(task)  # a cycle start event adds one path per period: exactly one
        else:
            timer.fire_now(task)


def next_start_due(value: str, *, after: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
    """Return the first due instant of a timer start event strictly after `after`, if any.

    `value` is the evaluated timer text: an ISO date-time (once), a duration (once, counted
    from `anchor`, the deployment) or a cycle `R[n]/[start/]duration` (a relative cycle
    starts one period after `anchor`).
    """
    text = value.strip()
    if text.upper().startswith("R"):
        return _next_in_cycle(value, after=after, anchor=anchor)
    if text.upper().startswith("P"):
        due = anchor + _period(text, anchor)
    else:
        due = TimerEventDefinition.get_datetime(text)
    return due if due > after else None


def _period(duration: str, start: dt.datetime) -> dt.timedelta:
    # What the timer definitions count with: months and years from `start`, bounded.
    return definitions.span(duration, start)


def _next_in_cycle(value: str, *, after: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
    parts = value.strip().upper().replace("--", "/").lstrip("R").split("/")
    count = int(parts[0]) if parts[0] else -1
    duration = parts[-1]
    start = TimerEventDefinition.get_datetime(parts[1]) if len(parts) == 3 else anchor + _period(duration, anchor)
    if _period(duration, start) <= dt.timedelta():
        raise ValueError(f"timer cycle {value!r} has no period")
    parsed = TimerEventDefinition.parse_iso_duration(definitions.lenient_duration(duration))
    if "years" in parsed or "months" in parsed:
        # Calendar periods: monthly on the 4th stays on the 4th, whatever the month's length.
        index, due = 0, start
        while due <= after and (count < 0 or index < count):
            due, index = due + _period(duration, due), index + 1
    else:
        period = _period(duration, start)
        index = 0 if start > after else (after - start) // period + 1
        due = start + period * index
    return None if count >= 0 and index >= count else due


@dataclass(frozen=True)
class ClockUse:
    """How much of an SLA clock a case has used, kept across a move to another version."""

    used: float  # seconds (working seconds on a business calendar)
    warned: bool


def clock_use(wf: BpmnWorkflow, sla_elements: Collection[str] | None = None) -> dict[str, ClockUse]:
    """Return, by timer element id, how much of each running or paused SLA clock is used."""
    now = clock.now()
    used: dict[str, ClockUse] = {}
    for task, timer in _timer_tasks(wf):
        if not _is_sla(task, sla_elements):
            continue
        total = timer.sla_total(task)
        remaining = timer.remaining(task)
        due = timer.due(task)
        if total is None or (remaining is None and due is None):
            continue
        left = remaining if remaining is not None else _left(task, due, now) if due is not None else 0.0
        used[str(task.task_spec.bpmn_id)] = ClockUse(max(0.0, total - left), timer.sla_warned(task))
    return used


def carry_clock_use(wf: BpmnWorkflow, used: dict[str, ClockUse], sla_elements: Collection[str] | None = None) -> None:
    """Give each SLA clock of a moved instance the time its clock had used before the move.

    The clock keeps its (possibly new) length: an SLA shortened from 8 h to 2 h on a case that
    has waited 1 h runs out 1 h after the move, and one that has waited longer than the new
    length is due at once (the worker escalates on its next pass)."""
    now = clock.now()
    for task, timer in _timer_tasks(wf):
        element = str(task.task_spec.bpmn_id)
        if element not in used or not _is_sla(task, sla_elements):
            continue
        due = timer.due(task)
        if due is None or timer.is_paused(task):
            continue
        total = timer.sla_total(task)
        if total is None:
            total = _left(task, due, now)
            timer.record_sla_total(task, total)
        before = used[element]
        timer.resume(task, _after(task, now, max(0.0, total - before.used)))
        if before.warned:
            timer.mark_sla_warned(task)
