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

from collections.abc import Mapping
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
)
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.evaluation.config import EvaluationConfig
from engine.evaluation.period import Period
from engine.evaluation.scoring import Measurement
from engine.evaluation.sqlfuncs import hours_between
from engine.processes.manifest import Manifest
from models import AuditEvent, Case, ProcessDefinition

# Conventions of the shipped process pack (workflows/); see the module docstring.
INCIDENT, CHANGE, EMERGENCY = "incident", "change_request", "emergency_response"
OFFBOARDING, DRILL, INSPECTION = "account_offboarding", "backup_restore_drill", "inspection"
RESPONSE_EVENTS = ("task_claimed", "task_completed", "gate_approved", "gate_rejected",
                   "gate_reworked")
# Which tasks stand for what: a user task says so with its `measure` property (docs/bpmn.md);
# these element ids count too, for versions deployed before the property existed.
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "resolution": ("resolve", "resolve_incident", "resolution"),
    "recovery": ("recover", "recover_service", "recovery"),
    "revocation": ("revoke", "revoke_accounts", "revoke_access"),
    "escalation": ("escalate", "call_experts", "escalate_revocation"),
    "confirmation": ("confirm_resolution",),
}
ESCALATED_EVENTS = ("case_escalated",)
REOPENED_EVENTS = ("case_reopened",)
# Only these events matter to the measures; the others (starts, closes, timers...) are skipped.
EVENTS_READ = tuple(sorted({*RESPONSE_EVENTS, "task_completed", *ESCALATED_EVENTS,
                            *REOPENED_EVENTS}))
# The incident's confirmation task: {"confirmation": "reopen"} sends it back to diagnosis.
REOPEN_FIELD, REOPEN_VALUE = "confirmation", "reopen"
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


def manifests(session: Session) -> list[tuple[int, Manifest]]:
    """(definition id, manifest) of every deployed version: what the measures read of them."""
    rows = session.execute(select(ProcessDefinition.id, ProcessDefinition.manifest))
    return [(definition_id, Manifest.from_dict(raw)) for definition_id, raw in rows]


def task_roles(deployed: list[tuple[int, Manifest]]) -> dict[str, tuple[str, ...]]:
    """The task element ids standing for each measure role: those a deployed version declares
    with its `measure` property, and the DEFAULT_ROLES ids (`deployed` from manifests)."""
    roles = {role: set(ids) for role, ids in DEFAULT_ROLES.items()}
    for _definition_id, manifest in deployed:
        for element, rules in manifest.tasks.items():
            if rules.measure in roles:
                roles[rules.measure].add(element)
    return {role: tuple(sorted(ids)) for role, ids in roles.items()}


def events_subquery(window: ColumnElement[bool], roles: dict[str, tuple[str, ...]]) -> Any:
    """Per case of the window: first response, resolve/recover/revoke times, escalated, reopened
    (`roles` from task_roles)."""
    ev = AuditEvent
    def first(cond: ColumnElement[bool]) -> Any:
        return func.min(case((cond, ev.at), else_=None))
    def flag(cond: ColumnElement[bool]) -> Any:
        return func.max(case((cond, 1), else_=0))
    done = ev.type == "task_completed"
    # A task_completed event's data is {"task_id", "name", "data": the submitted form}.
    reopen = and_(done, ev.task.in_(roles["confirmation"]),
                  ev.data[("data", REOPEN_FIELD)].as_string() == REOPEN_VALUE)
    return (
        select(
            ev.case_id.label("case_id"),
            first(ev.type.in_(RESPONSE_EVENTS)).label("responded_at"),
            first(and_(done, ev.task.in_(roles["resolution"]))).label("resolved_at"),
            first(and_(done, ev.task.in_(roles["recovery"]))).label("recovered_at"),
            first(and_(done, ev.task.in_(roles["revocation"]))).label("revoked_at"),
            flag(or_(ev.type.in_(ESCALATED_EVENTS),
                     and_(done, ev.task.in_(roles["escalation"])))).label("escalated"),
            flag(or_(ev.type.in_(REOPENED_EVENTS), reopen)).label("reopened"),
        )
        .join(Case, Case.id == ev.case_id)
        .where(window, ev.type.in_(EVENTS_READ))
        .group_by(ev.case_id)
        .subquery("ev")
    )


def window_condition(period: Period) -> ColumnElement[bool]:
    """Cases opened or closed in the period: every measure's population is among them."""
    return or_(and_(Case.created_at >= period.start, Case.created_at < period.end),
               and_(Case.closed_at >= period.start, Case.closed_at < period.end))


def _by_priority(priority: Any, hours: Mapping[str, float], default: str) -> ColumnElement[Any]:
    return case(*((priority == p, literal(h)) for p, h in hours.items()),
                else_=literal(hours[default]))


