"""The ended cases of each month counted by the parts of the measures' conditions
(`case_fact_month`), kept by the transaction that writes a case's fact row.

A month's measures are aggregates over its cases of conditions made of a few parts
(engine.evaluation.atoms): columns with few values (KEYS) and comparisons (FLAGS) of a case's
times with the month and with the configured SLA targets. Counted by those parts, the ended
cases of a month are a few thousand rows whatever their number; the month's evaluation reads
those rows and counts only its open cases live (engine.evaluation.provider_measures).

* A case counts in the month it was opened in and in the month it was closed in (both, when they
  differ): the months whose window (opened or closed in it) holds it. Its flags are those of
  that month (opened in it, closed in it, done by its end).
* The comparisons with the targets depend on the evaluation configuration, which the case layer
  does not read: the targets the summary was built with are stored (`case_fact_target`), and
  the statement that counts an ended case reads them in SQL. The evaluation uses the summary only
  when those are its configuration's targets (`usable`), and reads the fact rows otherwise
  (the same figures, at the old speed) until `rebuild` builds it for them (`opsgate init`).
* `add_ended` counts a case in the statement after its fact row is written (an upsert: the
  combination's counts and sums grow by the case's). `resummarize` counts months afresh from
  the fact rows (a rebuild, a deploy that rewrote facts); `differences` compares the stored
  counts with those computed from the fact rows (the check).

This module sits with case_facts because the case layer writes both; the evaluation reads it.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import prepared
from engine.timing import clock
from models import CaseFact, CaseFactMonth, CaseFactState, CaseFactTarget

# Case row columns the measures compare with constants: a group's keys.
KEYS = ("provider", "process_key", "outcome", "source", "escalated", "reopened", "has_records",
        "carries_records", "restore_verified")
# Comparisons with the period and the targets, each a bit of a group's `flags`.
FLAGS = ("opened", "closed", "done_by_end", "responded", "rated", "response_ok", "resolve_ok",
         "recovery_ok", "revoke_ok", "dispatch_ok")
# KEYS that may be NULL: stored as '' (false) with a bit each in `nulls`, since an upsert's key
# never matches a NULL.
NULLABLE = ("provider", "outcome", "source", "restore_verified")

_month_table = cast(Table, CaseFactMonth.__table__)
_target_table = cast(Table, CaseFactTarget.__table__)
_SUMMARY_COLUMNS = tuple(c.key for c in _month_table.c)
_GROUP_KEY = _SUMMARY_COLUMNS[:_SUMMARY_COLUMNS.index("weight")]

TargetRow = tuple[str, str, float]


class Targets(Protocol):
    """The SLA targets as SQL: constants of a configuration, or the stored `case_fact_target`."""

    def response(self, priority: Any) -> ColumnElement[Any]: ...
    def resolve(self, priority: Any) -> ColumnElement[Any]: ...
    def recovery(self) -> ColumnElement[Any]: ...
    def revocation(self) -> ColumnElement[Any]: ...
    def dispatch(self, process: Any) -> ColumnElement[Any]: ...


def target_rows(response_hours: Mapping[str, float], resolve_hours: Mapping[str, float], default_priority: str,
                recover_hours: float, revoke_hours: float, dispatch_hours: Mapping[str, float]) -> set[TargetRow]:
    """The rows of case_fact_target for a configuration's SLA targets."""
    rows = {("response", p, float(h)) for p, h in response_hours.items()}
    rows |= {("resolve", p, float(h)) for p, h in resolve_hours.items()}
    rows |= {("response_default", "", float(response_hours[default_priority])),
             ("resolve_default", "", float(resolve_hours[default_priority])),
             ("recovery", "", float(recover_hours)), ("revocation", "", float(revoke_hours))}
    rows |= {("dispatch", p, float(h)) for p, h in dispatch_hours.items()}
    return rows


class StoredTargets:
    """The targets of case_fact_target, one scalar subquery each (read once per ended case)."""

    @staticmethod
    def _hours(kind: str, key: Any) -> ColumnElement[Any]:
        t = CaseFactTarget
        return select(t.hours).where(t.kind == kind, t.key == key).scalar_subquery()

    def response(self, priority: Any) -> ColumnElement[Any]:
        return func.coalesce(self._hours("response", priority), self._hours("response_default", ""))

    def resolve(self, priority: Any) -> ColumnElement[Any]:
        return func.coalesce(self._hours("resolve", priority), self._hours("resolve_default", ""))

    def recovery(self) -> ColumnElement[Any]:
        return self._hours("recovery", "")

    def revocation(self) -> ColumnElement[Any]:
        return self._hours("revocation", "")

    def dispatch(self, process: Any) -> ColumnElement[Any]:
        return self._hours("dispatch", process)


