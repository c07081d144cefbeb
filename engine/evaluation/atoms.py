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

from sqlalchemy import ColumnElement, case, func, literal, select

from engine.evaluation.config import EvaluationConfig, SlaTargets
from engine.evaluation.period import Period
from engine.processes.fact_summary import FLAGS, KEYS, flag_conditions, flags_value, target_rows


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


@dataclass(frozen=True)
class ConfigTargets:
    """A configuration's SLA targets as constants in the statement (fact_summary.Targets)."""

    sla: SlaTargets

    def response(self, priority: Any) -> ColumnElement[Any]:
        return _by_priority(priority, self.sla.response_hours, self.sla.default_priority)

    def resolve(self, priority: Any) -> ColumnElement[Any]:
        return _by_priority(priority, self.sla.resolve_hours, self.sla.default_priority)

    def recovery(self) -> ColumnElement[Any]:
        return literal(self.sla.emergency_recover_hours)

    def revocation(self) -> ColumnElement[Any]:
        return literal(self.sla.revoke_hours)

    def dispatch(self, process: Any) -> ColumnElement[Any]:
        return _by_process(process, self.sla.dispatch_hours)


def config_targets(config: EvaluationConfig) -> set[tuple[str, str, float]]:
    """The configuration's SLA targets as the month summary stores them (case_fact_target)."""
    sla = config.sla
    return target_rows(sla.response_hours, sla.resolve_hours, sla.default_priority, sla.emergency_recover_hours,
                       sla.revoke_hours, sla.dispatch_hours)


def row_atoms(config: EvaluationConfig, period: Period | Bounds, r: Any) -> Atoms:
    """The parts over one case row of `r` (case_rows' columns)."""
    c = r.c
    flags = flag_conditions(c, period.start, period.end, ConfigTargets(config.sla))
    return Atoms(c=c, response_hours=c.response_hours, rating=c.rating, weight=literal(1), **flags)


def grouped_rows(config: EvaluationConfig, period: Period | Bounds, r: Any, *, by: Sequence[Any] = ()) -> Any:
    """The rows of `r` counted by their KEYS and FLAGS, with the sums of their response hours and
    ratings (a subquery). The FLAGS make one integer key, a bit each: fewer keys to sort or hash.
    `by`: further keys before those (the month, when one statement counts several months)."""
    return grouped_select(config, period, r, by=by).subquery("month_groups")


def grouped_select(config: EvaluationConfig, period: Period | Bounds, r: Any, *, by: Sequence[Any] = ()) -> Any:
    """grouped_rows as a SELECT (to add to the month summary's rows)."""
    a = row_atoms(config, period, r)
    flags = flags_value({f: getattr(a, f) for f in FLAGS})
    keys = [*by, *(getattr(r.c, k) for k in KEYS), flags.label("flags")]
    return (select(*keys, func.count().label("weight"), func.sum(a.response_hours).label("response_hours"),
                   func.sum(a.rating).label("rating"))
            .group_by(*keys))


def group_atoms(g: Any) -> Atoms:
    """The parts over one row of `grouped_rows`."""
    flags = {f: g.c.flags.op("&")(1 << i) != 0 for i, f in enumerate(FLAGS)}
    return Atoms(c=g.c, response_hours=g.c.response_hours, rating=g.c.rating, weight=g.c.weight, **flags)
