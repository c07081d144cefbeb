"""The measures a provider's month is scored on, as SQL over cases and their audit events.

Each measure is a population of cases (the denominator) and a condition on them (the
numerator), or a value averaged over the population. The same definition gives the
aggregate (one GROUP BY query for every provider and measure) and the drill-down (the
cases behind a KPI), so a figure can always be traced to its cases.

How the process pack's records are read (docs/bpmn.md; the conventions are below):

* incident: `source` in the case data (phone, portal, monitoring, inspection); priority
  P1-P4 picks the response and resolution targets from the evaluation configuration
  (the same as the pack's incident_priority.dmn); the response is the first claim or
  completion of a task in the case; the resolution is the completion of the task whose
  `measure` property is `resolution` (the pack's `resolve`; or the close); a
  `case_escalated` event or a completed `escalation` task marks an escalation; the
  `confirmation` task completed with confirmation = reopen (or a `case_reopened` event)
  marks a reopen. Versions deployed before the property existed are read by the pack's
  element ids (DEFAULT_ROLES).
* first-contact resolution: a service-desk contact resolved without escalation or reopen.
* change_request: outcome implemented (success) against rolled_back / failed.
* emergency_response: recovery is the completion of the `recovery` task (or the close).
* account_offboarding: revocation is the completion of the `revocation` task (or the close).
* backup_restore_drill: a drill started in the month is planned; closed is done; outcome
  `passed` (or `restore_verified` true in the data) is verified.
* inspection: a case opened in the month (by its plan's timer or by hand) is a planned
  inspection; closed by the month's end with outcome `completed` is done; a done inspection
  carrying its required records has complete records. The supervisor's typed figures only
  override these (the KPI's `override` inputs in the configuration).
* work orders: the processes in `dispatch_hours` (the pack's service_request); a request
  declined at dispatch (outcome `rejected`) was never assigned; on time is the work done (the
  completion of the task whose `measure` is `resolution`, the pack's do_work; else the close)
  within the case's own `sla_hours` (set by category), else the configured hours, less any
  time its SLA clocks were paused. The requester's confirmation does not count against it.
* required records: the definition's manifest (the process's `required_records`, or an
  end event's own for the outcome it gives); a case carries them when each field is
  present and not blank.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from engine import db
from engine.errors import NotFound, said
from engine.evaluation.atoms import (
    Atoms,
    Window,
    config_targets,
    group_atoms,
    grouped_rows,
    grouped_select,
    row_atoms,
)
from engine.evaluation.config import EvaluationConfig
from engine.evaluation.period import Period
from engine.evaluation.scoring import Measurement
from engine.processes import case_facts, fact_summary
from engine.processes.case_facts import manifests, task_roles
from models import Case, CaseFact

# Conventions of the shipped process pack (workflows/); see the module docstring.
INCIDENT, CHANGE, EMERGENCY = "incident", "change_request", "emergency_response"
OFFBOARDING, DRILL, INSPECTION = "account_offboarding", "backup_restore_drill", "inspection"
RESOLVED_OUTCOMES = ("resolved",)
CHANGE_DONE_OUTCOMES = ("implemented", "rolled_back", "failed")
DRILL_VERIFIED_OUTCOMES = ("passed", "verified")
INSPECTION_DONE_OUTCOMES = ("completed",)
NOT_ASSIGNED_OUTCOMES = ("rejected",)  # a work order declined at dispatch


@dataclass(frozen=True)
class MeasureSql:
    population: ColumnElement[bool]
    success: ColumnElement[bool] | None = None  # ratio measures
    value: ColumnElement[Any] | None = None  # mean measures


def window_condition(period: Period) -> ColumnElement[bool]:
    """Cases opened or closed in the period: every measure's population is among them."""
    return or_(and_(Case.created_at >= period.start, Case.created_at < period.end),
               and_(Case.closed_at >= period.start, Case.closed_at < period.end))


def case_rows(session: Session, window: ColumnElement[bool]) -> Any:
    """The window's cases, one row each, with the data fields and event times the measures
    read, computed from the cases and their events (the direct reading: any window)."""
    deployed = manifests(session)
    return case_facts.rows_select(window, task_roles(deployed), deployed).cte("case_rows")


