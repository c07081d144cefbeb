"""Process metrics for a period, filterable by process, provider, system and priority.

Everything is computed by SQL aggregates over cases and audit events (no Python loop
over cases). Percentiles are nearest-rank (the median of an even count is the lower
middle value), computed with window functions so SQLite and PostgreSQL agree.
Times are hours. Conventions for reading the process pack are in engine.evaluation.provider_measures.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, union_all
from sqlalchemy.orm import Session

from engine.evaluation import provider_measures as pm
from engine.evaluation.config import EvaluationConfig
from engine.evaluation.period import Period
from engine.evaluation.scoring import Measurement
from engine.evaluation.sqlfuncs import hours_between
from engine.processes import case_facts
from models import AuditEvent, Case, CaseFact, HumanTask

GATE_EVENTS = ("gate_approved", "gate_rejected", "gate_reworked")


@dataclass(frozen=True)
class Filters:
    """Which cases count: all four are optional and combine with AND."""

    process: str | None = None
    provider: str | None = None
    system: str | None = None
    priority: str | None = None

    def conditions(self, table: Any = Case) -> list[ColumnElement[bool]]:
        """The WHERE conditions on the case table (or case_fact, which has the same columns)."""
        out: list[ColumnElement[bool]] = []
        for column, value in (("process_key", self.process), ("provider", self.provider),
                              ("system", self.system), ("priority", self.priority)):
            if value:
                out.append(getattr(table, column) == value)
        return out


@dataclass(frozen=True)
class Ratio:
    numerator: float
    denominator: float
    value: float | None  # None = no data


@dataclass(frozen=True)
class Durations:
    count: int
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class GateLeadTime:
    gate: str
    decisions: int
    approved: int
    rejected: int
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class ProcessMetrics:
    start: dt.datetime
    end: dt.datetime
    filters: Filters
    opened: int
    closed: int
    cancelled: int
    backlog: int
    cycle_time: Durations
    ratios: dict[str, Ratio]
    escalations: int
    emergency_change_share: Ratio
    change_rollback_rate: Ratio
    drills: dict[str, int]
    revocation_time: Durations
    gates: list[GateLeadTime] = field(default_factory=list)
    hot_spots: list[dict[str, Any]] = field(default_factory=list)
    # Hours cases closed in the period spent waiting on their requester (SLA clocks stopped).
    pending_time: Durations | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def _ratio(m: Measurement) -> Ratio:
    return Ratio(m.numerator or 0.0, m.denominator or 0.0, m.value)


def durations(session: Session, hours: ColumnElement[Any],
              where: list[ColumnElement[bool]]) -> Durations:
    """Count, nearest-rank median and 90th percentile of an hours expression."""
    d = hours.label("d")
    ranked = select(d, func.row_number().over(order_by=d).label("rn"),
                    func.count().over().label("n")).where(*where).subquery()
    row = session.execute(select(
        func.max(ranked.c.n),
        func.min(case((ranked.c.rn * 2 >= ranked.c.n, ranked.c.d), else_=None)),
        func.min(case((ranked.c.rn * 10 >= ranked.c.n * 9, ranked.c.d), else_=None)),
    )).one()
    return Durations(int(row[0] or 0), _f(row[1]), _f(row[2]))


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def gate_lead_times(session: Session, period: Period,
                    filters: Filters) -> list[GateLeadTime]:
    """Per approval gate: decisions in the period, and hours from the gate task becoming
    ready to its decision (the gate event names its task; the task row keeps when it was ready)."""
    ev = AuditEvent
    decided = (select(ev.type, ev.task,
                      hours_between(HumanTask.created_at, ev.at).label("d"))
               .join(Case, Case.id == ev.case_id)
               .join(HumanTask, HumanTask.id == ev.data["task_id"].as_string())
               .where(ev.type.in_(GATE_EVENTS), ev.at >= period.start, ev.at < period.end,
                      *filters.conditions())
               .subquery())
    ranked = select(decided, func.row_number().over(partition_by=decided.c.task,
                                                    order_by=decided.c.d).label("rn"),
                    func.count().over(partition_by=decided.c.task).label("n")).subquery()
    rows = session.execute(select(
        ranked.c.task, func.count(),
        func.sum(case((ranked.c.type == "gate_approved", 1), else_=0)),
        func.sum(case((ranked.c.type == "gate_rejected", 1), else_=0)),
        func.min(case((ranked.c.rn * 2 >= ranked.c.n, ranked.c.d), else_=None)),
        func.min(case((ranked.c.rn * 10 >= ranked.c.n * 9, ranked.c.d), else_=None)),
    ).group_by(ranked.c.task).order_by(ranked.c.task)).all()
    return [GateLeadTime(str(r[0]), int(r[1]), int(r[2] or 0), int(r[3] or 0), _f(r[4]),
                         _f(r[5])) for r in rows]


def hot_spots(session: Session, config: EvaluationConfig, period: Period,
              filters: Filters, *, use_facts: bool = False) -> list[dict[str, Any]]:
    """Service-desk contacts opened in the period, by system, most first (a report, not scored).

    use_facts (the reports page): ended cases are read from their stored facts and open ones live,
    as the scorecards read a month (engine.evaluation.provider_measures.month_rows), the month's
    narrow fact rows rather than every case row of the month and its data; the same figures while
    the facts are complete. The process metrics read the cases, as all their figures do."""
    desk = config.sla.service_desk_sources
    opened = and_(Case.created_at >= period.start, Case.created_at < period.end)
    source = Case.data["source"].as_string()
    if use_facts and case_facts.complete(session):
        f = CaseFact
        contacts = union_all(
            select(f.system).where(f.process_key == pm.INCIDENT, f.source.in_(desk), f.created_at >= period.start,
                                   f.created_at < period.end, *filters.conditions(f)),
            select(Case.system).where(Case.status == "open", Case.process_key == pm.INCIDENT, source.in_(desk),
                                      opened, *filters.conditions()),
        ).subquery("contacts")
    else:
        contacts = select(Case.system).where(Case.process_key == pm.INCIDENT, source.in_(desk), opened,
                                             *filters.conditions()).subquery("contacts")
    rows = session.execute(
        select(contacts.c.system, func.count())
        .group_by(contacts.c.system)
        .order_by(func.count().desc(), contacts.c.system)).all()
    return [{"system": r[0] or None, "contacts": int(r[1])} for r in rows]


def process_metrics(session: Session, config: EvaluationConfig, period: Period,
                    filters: Filters | None = None) -> ProcessMetrics:
    """Compute the process metrics of issue 7 for a period and filters."""
    filters = filters or Filters()
    cond = filters.conditions()
    opened = and_(Case.created_at >= period.start, Case.created_at < period.end)
    closed = and_(Case.closed_at >= period.start, Case.closed_at < period.end)
    counts = session.execute(select(
        func.sum(case((opened, 1), else_=0)),
        func.sum(case((and_(closed, Case.status == "closed"), 1), else_=0)),
        func.sum(case((and_(closed, Case.status == "cancelled"), 1), else_=0)),
        func.sum(case((and_(Case.created_at < period.end, (Case.closed_at.is_(None)) |
                            (Case.closed_at >= period.end)), 1), else_=0)),
        func.sum(case((and_(opened, Case.process_key == pm.CHANGE), 1), else_=0)),
        func.sum(case((and_(opened, Case.process_key == pm.CHANGE,
                            Case.data["change_type"].as_string() == "emergency"), 1), else_=0)),
    ).where(Case.created_at < period.end, *cond)).one()
    escalations = session.scalar(
        select(func.count()).select_from(AuditEvent).join(Case, Case.id == AuditEvent.case_id)
        .where(AuditEvent.type.in_(case_facts.ESCALATED_EVENTS), AuditEvent.at >= period.start,
               AuditEvent.at < period.end, *cond)) or 0
    measures = _filtered_measures(session, config, period, filters)
    rollback = session.execute(select(
        func.sum(case((Case.outcome == "rolled_back", 1), else_=0)), func.count())
        .where(Case.process_key == pm.CHANGE, closed, Case.status == "closed",
               Case.outcome.in_(pm.CHANGE_DONE_OUTCOMES), *cond)).one()
    revoke = _revocation_hours(session, period, filters)
    return ProcessMetrics(
        start=period.start, end=period.end, filters=filters,
        opened=int(counts[0] or 0), closed=int(counts[1] or 0), cancelled=int(counts[2] or 0),
        backlog=int(counts[3] or 0),
        cycle_time=durations(session, hours_between(Case.created_at, Case.closed_at),
                             [closed, Case.status == "closed", *cond]),
        ratios={
            "response_within_sla": _ratio(measures["incidents_responded_in_sla"]),
            "resolution_within_sla": _ratio(measures["incidents_resolved_in_sla"]),
            "reopen_rate": _ratio(measures["incidents_reopened"]),
            "first_contact_resolution": _ratio(measures["desk_first_contact"]),
            "change_success": _ratio(measures["change_success"]),
            "document_completeness": _ratio(measures["records_complete"]),
            "revoked_within_target": _ratio(measures["revoked_in_target"]),
            "drills_done": _ratio(measures["drills_done"]),
            "drills_verified": _ratio(measures["drills_verified"]),
            "mean_rating": _ratio(measures["mean_rating"]),
        },
        escalations=int(escalations),
        emergency_change_share=_ratio(Measurement(
            (counts[5] or 0) / counts[4] if counts[4] else None, counts[5] or 0, counts[4] or 0)),
        change_rollback_rate=_ratio(Measurement(
            (rollback[0] or 0) / rollback[1] if rollback[1] else None, rollback[0] or 0,
            rollback[1])),
        drills={"planned": int(measures["drills_done"].denominator or 0),
                "done": int(measures["drills_done"].numerator or 0),
                "verified": int(measures["drills_verified"].numerator or 0)},
        revocation_time=revoke,
        gates=gate_lead_times(session, period, filters),
        hot_spots=hot_spots(session, config, period, filters),
        pending_time=durations(session, Case.sla_paused_seconds / 3600.0,
                               [closed, Case.sla_paused_seconds > 0, *cond]),
    )


def _filtered_measures(session: Session, config: EvaluationConfig, period: Period,
                       filters: Filters) -> dict[str, Measurement]:
    """The provider measures summed over every case the filters select."""
    r = pm.case_rows(session, and_(pm.window_condition(period), *filters.conditions()))
    specs = pm.measure_sql(config, period, r)
    row = session.execute(select(*pm.aggregate_columns(specs))).mappings().one()
    return {key: pm.measurement(row, key) for key in specs}


def _revocation_hours(session: Session, period: Period, filters: Filters) -> Durations:
    window = and_(Case.process_key == pm.OFFBOARDING, Case.status == "closed",
                  Case.closed_at >= period.start, Case.closed_at < period.end,
                  *filters.conditions())
    ev = case_facts.events_subquery(window, case_facts.task_roles(case_facts.manifests(session)))
    hours = hours_between(Case.created_at, func.coalesce(ev.c.revoked_at, Case.closed_at))
    d = hours.label("d")
    ranked = (select(d, func.row_number().over(order_by=d).label("rn"),
                     func.count().over().label("n"))
              .outerjoin(ev, ev.c.case_id == Case.id).where(window).subquery())
    row = session.execute(select(
        func.max(ranked.c.n),
        func.min(case((ranked.c.rn * 2 >= ranked.c.n, ranked.c.d), else_=None)),
        func.min(case((ranked.c.rn * 10 >= ranked.c.n * 9, ranked.c.d), else_=None)))).one()
    return Durations(int(row[0] or 0), _f(row[1]), _f(row[2]))
