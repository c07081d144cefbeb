"""Provider evaluation: supervisor inputs, monthly scorecards, the annual assessment.

Read-only computations return engine.evaluation.scoring / engine.evaluation.annual dataclasses; recording
inputs and publishing a month are use cases that write (and audit) but never commit.
Months are calendar months in UTC.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cases import services
from engine.errors import InvalidData, Name, NotAllowed, NotFound, Said, said
from engine.evaluation.annual import AnnualAssessment, assess_year
from engine.evaluation.config import EvaluationConfig, evaluation_config
from engine.evaluation.period import Period, parse_period
from engine.evaluation.provider_measures import months_measures, provider_measures
from engine.evaluation.report_data import Report, scorecard_dict
from engine.evaluation.scoring import Measurement, Scorecard, score_month
from engine.records import audit
from engine.timing import clock
from models import (
    Case,
    EvaluationConfigVersion,
    EvaluationInput,
    EvaluationScorecard,
    Provider,
)

log = logging.getLogger(__name__)


def list_providers(session: Session, name: str | None = None) -> list[Provider]:
    """Registered providers by name (only `name` if given; NotFound if unknown)."""
    query = select(Provider).order_by(Provider.name)
    if name:
        query = query.where(Provider.name == name)
    providers = list(session.scalars(query))
    if name and not providers:
        raise NotFound(said("no provider named %(name)s", name=repr(name)))
    return providers


def get_inputs(session: Session, provider: Provider, period: str) -> EvaluationInput | None:
    """The supervisor's inputs for a provider and month, or None."""
    return session.scalar(select(EvaluationInput).where(
        EvaluationInput.provider_id == provider.id, EvaluationInput.period == period))


def clean_inputs(config: EvaluationConfig, values: Mapping[str, Any]) -> dict[str, float]:
    """Check submitted values against the configured inputs; blank means no data."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, float] = {}
    known = {i.key: i for i in config.inputs}
    for key in values:
        if key not in known:
            errors.setdefault(key, []).append(said("not an evaluation input"))
    for key, spec in known.items():
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            number = float(raw)
        except (TypeError, ValueError):
            errors.setdefault(key, []).append(said("must be a number"))
            continue
        if isinstance(raw, bool) or number != number:
            errors.setdefault(key, []).append(said("must be a number"))
            continue
        if spec.type == "integer" and number != int(number):
            errors.setdefault(key, []).append(said("must be a whole number"))
            continue
        if spec.min is not None and number < spec.min:
            errors.setdefault(key, []).append(said("must be at least %(n)s", n=f"{spec.min:g}"))
        if spec.max is not None and number > spec.max:
            errors.setdefault(key, []).append(said("must be at most %(n)s", n=f"{spec.max:g}"))
        cleaned[key] = int(number) if spec.type == "integer" else number
    pairs = [("actual_person_days", "planned_person_days"),
             ("inspections_done", "inspections_planned"),
             ("inspection_records_complete", "inspections_done"),
             ("docs_on_time", "docs_due"), ("security_reports_on_time", "security_reports_due")]
    for part, whole in pairs:
        if part in cleaned and whole in cleaned and part != "actual_person_days" \
                and cleaned[part] > cleaned[whole]:
            errors.setdefault(part, []).append(said("cannot exceed %(input)s",
                                                    input=Name(known[whole].label_en, known[whole].label_zh)))
    if errors:
        raise InvalidData(said("evaluation inputs are invalid"), errors)
    return cleaned


def record_inputs(session: Session, provider_name: str, period: str, values: Mapping[str, Any],
                  *, actor: Any, comment: str = "",
                  config: EvaluationConfig | None = None) -> EvaluationInput:
    """Record (or replace) a provider's inputs for a month, with an audit event."""
    require_supervisor(actor, said("enter evaluation inputs"))
    config = config or evaluation_config(session)
    month = parse_period(period)
    if month.is_year:
        raise InvalidData(said("period: %(why)s", why=said("inputs are entered per month (YYYY-MM)")),
                          {"period": [said("inputs are entered per month (YYYY-MM)")]})
    provider = list_providers(session, provider_name)[0]
    cleaned = clean_inputs(config, values)
    row = get_inputs(session, provider, month.label)
    name = _actor_name(actor)
    before = dict(row.values) if row else None
    if row is None:
        row = EvaluationInput(provider_id=provider.id, period=month.label, values=cleaned,
                              comment=comment, entered_by=name, entered_at=clock.now())
        session.add(row)
    else:
        row.values, row.comment = cleaned, comment
        row.entered_by, row.entered_at, row.revision = name, clock.now(), row.revision + 1
    session.flush()
    audit.append_system(session, type="evaluation_input_recorded", actor=actor,
                        data={"provider": provider.name, "period": month.label,
                              "values": cleaned, "previous": before, "comment": comment})
    log.info("evaluation inputs for %s %s recorded by %s", provider.name, month.label, name)
    return row