def month_rows(session: Session, period: Period, *, provider: str | None = None, use_facts: bool = True) -> Any:
    """The rows of `case_rows` for a period's window, read in time proportional to its cases:
    the stored facts of its ended cases (case_fact, by created_at and closed_at) and its open
    cases computed live. The same rows as `case_rows(window_condition(period))`, but for what the
    measures never read of an open case (case_facts.OPEN_ROW_COLUMNS); that direct reading is
    used while the facts are not complete, or with use_facts=False."""
    if not use_facts or not case_facts.complete(session):
        window = window_condition(period)
        if provider is not None:
            window = and_(window, Case.provider == provider)
        return case_rows(session, window)
    f = CaseFact
    ended = or_(and_(f.created_at >= period.start, f.created_at < period.end),
                and_(f.closed_at >= period.start, f.closed_at < period.end))
    if provider is not None:
        ended = and_(ended, f.provider == provider)
    # An open case's rows carry only what the measures read of open cases (its first response,
    # found by its chain), not the records check and event flags only closed cases are read for.
    return union_all(case_facts.facts_select(ended), open_rows(period, provider)).cte("case_rows")


def open_rows(period: Period, provider: str | None = None) -> Select[Any]:
    """The open cases of a period's window, as rows of `case_rows` (case_facts.open_rows_select)."""
    # An open case has no closed_at: it is in the window when opened in it.
    live = and_(Case.created_at >= period.start, Case.created_at < period.end)
    if provider is not None:
        live = and_(live, Case.provider == provider)
    return case_facts.open_rows_select(live)


def month_groups(session: Session, config: EvaluationConfig, period: Period, *, provider: str | None = None,
                 use_facts: bool = True, use_summary: bool = True) -> Any:
    """The month's cases counted by the parts of the measures' conditions (atoms.grouped_rows): its
    ended cases from the month summary (engine.processes.fact_summary) when it is kept with this
    configuration's targets, else from their rows (month_rows); its open cases live."""
    if (use_facts and use_summary and not period.is_year
            and fact_summary.usable(session, config_targets(config))):
        live = open_rows(period, provider).cte("case_rows")
        return union_all(fact_summary.month_groups(period.label, provider),
                         grouped_select(config, period, live)).subquery("month_groups")
    return grouped_rows(config, period, month_rows(session, period, provider=provider, use_facts=use_facts))


def keep_summary(session: Session, config: EvaluationConfig) -> int | None:
    """Build the month summary with this configuration's targets, unless it is kept with them
    already or the facts are not complete; return the summary rows written, or None."""
    targets = config_targets(config)
    if not case_facts.complete(session) or fact_summary.usable(session, targets):
        return None
    return fact_summary.rebuild(session, targets)


def measure_sql(config: EvaluationConfig, period: Period, r: Any) -> dict[str, MeasureSql]:
    """The SQL definition of every measure for one period, over `case_rows` columns."""
    return measure_conditions(config, row_atoms(config, period, r))