def flag_conditions(c: Any, start: Any, end: Any, targets: Targets) -> dict[str, ColumnElement[bool]]:
    """The FLAGS over one case row (case_rows' columns `c`) in the period [start, end)."""
    # Pending time (waiting on the requester, engine.timing.timers) does not count against resolution.
    worked = c.resolution_hours - c.sla_paused_seconds / 3600.0
    return {
        "opened": and_(c.created_at >= start, c.created_at < end),
        "closed": and_(c.status == "closed", c.closed_at >= start, c.closed_at < end),
        "done_by_end": and_(c.status == "closed", c.closed_at < end),
        "responded": c.responded_at.is_not(None),
        "rated": c.rating.is_not(None),
        "response_ok": and_(c.responded_at.is_not(None), c.response_hours <= targets.response(c.priority)),
        "resolve_ok": worked <= targets.resolve(c.priority),
        "recovery_ok": c.recovery_hours <= targets.recovery(),
        "revoke_ok": c.revocation_hours <= targets.revocation(),
        "dispatch_ok": worked <= func.coalesce(c.sla_hours, targets.dispatch(c.process_key)),
    }


def flags_value(conditions: Mapping[str, ColumnElement[bool]]) -> ColumnElement[int]:
    """The FLAGS as one integer, a bit each."""
    return cast(ColumnElement[int], sum((case((conditions[f], 1 << i), else_=0) for i, f in enumerate(FLAGS)),
                                        literal(0)))


