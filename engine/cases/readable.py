"""A case as people read it: values under their form labels, decisions by named people, the
history without the engine's bookkeeping, SLA clocks that say what they measure.

The page shows what people typed or chose, labelled as the form asked for it. The engine's
own variables (`case_key`, `<task>_decision`, `<task>_by`, `sla_resolve`, anything a script
set) are not form fields, so they are not shown here; they stay in the audit trail and the
evidence pack. Names come in pairs (English, Chinese or None): the web layer picks one for the
reader's language, the engine translates nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.processes.forms import Field
from engine.processes.manifest import Manifest
from engine.timing import clock
from models import AuditEvent, Case, Timer, User

GATE_FIELDS = frozenset({"decision", "comment"})
GATE_EVENTS = {"gate_approved": "approve", "gate_rejected": "reject", "gate_reworked": "rework"}


@dataclass(frozen=True)
class Shown:
    """One value under its form label; `choice` holds a chosen option's names."""

    name: str
    label: str
    label_zh: str | None
    type: str
    value: Any
    choice: tuple[str, str | None] | None = None


@dataclass(frozen=True)
class Decision:
    """One gate's decision: which gate, what was decided, by whom, when, and why."""

    task: str
    task_zh: str | None
    decision: str
    actor: str
    at: dt.datetime
    comment: str = ""
    seq: int = 0
    # A vote's count (engine.cases.voting) when the board decided: voters, approve, reject, reason.
    vote: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Entry:
    """One history entry: the event, who did it (by display name), the task's names, what they
    submitted (labelled), and for a gate its decision."""

    event: AuditEvent
    actor: str
    task: tuple[str, str | None] | None
    shown: list[Shown] = field(default_factory=list)
    decision: Decision | None = None
    outcome: tuple[str, str | None] | None = None
    waiting_on: list[tuple[str, str | None]] = field(default_factory=list)
    filename: str | None = None
    warning: SlaWarning | None = None


@dataclass(frozen=True)
class SlaWarning:
    """An SLA warning as people read it: which clock (`sla`: response, resolution, ...; None
    when the timer names no measure, then `name` says which), how much of it was used, and
    when it runs out."""

    sla: str | None
    name: tuple[str, str | None]
    used: str
    due_at: dt.datetime | None


@dataclass(frozen=True)
class Clock:
    """A running timer as people read it: its name, what it measures (`sla`: response,
    resolution, ...; None for a reminder), when it is due, whether it escalates, whether the
    case's clocks are paused (waiting on the requester)."""

    name: str
    name_zh: str | None
    sla: str | None
    due_at: dt.datetime
    escalation: bool
    paused: bool
    warning: bool = False
    fired: bool = False  # it ran out and escalated the case (due_at is when)

    @property
    def overdue(self) -> bool:
        return self.due_at <= clock.now()


@dataclass(frozen=True)
class Target:
    """A target the case's data sets without a timer (the incident's response time): its
    deadline and when it was met (the first step a staff member took), or None."""

    sla: str
    due_at: dt.datetime
    met_at: dt.datetime | None


def shown_value(f: Field, value: Any) -> Shown:
    """Label one value with its field."""
    choice = f.choice_label(value) if f.type == "enum" and f.choices else None
    return Shown(f.name, f.label or f.name, f.label_zh, f.type, value, choice)


def _labelled(fields: Iterable[Field], data: Mapping[str, Any], *, skip: frozenset[str] = frozenset(),
              seen: set[str] | None = None) -> list[Shown]:
    out = []
    for f in fields:
        if f.name in skip or (seen is not None and f.name in seen):
            continue
        value = data.get(f.name)
        if value is None or value == "":
            continue
        out.append(shown_value(f, value))
        if seen is not None:
            seen.add(f.name)
    return out


def case_values(manifest: Manifest, data: Mapping[str, Any]) -> list[Shown]:
    """The case's data as people entered it: the start form's fields, then each task's, under
    their labels; gates' decisions and comments are shown as decisions instead."""
    seen: set[str] = set()
    shown = _labelled(manifest.start_form.fields, data, seen=seen)
    for rules in manifest.tasks.values():
        skip = GATE_FIELDS if rules.form.is_gate else frozenset()
        shown += _labelled(rules.form.fields, data, skip=skip, seen=seen)
    return shown


def display_names(session: Session, names: Iterable[str]) -> dict[str, str]:
    """Map user names to the names people read (display name, else the user name)."""
    wanted = sorted({n for n in names if n and n != "system"})
    found = {name: display or name for name, display in
             session.execute(select(User.name, User.display_name).where(User.name.in_(wanted)))} if wanted else {}
    return {n: found.get(n, n) for n in wanted}