def measure_conditions(config: EvaluationConfig, a: Atoms) -> dict[str, MeasureSql]:
    """Every measure as conditions on its parts (engine.evaluation.atoms): over one case row, or
    over a group of rows that agree on every part."""
    sla, c = config.sla, a.c
    opened, closed, done_by_end = a.opened, a.closed, a.done_by_end
    incident = c.process_key == INCIDENT
    resolved = and_(incident, closed, c.outcome.in_(RESOLVED_OUTCOMES))
    desk = and_(incident, c.source.in_(sla.service_desk_sources))
    dispatch = and_(c.process_key.in_(tuple(sla.dispatch_hours)), or_(
        c.outcome.is_(None), c.outcome.not_in(NOT_ASSIGNED_OUTCOMES))) if sla.dispatch_hours else false()
    inspection = c.process_key == INSPECTION
    inspected = c.outcome.in_(INSPECTION_DONE_OUTCOMES)
    escalated, reopened = c.escalated == 1, c.reopened == 1
    verified = or_(c.outcome.in_(DRILL_VERIFIED_OUTCOMES), c.restore_verified == true())
    return {
        "incidents_resolved": MeasureSql(and_(incident, opened), and_(
            done_by_end, c.outcome.in_(RESOLVED_OUTCOMES))),
        "incidents_resolved_in_sla": MeasureSql(resolved, a.resolve_ok),
        "incidents_responded_in_sla": MeasureSql(and_(incident, opened), a.response_ok),
        "anomaly_responded_in_sla": MeasureSql(
            and_(incident, opened, c.source == "monitoring"), a.response_ok),
        "mean_response_hours": MeasureSql(
            and_(incident, opened, a.responded), value=a.response_hours),
        "incidents_reopened": MeasureSql(resolved, reopened),
        "inspection_share": MeasureSql(and_(incident, opened), c.source == "inspection"),
        "emergency_recovered_in_sla": MeasureSql(
            and_(c.process_key == EMERGENCY, closed), a.recovery_ok),
        "drills_done": MeasureSql(and_(c.process_key == DRILL, opened), done_by_end),
        "drills_verified": MeasureSql(and_(c.process_key == DRILL, closed), verified),
        "dispatch_completed": MeasureSql(and_(dispatch, opened), done_by_end),
        "dispatch_on_time": MeasureSql(and_(dispatch, closed), a.dispatch_ok),
        "inspections_done": MeasureSql(and_(inspection, opened), and_(done_by_end, inspected)),
        "inspection_records": MeasureSql(and_(inspection, closed, inspected), c.carries_records == 1),
        "change_success": MeasureSql(
            and_(c.process_key == CHANGE, closed, c.outcome.in_(CHANGE_DONE_OUTCOMES)),
            c.outcome == "implemented"),
        "revoked_in_target": MeasureSql(and_(c.process_key == OFFBOARDING, closed), a.revoke_ok),
        "mean_rating": MeasureSql(and_(closed, a.rated), value=a.rating),
        "desk_handled": MeasureSql(and_(desk, opened), done_by_end),
        "desk_answered_in_target": MeasureSql(and_(desk, opened), a.response_ok),
        "desk_first_contact": MeasureSql(and_(desk, resolved), and_(~escalated, ~reopened)),
        "records_complete": MeasureSql(and_(closed, c.has_records == 1),
                                       c.carries_records == 1),
    }


def aggregate_columns(specs: dict[str, MeasureSql], weight: Any = None) -> list[Any]:
    """Two aggregates per measure: numerator (hits, or the sum of values) and denominator; over
    groups of rows, each counted `weight` times (grouped_rows' counts)."""
    weight = literal(1) if weight is None else weight
    columns: list[Any] = []
    for key, spec in specs.items():
        if spec.value is not None:
            numerator = func.sum(case((spec.population, spec.value), else_=None))
        else:
            assert spec.success is not None, key  # a ratio measure has a success condition
            numerator = func.sum(case((and_(spec.population, spec.success), weight), else_=0))
        columns.append(numerator.label(f"{key}__n"))
        columns.append(func.sum(case((spec.population, weight), else_=0)).label(f"{key}__d"))
    return columns


def measurement(row: Any, key: str, source: dict[str, Any] | None = None) -> Measurement:
    """Read one measure's aggregates from a result row."""
    num, den = float(row[f"{key}__n"] or 0), float(row[f"{key}__d"] or 0)
    return Measurement(num / den if den else None, num, den, source or {})


def provider_measures(session: Session, config: EvaluationConfig, period: Period, *,
                      provider: str | None = None, use_facts: bool = True,
                      use_summary: bool = True) -> dict[str, dict[str, Measurement]]:
    """Every measure for every provider (or one) in a period, in one aggregate query
    (use_facts=False: from the events, as a check of the stored facts; use_summary=False: from the
    fact rows, as a check of the month summary)."""
    # The month's cases counted by the parts of the measures' conditions, then the measures over
    # those groups: each condition once per case, not forty times.
    g = month_groups(session, config, period, provider=provider, use_facts=use_facts, use_summary=use_summary)
    specs = measure_conditions(config, group_atoms(g))
    query = (select(g.c.provider, *aggregate_columns(specs, g.c.weight))
             .where(g.c.provider.is_not(None)).group_by(g.c.provider))
    db.for_one_aggregate(session)
    result: dict[str, dict[str, Measurement]] = {}
    for row in session.execute(query).mappings():
        result[row["provider"]] = {
            key: measurement(row, key, {"measure": key, "provider": row["provider"],
                                        "period": period.label})
            for key in specs}
    return result