def month_bounds(label: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a month YYYY-MM, in UTC."""
    return clock.month_bounds(int(label[:4]), int(label[5:7]))


def month_label(when: dt.datetime) -> str:
    """The month (YYYY-MM, UTC) of a time."""
    when = when.astimezone(dt.timezone.utc) if when.tzinfo else when
    return f"{when.year:04d}-{when.month:02d}"


def _summary_select(month: Any, start: Any, end: Any, *where: ColumnElement[bool]) -> Any:
    """The fact rows in a month's window (opened or closed in it) and `where`, counted by their
    parts, on case_fact_month's columns (the month's label `month`, its bounds `start`, `end`)."""
    f = CaseFact
    flags = flags_value(flag_conditions(f, start, end, StoredTargets()))
    nulls = sum((case((getattr(f, name).is_(None), 1 << i), else_=0) for i, name in enumerate(NULLABLE)), literal(0))
    stored = {name: func.coalesce(getattr(f, name), false() if name == "restore_verified" else "")
              for name in NULLABLE}
    keys = [stored[name].label(name) if name in stored else getattr(f, name) for name in KEYS]
    window = or_(and_(f.created_at >= start, f.created_at < end), and_(f.closed_at >= start, f.closed_at < end))
    return (select(month.label("month"), *keys, flags.label("flags"), nulls.label("nulls"),
                   func.count().label("weight"), func.sum(f.response_hours).label("response_hours"),
                   func.sum(f.rating).label("rating"))
            .where(window, *where).group_by(*keys, flags, nulls))


@functools.lru_cache(maxsize=8)
def _ended_upsert(dialect: str, months: int) -> prepared.Prepared:
    """The upsert that counts one ended case (bound: fact_case_id, and month_N, start_N, end_N for
    each of its `months`) into case_fact_month, if the summary is kept (case_fact_state.summarized)."""
    kept = exists().where(CaseFactState.id == 1, CaseFactState.summarized)
    parts: list[Any] = [_summary_select(bindparam(f"month_{i}", type_=_month_table.c.month.type),
                             bindparam(f"start_{i}", type_=CaseFact.created_at.type),
                             bindparam(f"end_{i}", type_=CaseFact.created_at.type),
                             CaseFact.case_id == bindparam("fact_case_id"), kept)
             for i in range(months)]
    rows: Any = parts[0] if months == 1 else union_all(*parts)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_month_table)
    statement = insert.from_select(list(_SUMMARY_COLUMNS), rows)
    m, new = _month_table.c, statement.excluded
    return prepared.Prepared(statement.on_conflict_do_update(index_elements=list(_GROUP_KEY), set_={
        "weight": m.weight + new.weight,
        # A sum of no values is NULL, as SUM gives it.
        "response_hours": func.coalesce(m.response_hours + new.response_hours, m.response_hours, new.response_hours),
        "rating": func.coalesce(m.rating + new.rating, m.rating, new.rating),
    }), order=prepared.FACT_MONTHS)


def case_months(created_at: dt.datetime, closed_at: dt.datetime | None) -> list[str]:
    """The months a case counts in: opened in, and closed in if another."""
    months = [month_label(created_at)]
    if closed_at is not None and month_label(closed_at) != months[0]:
        months.append(month_label(closed_at))
    return months


def add_ended(session: Session, case_id: int, created_at: dt.datetime, closed_at: dt.datetime | None) -> None:
    """Count an ended case, whose fact row is written, in the months it is in (one statement; nothing
    while the summary is not kept)."""
    months = case_months(created_at, closed_at)
    params: dict[str, Any] = {"fact_case_id": case_id}
    for i, label in enumerate(months):
        params[f"month_{i}"] = label
        params[f"start_{i}"], params[f"end_{i}"] = month_bounds(label)
    _ended_upsert(session.get_bind().dialect.name, len(months)).run(session, params)


def fact_months(session: Session, *where: ColumnElement[bool]) -> set[str]:
    """The months the fact rows (those of `where`) count in."""
    f = CaseFact
    months: set[str] = set()
    for created_at, closed_at in session.execute(select(f.created_at, f.closed_at).where(*where)):
        months.update(case_months(created_at, closed_at))
    return months


def _all_months(session: Session) -> list[str]:
    f = CaseFact
    first, last_open, last_close = session.execute(
        select(func.min(f.created_at), func.max(f.created_at), func.max(f.closed_at))).one()
    if first is None:
        return []
    last = month_label(max(last_open, last_close or last_open))
    labels = [month_label(first)]
    while labels[-1] < last:
        labels.append(month_label(month_bounds(labels[-1])[1]))
    return labels


def resummarize(session: Session, months: Iterable[str]) -> None:
    """Count these months afresh from the fact rows (the summary must be kept: `summarized`)."""
    for label in sorted(set(months)):
        start, end = month_bounds(label)
        session.execute(delete(CaseFactMonth).where(CaseFactMonth.month == label))
        session.execute(_month_table.insert().from_select(
            list(_SUMMARY_COLUMNS), _summary_select(literal(label, _month_table.c.month.type), start, end)))


def stored_targets(session: Session) -> set[TargetRow]:
    """The targets the summary was built with."""
    return {(k, key, h) for k, key, h in session.execute(select(CaseFactTarget.kind, CaseFactTarget.key,
                                                                CaseFactTarget.hours))}


def rebuild(session: Session, targets: set[TargetRow] | None = None) -> int:
    """Build the summary afresh from every fact row, with these targets (None: those stored; none
    stored: the summary is left unkept). Return the number of summary rows."""
    if session.get_bind().dialect.name == "postgresql":
        # Cases ending meanwhile wait for this transaction, so none is counted twice or missed.
        session.execute(text("LOCK TABLE case_fact_month IN EXCLUSIVE MODE"))
    if targets is None:
        targets = stored_targets(session)
    session.execute(delete(CaseFactMonth))
    session.execute(delete(CaseFactTarget))
    kept = bool(targets)
    if kept:
        session.execute(_target_table.insert(), [{"kind": k, "key": key, "hours": h} for k, key, h in sorted(targets)])
    session.execute(update(CaseFactState).where(CaseFactState.id == 1).values(summarized=kept))
    if kept:
        resummarize(session, _all_months(session))
    return session.scalar(select(func.count()).select_from(CaseFactMonth)) or 0


def kept(session: Session) -> bool:
    """Whether the summary is kept (case_fact_state.summarized)."""
    return bool(session.scalar(select(CaseFactState.summarized).where(CaseFactState.id == 1)))


def usable(session: Session, targets: set[TargetRow]) -> bool:
    """Whether the summary counts every ended case with these targets."""
    state = session.execute(select(CaseFactState.complete, CaseFactState.summarized)
                            .where(CaseFactState.id == 1)).one_or_none()
    return state is not None and bool(state.complete) and bool(state.summarized) and stored_targets(session) == targets


def month_groups(month: str, provider: str | None = None) -> Any:
    """The summary rows of a month, on grouped_rows' columns (the nullable parts NULL again)."""
    s = CaseFactMonth
    keys = [case((s.nulls.op("&")(1 << NULLABLE.index(name)) != 0, None), else_=getattr(s, name)).label(name)
            if name in NULLABLE else getattr(s, name) for name in KEYS]
    query = select(*keys, s.flags, s.weight, s.response_hours, s.rating).where(s.month == month)
    if provider is not None:
        query = query.where(s.provider == provider, s.nulls.op("&")(1) == 0)
    return query


def differences(session: Session) -> list[tuple[Any, ...]]:
    """The summary rows that differ from the fact rows counted afresh (in either), as
    (month, key..., weight, response_hours, rating, 'stored' / 'facts'); empty when they agree.
    Sums are compared rounded to nine places (they add in another order)."""
    stored = {tuple(row[:len(_GROUP_KEY)]): tuple(row[len(_GROUP_KEY):])
              for row in session.execute(select(*_month_table.c))}
    fresh: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for label in _all_months(session):
        start, end = month_bounds(label)
        for row in session.execute(_summary_select(literal(label, _month_table.c.month.type), start, end)):
            fresh[tuple(row[:len(_GROUP_KEY)])] = tuple(row[len(_GROUP_KEY):])

    def norm(values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(round(v, 9) if isinstance(v, float) else v for v in values)
    out: list[tuple[Any, ...]] = []
    for key in sorted(set(stored) | set(fresh), key=repr):
        a, b = stored.get(key), fresh.get(key)
        if a is None or b is None or norm(a) != norm(b):
            if a is not None:
                out.append((*key, *a, "stored"))
            if b is not None:
                out.append((*key, *b, "facts"))
    return out