def _by_process(process: Any, hours: Mapping[str, float]) -> ColumnElement[Any]:
    if not hours:
        return literal(None)
    return case(*((process == p, literal(h)) for p, h in hours.items()), else_=None)


def _text(field: str) -> ColumnElement[Any]:
    return Case.data[field].as_string()


@dataclass(frozen=True)
class RecordRule:
    """Fields a closed case must carry: for one outcome, or for every outcome but some."""

    fields: tuple[str, ...]
    outcome: str | None = None
    except_outcomes: tuple[str, ...] = ()


def record_rules(manifest: Manifest) -> list[RecordRule]:
    """The required-records rules of a definition's manifest.

    A process declares the records every case owes (`required_records` on the process); an
    end event that declares its own replaces them for the outcome it gives (a rejection
    path may owe fewer, as engine.cases.runtime enforces at closing).
    """
    base = manifest.process.required_records
    by_outcome: dict[str, tuple[str, ...]] = {}
    for end in manifest.end_events.values():
        if end.outcome and end.required_records is not None:
            by_outcome[end.outcome] = end.required_records
    rules = [RecordRule(f, outcome=o) for o, f in by_outcome.items() if f]
    if base:
        rules.append(RecordRule(tuple(base), except_outcomes=tuple(by_outcome)))
    return rules


def records_condition(deployed: list[tuple[int, Manifest]]) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(has required records, carries them all), from every definition's manifest."""
    has: list[ColumnElement[bool]] = []
    carries: list[ColumnElement[bool]] = []
    for definition_id, manifest in deployed:
        for rule in record_rules(manifest):
            which = Case.definition_id == definition_id
            if rule.outcome is not None:
                which = and_(which, Case.outcome == rule.outcome)
            elif rule.except_outcomes:
                which = and_(which, or_(Case.outcome.is_(None),
                                        Case.outcome.not_in(rule.except_outcomes)))
            has.append(which)
            present = [func.coalesce(func.trim(_text(f)), "") != "" for f in rule.fields]
            carries.append(and_(which, *present))
    if not has:
        return false(), false()
    return or_(*has), or_(*carries)


def case_rows(session: Session, window: ColumnElement[bool]) -> Any:
    """The window's cases, one row each, with the data fields and event times the measures
    read (the one row source of the aggregates and of the drill-down lists)."""
    deployed = manifests(session)
    ev = events_subquery(window, task_roles(deployed))
    has_records, carries_records = records_condition(deployed)
    rows = (
        select(
            Case.id, Case.provider, Case.process_key, Case.status, Case.outcome,
            Case.priority, Case.created_at, Case.closed_at, Case.sla_paused_seconds,
            _text("source").label("source"),
            Case.data["rating"].as_float().label("rating"),
            Case.data["sla_hours"].as_float().label("sla_hours"),
            Case.data["restore_verified"].as_boolean().label("restore_verified"),
            case((has_records, 1), else_=0).label("has_records"),
            case((carries_records, 1), else_=0).label("carries_records"),
            ev.c.responded_at, ev.c.resolved_at, ev.c.recovered_at, ev.c.revoked_at,
            func.coalesce(ev.c.escalated, 0).label("escalated"),
            func.coalesce(ev.c.reopened, 0).label("reopened"),
        )
        .outerjoin(ev, ev.c.case_id == Case.id)
        .where(window)
        .cte("case_rows")
    )
    return rows


