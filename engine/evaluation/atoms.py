"""The parts every measure's condition is made of, for one period: on one case row, or on a group
of case rows that agree on all of them.

A month's measures are some forty aggregates of conditions over its cases. Evaluated case by case,
that is forty conditions per case (seconds at 100,000 cases in a month). Each condition is made of
a few parts: columns with few values (process, outcome, source, flags) and comparisons of a case's
times with the period and with the configured targets (opened in the period, closed in it, answered
within its priority's target...). `grouped_rows` computes those comparisons once per case and
counts the cases of each combination (a few hundred groups); the measures are then aggregated over
the groups, weighted by their counts. A condition on a group's parts is true for the group exactly
when it is true for each of its cases, so the counts are the same; only the sums of hours and
ratings add in another order (equal to the last bits a double carries).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, func, literal, select

from engine.evaluation.config import EvaluationConfig
from engine.evaluation.period import Period

# Case row columns the measures compare with constants: the group's keys.
KEYS = ("provider", "process_key", "outcome", "source", "escalated", "reopened", "has_records",
        "carries_records", "restore_verified")
# Comparisons with the period and the targets, each 1 or 0 in a group's key.
FLAGS = ("opened", "closed", "done_by_end", "responded", "rated", "response_ok", "resolve_ok",
         "recovery_ok", "revoke_ok", "dispatch_ok")


class Bounds(Protocol):
    """A period's [start, end): a Period's constants, or a row's columns when one statement reads
    several months (`Window`)."""

    @property
    def start(self) -> Any: ...

    @property
    def end(self) -> Any: ...


@dataclass(frozen=True)
class Window:
    """A period's bounds as SQL expressions: each row of a statement over several months compares
    with the bounds of the month it is counted in."""

    start: Any
    end: Any


@dataclass(frozen=True)
class Atoms:
    """The parts of the measures' conditions: `c` has the KEYS columns; the FLAGS are conditions;
    `response_hours` and `rating` are the values the means add (a case's, or a group's sum);
    `weight` is how many cases a row stands for."""

    c: Any
    opened: ColumnElement[bool]
    closed: ColumnElement[bool]
    done_by_end: ColumnElement[bool]
    responded: ColumnElement[bool]
    rated: ColumnElement[bool]
    response_ok: ColumnElement[bool]
    resolve_ok: ColumnElement[bool]
    recovery_ok: ColumnElement[bool]
    revoke_ok: ColumnElement[bool]
    dispatch_ok: ColumnElement[bool]
    response_hours: Any
    rating: Any
    weight: Any


def _by_priority(priority: Any, hours: Mapping[str, float], default: str) -> ColumnElement[Any]:
    return case(*((priority == p, literal(h)) for p, h in hours.items()),
                else_=literal(hours[default]))


def _by_process(process: Any, hours: Mapping[str, float]) -> ColumnElement[Any]:
    if not hours:
        return literal(None)
    return case(*((process == p, literal(h)) for p, h in hours.items()), else_=None)


def row_atoms(config: EvaluationConfig, period: Period | Bounds, r: Any) -> Atoms:
    """The parts over one case row of `r` (case_rows' columns)."""
    sla, c = config.sla, r.c
    # Pending time (waiting on the requester, engine.timing.timers) does not count against resolution.
    worked = c.resolution_hours - c.sla_paused_seconds / 3600.0
    return Atoms(
        c=c,
        opened=and_(c.created_at >= period.start, c.created_at < period.end),
        closed=and_(c.status == "closed", c.closed_at >= period.start, c.closed_at < period.end),
        done_by_end=and_(c.status == "closed", c.closed_at < period.end),
        responded=c.responded_at.is_not(None),
        rated=c.rating.is_not(None),
        response_ok=and_(c.responded_at.is_not(None), c.response_hours <= _by_priority(
            c.priority, sla.response_hours, sla.default_priority)),
        resolve_ok=worked <= _by_priority(c.priority, sla.resolve_hours, sla.default_priority),
        recovery_ok=c.recovery_hours <= sla.emergency_recover_hours,
        revoke_ok=c.revocation_hours <= sla.revoke_hours,
        dispatch_ok=worked <= func.coalesce(c.sla_hours, _by_process(c.process_key, sla.dispatch_hours)),
        response_hours=c.response_hours, rating=c.rating, weight=literal(1),
    )


def grouped_rows(config: EvaluationConfig, period: Period | Bounds, r: Any, *, by: Sequence[Any] = ()) -> Any:
    """The rows of `r` counted by their KEYS and FLAGS, with the sums of their response hours and
    ratings (a subquery). The FLAGS make one integer key, a bit each: fewer keys to sort or hash.
    `by`: further keys before those (the month, when one statement counts several months)."""
    a = row_atoms(config, period, r)
    flags = sum((case((getattr(a, f), 1 << i), else_=0) for i, f in enumerate(FLAGS)), literal(0))
    keys = [*by, *(getattr(r.c, k) for k in KEYS), flags.label("flags")]
    return (select(*keys, func.count().label("weight"), func.sum(a.response_hours).label("response_hours"),
                   func.sum(a.rating).label("rating"))
            .group_by(*keys).subquery("month_groups"))


def group_atoms(g: Any) -> Atoms:
    """The parts over one row of `grouped_rows`."""
    flags = {f: g.c.flags.op("&")(1 << i) != 0 for i, f in enumerate(FLAGS)}
    return Atoms(c=g.c, response_hours=g.c.response_hours, rating=g.c.rating, weight=g.c.weight, **flags)