def months_measures(session: Session, config: EvaluationConfig, months: Sequence[Period], *,
                    provider: str | None = None, use_facts: bool = True
                    ) -> dict[str, dict[str, dict[str, Measurement]]]:
    """Every measure for every provider (or one) in each of several months, by month label, in one
    aggregate query: each month's figures as provider_measures gives them (the reports page's trend).

    The rows are those of the months' span (month_rows), each counted in every month whose window
    it is in (opened or closed in it: a case opened in March and closed in May counts in both), and
    grouped by month and by the same parts as a single month, each compared with its month's bounds."""
    if not months:
        return {}
    span = Period("span", min(m.start for m in months), max(m.end for m in months))
    # Read the span's rows once: left to itself, PostgreSQL put the months outside the join and read
    # the rows again for each month.
    r = month_rows(session, span, provider=provider, use_facts=use_facts).prefix_with("MATERIALIZED")
    when = r.c.created_at.type
    bounds = [select(literal(m.label).label("period"), literal(m.start, when).label("period_start"),
                     literal(m.end, when).label("period_end")) for m in months]
    m = (union_all(*bounds) if len(bounds) > 1 else bounds[0]).subquery("months")
    in_month = or_(and_(r.c.created_at >= m.c.period_start, r.c.created_at < m.c.period_end),
                   and_(r.c.closed_at >= m.c.period_start, r.c.closed_at < m.c.period_end))
    rows = select(r, m.c.period, m.c.period_start, m.c.period_end).join_from(r, m, in_month).subquery("month_rows")
    g = grouped_rows(config, Window(rows.c.period_start, rows.c.period_end), rows, by=(rows.c.period,))
    specs = measure_conditions(config, group_atoms(g))
    query = (select(g.c.period, g.c.provider, *aggregate_columns(specs, g.c.weight))
             .where(g.c.provider.is_not(None)).group_by(g.c.period, g.c.provider))
    db.for_one_aggregate(session)
    result: dict[str, dict[str, dict[str, Measurement]]] = {month.label: {} for month in months}
    for row in session.execute(query).mappings():
        result[row["period"]][row["provider"]] = {
            key: measurement(row, key, {"measure": key, "provider": row["provider"], "period": row["period"]})
            for key in specs}
    return result


def cases_behind(session: Session, config: EvaluationConfig, period: Period, measure: str, *,
                 provider: str | None = None, met: bool | None = None) -> Select[Case]:
    """The cases a measure was computed from (met=True/False: only those that met or missed)."""
    r = month_rows(session, period, provider=provider)
    specs = measure_sql(config, period, r)
    if measure not in specs:
        raise NotFound(said("no measure %(measure)s", measure=repr(measure)))
    spec = specs[measure]
    cond = spec.population
    if met is not None and spec.success is not None:
        met_sql = func.coalesce(spec.success, false())
        cond = and_(cond, met_sql if met else ~met_sql)
    return (select(Case).join(r, r.c.id == Case.id).where(cond)
            .order_by(Case.created_at, Case.id))


def cases_behind_page(session: Session, config: EvaluationConfig, period: Period, measure: str, *,
                      provider: str | None = None, met: bool | None = None, page: int = 1,
                      per_page: int = 100) -> tuple[list[Case], bool]:
    """One page of cases_behind, and whether more follow."""
    query = cases_behind(session, config, period, measure, provider=provider, met=met)
    rows = list(session.scalars(query.limit(per_page + 1).offset((max(1, page) - 1) * per_page)))
    return rows[:per_page], len(rows) > per_page