def measure_sql(config: EvaluationConfig, period: Period, r: Any) -> dict[str, MeasureSql]:
    """The SQL definition of every measure for one period, over `case_rows` columns."""
    sla, c = config.sla, r.c
    opened = and_(c.created_at >= period.start, c.created_at < period.end)
    closed = and_(c.status == "closed", c.closed_at >= period.start, c.closed_at < period.end)
    done_by_end = and_(c.status == "closed", c.closed_at < period.end)
    incident = c.process_key == INCIDENT
    resolved = and_(incident, closed, c.outcome.in_(RESOLVED_OUTCOMES))
    response_ok = and_(c.responded_at.is_not(None), hours_between(
        c.created_at, c.responded_at) <= _by_priority(c.priority, sla.response_hours,
                                                      sla.default_priority))
    # Pending time (waiting on the requester, engine.timing.timers) does not count against resolution.
    resolve_ok = hours_between(c.created_at, func.coalesce(c.resolved_at, c.closed_at)
                               ) - c.sla_paused_seconds / 3600.0 <= _by_priority(c.priority, sla.resolve_hours,
                                                                                  sla.default_priority)
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
        "incidents_resolved_in_sla": MeasureSql(resolved, resolve_ok),
        "incidents_responded_in_sla": MeasureSql(and_(incident, opened), response_ok),
        "anomaly_responded_in_sla": MeasureSql(
            and_(incident, opened, c.source == "monitoring"), response_ok),
        "mean_response_hours": MeasureSql(
            and_(incident, opened, c.responded_at.is_not(None)),
            value=hours_between(c.created_at, c.responded_at)),
        "incidents_reopened": MeasureSql(resolved, reopened),
        "inspection_share": MeasureSql(and_(incident, opened), c.source == "inspection"),
        "emergency_recovered_in_sla": MeasureSql(
            and_(c.process_key == EMERGENCY, closed),
            hours_between(c.created_at, func.coalesce(c.recovered_at, c.closed_at))
            <= sla.emergency_recover_hours),
        "drills_done": MeasureSql(and_(c.process_key == DRILL, opened), done_by_end),
        "drills_verified": MeasureSql(and_(c.process_key == DRILL, closed), verified),
        "dispatch_completed": MeasureSql(and_(dispatch, opened), done_by_end),
        "dispatch_on_time": MeasureSql(and_(dispatch, closed), hours_between(
            c.created_at, func.coalesce(c.resolved_at, c.closed_at)) - c.sla_paused_seconds / 3600.0
            <= func.coalesce(c.sla_hours, _by_process(c.process_key, sla.dispatch_hours))),
        "inspections_done": MeasureSql(and_(inspection, opened), and_(done_by_end, inspected)),
        "inspection_records": MeasureSql(and_(inspection, closed, inspected), c.carries_records == 1),
        "change_success": MeasureSql(
            and_(c.process_key == CHANGE, closed, c.outcome.in_(CHANGE_DONE_OUTCOMES)),
            c.outcome == "implemented"),
        "revoked_in_target": MeasureSql(
            and_(c.process_key == OFFBOARDING, closed),
            hours_between(c.created_at, func.coalesce(c.revoked_at, c.closed_at))
            <= sla.revoke_hours),
        "mean_rating": MeasureSql(and_(closed, c.rating.is_not(None)), value=c.rating),
        "desk_handled": MeasureSql(and_(desk, opened), done_by_end),
        "desk_answered_in_target": MeasureSql(and_(desk, opened), response_ok),
        "desk_first_contact": MeasureSql(and_(desk, resolved), and_(~escalated, ~reopened)),
        "records_complete": MeasureSql(and_(closed, c.has_records == 1),
                                       c.carries_records == 1),
    }


def aggregate_columns(specs: dict[str, MeasureSql]) -> list[Any]:
    """Two aggregates per measure: numerator (hits, or the sum of values) and denominator."""
    columns: list[Any] = []
    for key, spec in specs.items():
        if spec.value is not None:
            numerator = func.sum(case((spec.population, spec.value), else_=None))
        else:
            assert spec.success is not None, key  # a ratio measure has a success condition
            numerator = func.sum(case((and_(spec.population, spec.success), 1), else_=0))
        columns.append(numerator.label(f"{key}__n"))
        columns.append(func.sum(case((spec.population, 1), else_=0)).label(f"{key}__d"))
    return columns


def measurement(row: Any, key: str, source: dict[str, Any] | None = None) -> Measurement:
    """Read one measure's aggregates from a result row."""
    num, den = float(row[f"{key}__n"] or 0), float(row[f"{key}__d"] or 0)
    return Measurement(num / den if den else None, num, den, source or {})


def provider_measures(session: Session, config: EvaluationConfig, period: Period, *,
                      provider: str | None = None) -> dict[str, dict[str, Measurement]]:
    """Every measure for every provider (or one) in a period, in one aggregate query."""
    window = window_condition(period)
    if provider is not None:
        window = and_(window, Case.provider == provider)
    r = case_rows(session, window)
    specs = measure_sql(config, period, r)
    query = (select(r.c.provider, *aggregate_columns(specs))
             .where(r.c.provider.is_not(None)).group_by(r.c.provider))
    result: dict[str, dict[str, Measurement]] = {}
    for row in session.execute(query).mappings():
        result[row["provider"]] = {
            key: measurement(row, key, {"measure": key, "provider": row["provider"],
                                        "period": period.label})
            for key in specs}
    return result


def cases_behind(session: Session, config: EvaluationConfig, period: Period, measure: str, *,
                 provider: str | None = None, met: bool | None = None) -> Select[Case]:
    """The cases a measure was computed from (met=True/False: only those that met or missed)."""
    window = window_condition(period)
    if provider is not None:
        window = and_(window, Case.provider == provider)
    r = case_rows(session, window)
    specs = measure_sql(config, period, r)
    if measure not in specs:
        raise NotFound(f"no measure {measure!r}")
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