def history(session: Session, case: Case, manifest: Manifest, events: list[AuditEvent]) -> list[Entry]:
    """The case's history as people read it, oldest first."""
    people = display_names(session, (e.actor for e in events))
    entries = []
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        task = manifest.element_names(event.task) if event.task else None
        entry = Entry(event, people.get(event.actor, event.actor), task)
        raw = data.get("data")
        submitted: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        if event.type == "case_started":
            entry.shown.extend(_labelled(manifest.start_form.fields, submitted))
        elif event.type in GATE_EVENTS or event.type == "task_completed":
            rules = manifest.task(event.task or "")
            gate = event.type in GATE_EVENTS
            entry.shown.extend(_labelled(rules.form.fields, submitted, skip=GATE_FIELDS if gate else frozenset()))
            if gate:
                entry = _with_decision(entry, task, submitted, event)
        elif event.type == "case_closed" and data.get("outcome"):
            entry = _replace(entry, outcome=outcome_names(manifest, str(data["outcome"])))
        elif event.type == "sla_paused":
            entry.waiting_on.extend(manifest.element_names(str(e)) for e in data.get("waiting_on") or ())
        elif event.type == "sla_warning":
            # the warning's task is the timer whose name says what happens when it runs out
            # ("Resolution target passed"): say which clock is running out instead
            info = manifest.timers.get(event.task or "")
            entry = _replace(entry, task=None, warning=SlaWarning(
                info.sla if info else None, task or (str(data.get("name") or ""), None),
                str(data.get("used") or "75%"), _instant(data.get("due_at"))))
        elif event.type == "attachment_added":
            entry = _replace(entry, filename=str(data.get("filename") or data.get("name") or ""))
        entries.append(entry)
    return entries


def _instant(raw: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _replace(entry: Entry, **changes: Any) -> Entry:
    values = {k: getattr(entry, k) for k in Entry.__dataclass_fields__}
    values.update(changes)
    return Entry(**values)


def _with_decision(entry: Entry, task: tuple[str, str | None] | None, submitted: Mapping[str, Any],
                   event: AuditEvent) -> Entry:
    name, name_zh = task or (event.task or "", None)
    raw = event.data.get("vote") if isinstance(event.data, dict) else None
    decision = Decision(name, name_zh, GATE_EVENTS[event.type], entry.actor, event.at,
                        str(submitted.get("comment") or "").strip(), event.seq,
                        vote=raw if isinstance(raw, dict) else None)
    return _replace(entry, decision=decision)


def decisions(entries: list[Entry]) -> list[Decision]:
    """Every gate's decision, one per gate passed, oldest first."""
    return [e.decision for e in entries if e.decision is not None]


def outcome_names(manifest: Manifest, outcome: str) -> tuple[str, str | None]:
    """The names people read for an outcome (the end event's `outcome_name`), else the outcome
    with its underscores as spaces."""
    name, name_zh = manifest.outcome_names(outcome)
    return name or outcome.replace("_", " "), name_zh


def clocks(case: Case, timers: list[Timer], manifest: Manifest, events: Iterable[AuditEvent] = ()) -> list[Clock]:
    """The clocks that ran out and escalated the case, then its running timers, soonest first."""
    out = []
    for event in events:
        if event.type == "case_escalated" and event.task:
            info = manifest.timers.get(event.task)
            name, name_zh = manifest.element_names(event.task)
            out.append(Clock(name, name_zh, info.sla if info is not None else None, event.at, True, False,
                             fired=True))
    for timer in sorted(timers, key=lambda t: t.due_at):
        info = manifest.timers.get(timer.element_id)
        name, name_zh = manifest.element_names(timer.element_id)
        out.append(Clock(name, name_zh, info.sla if info is not None else None, timer.due_at,
                         bool(timer.escalation), case.sla_paused_at is not None, timer.kind == "sla_warning"))
    return out


def response_target(case: Case, events: list[AuditEvent]) -> Target | None:
    """The response target a case's data sets (`sla_response`, an ISO duration such as PT15M):
    due that long after the case opened, met by the first step a person other than the
    requester took (a claim, a completed task or a decision)."""
    raw = (case.data or {}).get("sla_response")
    span = parse_duration(raw) if isinstance(raw, str) else None
    if span is None:
        return None
    requester = case.requester.name if case.requester is not None else None
    met = next((e.at for e in events if e.type in ("task_claimed", "task_completed", *GATE_EVENTS)
                and e.actor not in (requester, "system")), None)
    return Target("response", case.created_at + span, met)


def parse_duration(text: str) -> dt.timedelta | None:
    """Read a simple ISO 8601 duration (PnDTnHnMnS); None for anything else."""
    match = _DURATION.fullmatch(text.strip().upper())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


_DURATION = re.compile(r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
                       r"(?:(\d+(?:\.\d+)?)S)?)?")