def require_supervisor(actor: Any, action: Said, *, person: bool = False) -> None:
    """Refuse a person outside the supervisor group (a string actor is a trusted edge such as
    the CLI, unless a person is needed: opening cases needs a user)."""
    if isinstance(actor, str):
        if person:
            raise NotAllowed(said("role: a supervisor user must %(action)s", action=action))
        return
    if "supervisor" not in set(getattr(actor, "group_names", ())):
        raise NotAllowed(said("role: only the supervisor group may %(action)s", action=action))


def _actor_name(actor: Any) -> str:
    return actor if isinstance(actor, str) else getattr(actor, "name", str(actor))


def _input_source(row: EvaluationInput | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {"input_id": row.id, "entered_by": row.entered_by,
            "entered_at": row.entered_at.isoformat(), "revision": row.revision}


def latest_month(session: Session) -> str | None:
    """The latest month (YYYY-MM) in which a case was opened, up to now; None with no cases.
    The reports open on it, so a first look shows figures rather than an empty month."""
    latest = session.scalar(select(func.max(Case.created_at)).where(Case.created_at <= clock.now()))
    return f"{latest.year:04d}-{latest.month:02d}" if latest is not None else None


def _require_months(periods: Sequence[Period]) -> None:
    if any(p.is_year for p in periods):
        raise InvalidData(said("period: %(why)s", why=said("a scorecard is for a month (YYYY-MM)")),
                          {"period": [said("a scorecard is for a month (YYYY-MM)")]})


def monthly_scorecards(session: Session, period: str | Period, *, provider: str | None = None,
                       config: EvaluationConfig | None = None) -> list[Scorecard]:
    """Each registered provider's scorecard for one month (or one provider's)."""
    config = config or evaluation_config(session)
    month = parse_period(period) if isinstance(period, str) else period
    _require_months([month])
    providers = list_providers(session, provider)
    measured = provider_measures(session, config, month, provider=provider)
    return _score_months(session, config, providers, {month.label: measured})[month.label]


def trend_scorecards(session: Session, months: Sequence[Period], *, provider: str | None = None,
                     config: EvaluationConfig | None = None) -> dict[str, list[Scorecard]]:
    """Each month's scorecards, by month label, the same as monthly_scorecards gives for each: on
    SQLite from one aggregate over the months' cases (months_measures) instead of one per month,
    on PostgreSQL month by month (faster there); one query for the months' inputs."""
    config = config or evaluation_config(session)
    _require_months(months)
    providers = list_providers(session, provider)
    if session.get_bind().dialect.name == "postgresql":
        # Month by month there: each month's statement reads its rows by index and compares them
        # with constants, 2.5-3.6 s for eleven months at 1,000,000 cases, where the one pass took
        # 4.7-7 s (it pairs every row with the months, then sorts some 900,000 pairs; docs/performance.md).
        measured = {m.label: provider_measures(session, config, m, provider=provider) for m in months}
    else:
        measured = months_measures(session, config, months, provider=provider)
    return _score_months(session, config, providers, measured)


def _score_months(session: Session, config: EvaluationConfig, providers: Sequence[Provider],
                  measured: Mapping[str, Mapping[str, Mapping[str, Measurement]]]) -> dict[str, list[Scorecard]]:
    """Score each provider in each month of `measured` (month label -> provider -> measures) with
    the month's inputs."""
    inputs = {(row.period, row.provider_id): row for row in session.scalars(select(EvaluationInput).where(
        EvaluationInput.period.in_(list(measured)),
        EvaluationInput.provider_id.in_([p.id for p in providers])))}
    cards: dict[str, list[Scorecard]] = {}
    for label, by_provider in measured.items():
        cards[label] = []
        for p in providers:
            row = inputs.get((label, p.id))
            cards[label].append(score_month(config, p.name, label, by_provider.get(p.name, {}),
                                            dict(row.values) if row else {}, _input_source(row)))
    return cards


def annual_assessments(session: Session, year: str | int | Period, *,
                       provider: str | None = None,
                       config: EvaluationConfig | None = None
                       ) -> list[tuple[AnnualAssessment, list[Scorecard]]]:
    """Each provider's annual assessment with the twelve monthly scorecards behind it."""
    config = config or evaluation_config(session)
    period = year if isinstance(year, Period) else parse_period(str(year))
    if not period.is_year:
        raise InvalidData(said("period: %(why)s", why=said("the annual assessment is for a year (YYYY)")),
                          {"period": [said("the annual assessment is for a year (YYYY)")]})
    by_provider: dict[str, list[Scorecard]] = {}
    for month in period.months():
        for card in monthly_scorecards(session, month, provider=provider, config=config):
            by_provider.setdefault(card.provider, []).append(card)
    return [(assess_year(config, name, int(period.label), cards), cards)
            for name, cards in by_provider.items()]


def record_config(session: Session, config: EvaluationConfig, *, actor: Any) -> bool:
    """Keep the configuration file's text the first time it is used; audit the change."""
    if session.get(EvaluationConfigVersion, config.sha256) is not None:
        return False
    with open(config.source, encoding="utf-8") as fh:
        text = fh.read()
    name = _actor_name(actor)
    session.add(EvaluationConfigVersion(sha256=config.sha256, version=config.version,
                                        source=text, recorded_at=clock.now(),
                                        recorded_by=name))
    session.flush()
    audit.append_system(session, type="evaluation_config_recorded", actor=actor,
                        data={"version": config.version, "sha256": config.sha256,
                              "file": config.source})
    return True


def build_report(session: Session, period: str, *, provider: str | None = None,
                 config: EvaluationConfig | None = None) -> Report:
    """Monthly scorecards for YYYY-MM; for YYYY the annual assessments and their months."""
    parsed = parse_period(period)
    if not parsed.is_year:
        return Report(parsed.label, monthly_scorecards(session, parsed, provider=provider,
                                                       config=config), [])
    results = annual_assessments(session, parsed, provider=provider, config=config)
    return Report(parsed.label, [card for _, cards in results for card in cards],
                  [assessment for assessment, _ in results])


def findings_text(card: Scorecard) -> str:
    """The items below their pass marks, for the rectification case (English and Chinese)."""
    lines = []
    for key in card.below_pass_mark:
        if key == "total":
            lines.append(f"Month total {card.total:.2f} < {card.total_pass_mark:g} "
                         f"(月度总分未达标)")
            continue
        c = card.category(key)
        lines.append(f"{c.label_en} {c.score:.2f} < {c.pass_mark:g} ({c.label_zh}未达标)")
    return "\n".join(lines)


def publish_month(session: Session, period: str, *, actor: Any,
                  config: EvaluationConfig | None = None
                  ) -> list[tuple[EvaluationScorecard, Case | None]]:
    """Store the month's scorecards and open a rectification case for each provider below a
    pass mark (once per provider and month: publishing again opens no second case)."""
    require_supervisor(actor, said("publish scorecards"), person=True)
    config = config or evaluation_config(session)
    month = parse_period(period)
    if month.is_year:
        raise InvalidData(said("period: %(why)s", why=said("scorecards are published per month (YYYY-MM)")),
                          {"period": [said("scorecards are published per month (YYYY-MM)")]})
    cards = monthly_scorecards(session, month, config=config)
    record_config(session, config, actor=actor)
    name = _actor_name(actor)
    providers = {p.name: p for p in list_providers(session)}
    published = []
    for card in cards:
        provider = providers[card.provider]
        existing = session.scalar(select(EvaluationScorecard.rectification_case_id).where(
            EvaluationScorecard.provider_id == provider.id, EvaluationScorecard.period == month.label,
            EvaluationScorecard.rectification_case_id.is_not(None)).limit(1))
        case_row = None
        if card.below_pass_mark and existing is None:
            data: dict[str, Any] = {"provider": card.provider, "period": card.period,
                                    "findings": findings_text(card)}
            if card.total is not None:
                data["total_score"] = round(card.total, 2)
            case_row = services.start_case(
                session, "rectification", data, actor=actor,
                title=f"Rectification {card.provider} {card.period} (整改)")
        row = EvaluationScorecard(
            provider_id=provider.id, period=card.period, config_version=card.config_version,
            config_sha256=card.config_sha256, total=card.total, status=card.status,
            result=scorecard_dict(card), published_by=name, published_at=clock.now(),
            rectification_case_id=case_row.id if case_row else existing)
        session.add(row)
        published.append((row, case_row))
    session.flush()
    audit.append_system(session, type="evaluation_published", actor=actor, data={
        "period": month.label, "config_version": config.version, "config_sha256": config.sha256,
        "scorecards": [{"provider": card.provider, "total": row.total, "status": row.status,
                        "below_pass_mark": list(card.below_pass_mark),
                        "rectification_case": case.key if case else None}
                       for card, (row, case) in zip(cards, published, strict=False)]})
    return published
