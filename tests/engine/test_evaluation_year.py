"""A year of synthetic cases for two providers, scored and assessed, checked against figures
computed independently here from the same specifications (not from the module's SQL).

Acme is below the faults (and service-desk) pass marks in February, May and September (not
consecutive: the year passes); Bolt in April, May and June (three running: the year fails),
and Bolt's satisfaction surveys average below 80 (fails). Acme enters no inputs for December.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import pytest
from sqlalchemy import and_, false, func, select
from sqlalchemy.orm import Session

from engine import db
from engine.evaluation import metrics, provider_measures, scorecards
from engine.evaluation.atoms import config_targets
from engine.evaluation.config import load_config
from engine.evaluation.metrics import Filters
from engine.evaluation.period import month_period, parse_period
from engine.processes import case_facts, fact_summary
from models import AuditEvent, Case, CaseFact, EvaluationInput, ProcessDefinition, Provider
from tests.conftest import real_sqlite_transactions, rolled_back_session

UTC = dt.timezone.utc
YEAR = 2026
RESP = {"P1": 0.25, "P2": 0.5, "P3": 2, "P4": 4}
RES = {"P1": 2, "P2": 8, "P3": 24, "P4": 72}
BAD = {"Acme": {2, 5, 9}, "Bolt": {4, 5, 6}}
ROLLED_BACK = {"Acme": {8}, "Bolt": {5, 11}}
LATE_REVOKE = {"Acme": {6}, "Bolt": {2}}
REQUIRED = {"incident": ["diagnosis_report", "fault_record"],
            "change_request": ["change_plan", "test_record"],
            "emergency_response": ["emergency_report"],
            "backup_restore_drill": ["drill_report"], "account_offboarding": [],
            "service_request": ["work_record"], "inspection": ["inspection_report"]}
MISSED_INSPECTION = {"Acme": {8}, "Bolt": {5}}  # the month's machine-room inspection is not done in it
LATE_WORK = {"Acme": {3}, "Bolt": {3, 7}}


@dataclass
class Spec:
    """One synthetic case, with the events the measures read."""

    process: str
    provider: str
    created: dt.datetime
    closed: dt.datetime | None
    outcome: str | None
    priority: str | None = None
    data: dict = field(default_factory=dict)
    events: list[tuple] = field(default_factory=list)  # (hours, type, task[, data])
    system: str | None = None

    def at(self, hours: float) -> dt.datetime:
        return self.created + dt.timedelta(hours=hours)


def records(process: str, ok: bool = True) -> dict:
    return dict.fromkeys(REQUIRED[process], "done" if ok else "")


def incident_specs(provider: str, month: int) -> list[Spec]:
    bad = month in BAD[provider]
    out = []
    for i in range(10):
        priority = ["P1", "P2", "P3", "P4"][i % 4]
        source = ["phone", "portal", "monitoring", "inspection", "phone"][i % 5]
        created = dt.datetime(YEAR, month, 1 + 2 * i, 9, tzinfo=UTC)
        slow_response = (bad and i < 6) or (not bad and i == 0 and month % 4 == 0)
        response_h = RESP[priority] * (2.0 if slow_response else 0.5)
        slow_resolve = (bad and i < 6) or (not bad and i == 1)
        resolve_h = RES[priority] * (1.5 if slow_resolve else 0.8)
        still_open = i == 9 and month % 2 == 1
        data = {"source": source, "priority": priority,
                **records("incident", not (i == 7 and month in (2, 8)))}
        if i != 8:
            data["rating"] = 5 - i % 3
        events = [(0, "case_started", None), (response_h, "task_claimed", "diagnose")]
        if still_open:
            out.append(Spec("incident", provider, created, None, None, priority, data, events,
                            ["erp", "mail", "hr"][i % 3]))
            continue
        if slow_resolve:
            events.append((RES[priority], "case_escalated", "resolve"))
        events.append((resolve_h, "task_completed", "resolve"))
        if i == 4 and month % 3 == 0:  # the requester reopens it, then confirms the second fix
            events.append((resolve_h + 0.5, "task_completed", "confirm_resolution",
                           {"data": {"confirmation": "reopen"}}))
        events.append((resolve_h + 2, "case_closed", None))
        out.append(Spec("incident", provider, created, created + dt.timedelta(hours=resolve_h + 2),
                        "resolved", priority, data, sorted(events, key=lambda e: e[0]),
                        ["erp", "mail", "hr"][i % 3]))
    return out


def other_specs(provider: str, month: int) -> list[Spec]:
    out = []
    for j in range(3):
        created = dt.datetime(YEAR, month, 3 + 5 * j, 10, tzinfo=UTC)
        hours = 130 if (j == 2 and month in (3, 7)) else 48
        outcome = "rolled_back" if (j == 1 and month in ROLLED_BACK[provider]) else "implemented"
        data = {"change_type": "emergency" if (j == 0 and month % 2 == 0) else "normal",
                **records("change_request", not (j == 2 and month == 4))}
        events = [(0, "case_started", None), (5, "gate_approved", "cab_approval"),
                  (hours, "case_closed", None)]
        out.append(Spec("change_request", provider, created, created + dt.timedelta(hours=hours),
                        outcome, None, data, events))
    created = dt.datetime(YEAR, month, 10, 8, tzinfo=UTC)
    revoke_h = 30 if month in LATE_REVOKE[provider] else 20
    out.append(Spec("account_offboarding", provider, created,
                    created + dt.timedelta(hours=revoke_h + 4), "completed", None, {},
                    [(0, "case_started", None), (revoke_h, "task_completed", "revoke_accounts"),
                     (revoke_h + 4, "case_closed", None)]))
    if month in (3, 10):
        created = dt.datetime(YEAR, month, 12, 14, tzinfo=UTC)
        recover_h = 3 if (provider == "Bolt" and month == 10) else 1.5
        out.append(Spec("emergency_response", provider, created,
                        created + dt.timedelta(hours=recover_h + 20), "resolved", None,
                        records("emergency_response"),
                        [(0, "case_started", None), (recover_h, "task_completed", "recover"),
                         (recover_h + 20, "case_closed", None)]))
    created = dt.datetime(YEAR, month, 2, 1, tzinfo=UTC)
    if provider == "Bolt" and month == 11:
        out.append(Spec("backup_restore_drill", provider, created, None, None, None, {},
                        [(0, "case_started", None)]))
    else:
        outcome = "failed" if (provider == "Acme" and month == 6) else "verified"
        out.append(Spec("backup_restore_drill", provider, created,
                        created + dt.timedelta(hours=6), outcome, None,
                        records("backup_restore_drill"),
                        [(0, "case_started", None), (6, "case_closed", None)]))
    return out


def work_and_inspection_specs(provider: str, month: int) -> list[Spec]:
    """Four work orders a month (one declined in May, one still open in odd months, one late
    in the LATE_WORK months) and the inspections of the plan (machine rooms monthly, servers
    quarterly); Acme's August inspection is done in September, Bolt's May one never."""
    out = []
    for k, sla in enumerate((8, 24, 4, 40)):
        created = dt.datetime(YEAR, month, 4 + 6 * k, 9, tzinfo=UTC)
        if k == 3 and month % 2 == 1:
            out.append(Spec("service_request", provider, created, None, None, None,
                            {"sla_hours": sla}, [(0, "case_started", None)]))
            continue
        if k == 2 and month == 5:
            out.append(Spec("service_request", provider, created, created + dt.timedelta(hours=1),
                            "rejected", None, {"sla_hours": sla, "work_record": "declined"},
                            [(0, "case_started", None), (1, "case_closed", None)]))
            continue
        hours = sla * (1.5 if (k == 1 and month in LATE_WORK[provider]) else 0.5)
        out.append(Spec("service_request", provider, created, created + dt.timedelta(hours=hours),
                        "completed", None, {"sla_hours": sla, "rating": 4 + k % 2, "work_record": "done"},
                        [(0, "case_started", None), (hours, "case_closed", None)]))
    created = dt.datetime(YEAR, month, 1 if month != 8 else 28, 1, tzinfo=UTC)
    report = {"inspection_report": "" if (provider == "Bolt" and month == 9) else "all checked"}
    if month in MISSED_INSPECTION[provider] and provider == "Bolt":
        out.append(Spec("inspection", provider, created, None, None, None, {}, [(0, "case_started", None)]))
    else:
        done = created + dt.timedelta(days=6 if month in MISSED_INSPECTION[provider] else 2)
        out.append(Spec("inspection", provider, created, done, "completed", None, report,
                        [(0, "case_started", None)]))
    if month in (1, 4, 7, 10):
        created = dt.datetime(YEAR, month, 1, 2, tzinfo=UTC)
        out.append(Spec("inspection", provider, created, created + dt.timedelta(days=3), "completed", None,
                        {"inspection_report": "servers checked"}, [(0, "case_started", None)]))
    return out


def inputs_for(provider: str, month: int) -> dict | None:
    if provider == "Acme":
        if month == 12:
            return None
        # Acme types no inspection figures: its inspection KPIs are computed from the cases.
        values = dict(planned_person_days=20, actual_person_days=20, qualified_staff_ratio=1.0,
                      doc_grade=92, docs_due=5, docs_on_time=5, satisfaction=90,
                      vuln_scan_coverage=1.0, security_reports_due=1, security_reports_on_time=1)
        if month == 6:
            del values["satisfaction"]
        return values
    return dict(planned_person_days=20, actual_person_days=19, qualified_staff_ratio=0.9,
                inspections_planned=4, inspections_done=4, inspection_records_complete=3,
                doc_grade=80, docs_due=4, docs_on_time=4,
                satisfaction=70 if month <= 6 else 85, vuln_scan_coverage=0.95,
                security_reports_due=1, security_reports_on_time=1)


ALL_SPECS = [s for p in BAD for m in range(1, 13)
             for s in incident_specs(p, m) + other_specs(p, m) + work_and_inspection_specs(p, m)]


@pytest.fixture(scope="session")
def year_engine(tmp_path_factory):
    """A SQLite database holding the year, built once per run (per pytest-xdist worker): the
    tests only read it, and each reads it in a transaction rolled back after it."""
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('year') / 'year.db'}")
    real_sqlite_transactions(engine)
    db.upgrade(engine)
    with Session(engine) as session:
        build_year(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def year(year_engine):
    """The year on SQLite, rolled back after the test."""
    with rolled_back_session(year_engine) as session:
        yield session


@pytest.fixture
def pg_year(pg_engine):
    """The year on PostgreSQL, rolled back after the test."""
    connection = pg_engine.connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield build_year(sess)
    finally:
        sess.close()
        outer.rollback()
        connection.close()


def build_year(session):
    """Store providers, definitions, the year's cases with their events, and the inputs."""
    now = dt.datetime(YEAR, 1, 1, tzinfo=UTC)
    providers = {name: Provider(name=name, created_at=now) for name in BAD}
    session.add_all(providers.values())
    definitions = {}
    for key, fields in REQUIRED.items():
        definitions[key] = ProcessDefinition(
            key=key, version=1, name=key, filename=f"{key}.bpmn", bpmn="<definitions/>",
            extra_files=[], sha256=hashlib.sha256(key.encode()).hexdigest(),
            manifest={"process": {"key": key, "required_records": fields}}, dependencies={}, deployed_by="test",
            deployed_at=now)
    session.add_all(definitions.values())
    session.flush()
    for n, spec in enumerate(ALL_SPECS, start=1):
        case = Case(key=f"T-{n:06d}", process_key=spec.process,
                    definition_id=definitions[spec.process].id, title=f"{spec.process} {n}",
                    status="closed" if spec.closed else "open", outcome=spec.outcome,
                    priority=spec.priority, provider=spec.provider, system=spec.system,
                    data={"provider": spec.provider, **spec.data}, actors={}, state="{}",
                    serializer_version="1", created_at=spec.created,
                    updated_at=spec.closed or spec.created, closed_at=spec.closed)
        session.add(case)
        session.flush()
        for seq, (hours, kind, task, *data) in enumerate(spec.events, start=1):
            session.add(AuditEvent(chain=case.key, case_id=case.id, seq=seq, at=spec.at(hours),
                                   actor="engineer", type=kind, task=task,
                                   data=data[0] if data else {},
                                   prev_hash="", hash=f"{n}-{seq}"))
    for name, provider in providers.items():
        for month in range(1, 13):
            values = inputs_for(name, month)
            if values is not None:
                session.add(EvaluationInput(provider_id=provider.id, period=f"{YEAR}-{month:02d}",
                                            values=values, comment="", entered_by="sup",
                                            entered_at=now))
    session.flush()
    # The cases were written by hand, not ended by the engine: write their facts as the
    # migration's rebuild does, so the months below read the stored facts.
    case_facts.rebuild(session)
    return session


# -- the independent computation ---------------------------------------------------------

def in_month(when: dt.datetime | None, month: int) -> bool:
    return when is not None and when.year == YEAR and when.month == month


def first_event(spec: Spec, kinds: tuple[str, ...], task: str | None = None) -> float | None:
    hours = [h for h, k, t, *_ in spec.events if k in kinds and (task is None or t == task)]
    return min(hours) if hours else None


def frac(hits: list[bool]) -> tuple[float | None, int, int]:
    return (sum(hits) / len(hits) if hits else None, sum(hits), len(hits))


def mean(values: list[float]) -> tuple[float | None, float, int]:
    return (sum(values) / len(values) if values else None, sum(values), len(values))


def expected_measures(provider: str, month: int) -> dict[str, tuple[float | None, int, int]]:
    end = month_period(YEAR, month).end
    specs = [s for s in ALL_SPECS if s.provider == provider]
    opened = [s for s in specs if in_month(s.created, month)]
    closed = [s for s in specs if in_month(s.closed, month)]
    inc_opened = [s for s in opened if s.process == "incident"]
    inc_resolved = [s for s in closed if s.process == "incident" and s.outcome == "resolved"]
    desk_opened = [s for s in inc_opened if s.data["source"] in ("phone", "portal")]
    responded = lambda s: first_event(s, ("task_claimed", "task_completed")) <= RESP[s.priority]  # noqa: E731
    escalated = lambda s: first_event(s, ("case_escalated",)) is not None  # noqa: E731
    reopened = lambda s: any(e[2] == "confirm_resolution" and e[3:] == ({"data": {"confirmation": "reopen"}},)  # noqa: E731
                             for e in s.events)
    resolved_by_end = lambda s: s.closed is not None and s.closed < end and s.outcome == "resolved"  # noqa: E731
    drills_opened = [s for s in opened if s.process == "backup_restore_drill"]
    dispatch_opened = [s for s in opened if s.process == "service_request" and s.outcome != "rejected"]
    dispatch_closed = [s for s in closed if s.process == "service_request" and s.outcome != "rejected"]
    inspections_opened = [s for s in opened if s.process == "inspection"]
    inspections_closed = [s for s in closed if s.process == "inspection" and s.outcome == "completed"]
    with_records = [s for s in closed if REQUIRED[s.process]]
    ratings = [s.data["rating"] for s in closed if "rating" in s.data]
    return {
        "incidents_resolved": frac([resolved_by_end(s) for s in inc_opened]),
        "incidents_resolved_in_sla": frac(
            [first_event(s, ("task_completed",), "resolve") <= RES[s.priority]
             for s in inc_resolved]),
        "incidents_responded_in_sla": frac([responded(s) for s in inc_opened]),
        "anomaly_responded_in_sla": frac([responded(s) for s in inc_opened
                                          if s.data["source"] == "monitoring"]),
        "mean_response_hours": mean([first_event(s, ("task_claimed", "task_completed"))
                                     for s in inc_opened]),
        "incidents_reopened": frac([reopened(s) for s in inc_resolved]),
        "inspection_share": frac([s.data["source"] == "inspection" for s in inc_opened]),
        "emergency_recovered_in_sla": frac(
            [first_event(s, ("task_completed",), "recover") <= 2
             for s in closed if s.process == "emergency_response"]),
        "drills_done": frac([s.closed is not None and s.closed < end for s in drills_opened]),
        "drills_verified": frac([s.outcome == "verified"
                                 for s in closed if s.process == "backup_restore_drill"]),
        "revoked_in_target": frac([first_event(s, ("task_completed",), "revoke_accounts") <= 24
                                   for s in closed if s.process == "account_offboarding"]),
        "dispatch_completed": frac([s.closed is not None and s.closed < end
                                    for s in dispatch_opened]),
        "dispatch_on_time": frac([(s.closed - s.created).total_seconds() / 3600
                                  <= s.data["sla_hours"] for s in dispatch_closed]),
        "inspections_done": frac([s.closed is not None and s.closed < end and s.outcome == "completed"
                                  for s in inspections_opened]),
        "inspection_records": frac([bool(s.data.get("inspection_report")) for s in inspections_closed]),
        "change_success": frac([s.outcome == "implemented"
                                for s in closed if s.process == "change_request"]),
        "mean_rating": (sum(ratings) / len(ratings) if ratings else None, sum(ratings),
                        len(ratings)),
        "desk_handled": frac([s.closed is not None and s.closed < end for s in desk_opened]),
        "desk_answered_in_target": frac([responded(s) for s in desk_opened]),
        "desk_first_contact": frac([not escalated(s) and not reopened(s) for s in inc_resolved
                                    if s.data["source"] in ("phone", "portal")]),
        "records_complete": frac([all(s.data.get(f) for f in REQUIRED[s.process])
                                  for s in with_records]),
    }


def score(value, direction, target, floor):
    """Linear between floor (0) and target (100), clamped."""
    if direction == "higher":
        raw = (value - floor) / (target - floor)
    else:
        raw = (floor - value) / (floor - target)
    return 100 * min(1.0, max(0.0, raw))


def expected_card(provider: str, month: int):
    config = load_config()
    measures = expected_measures(provider, month)
    inputs = inputs_for(provider, month) or {}
    kpis, categories = {}, {}
    for category in config.categories:
        scored = []
        for kpi in category.kpis:
            typed = kpi.override and all(inputs.get(f) is not None for f in kpi.override)
            if kpi.metric and typed:  # the supervisor's figures override the computed ones
                num, den = inputs[kpi.override[0]], inputs[kpi.override[-1]]
                value = (num / den if den else None) if len(kpi.override) == 2 else num
            elif kpi.metric:
                value = measures[kpi.metric][0]
            elif len(kpi.input) == 2:
                num, den = inputs.get(kpi.input[0]), inputs.get(kpi.input[1])
                value = num / den if num is not None and den else None
            else:
                value = inputs.get(kpi.input[0])
            kpis[kpi.key] = value if value is None else score(value, kpi.direction, kpi.target,
                                                              kpi.floor)
            if value is not None:
                scored.append((kpi.weight, kpis[kpi.key]))
        categories[category.key] = (sum(w * s for w, s in scored) / sum(w for w, _ in scored)
                                    if scored else None)
    weighted = [(c.weight, categories[c.key]) for c in config.categories
                if categories[c.key] is not None]
    total = sum(w * s for w, s in weighted) / sum(w for w, _ in weighted)
    return measures, kpis, categories, total


# -- the checks --------------------------------------------------------------------------

@pytest.mark.parametrize("month", range(1, 13))
def test_every_measure_kpi_category_and_total_match_the_independent_figures(year, month):
    check_month(year, month)


@pytest.mark.postgres
def test_postgresql_gives_the_same_figures_and_verdicts(pg_year):
    for month in range(1, 13):
        check_month(pg_year, month)
    results = {a.provider: a.verdict for a, _ in scorecards.annual_assessments(pg_year, "2026")}
    assert results == {"Acme": "pass", "Bolt": "fail"}


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_stored_facts_give_exactly_what_the_events_give(request, db):
    """Every measure of every provider and month, from case_fact and live open cases, against the
    direct reading of the cases and their events; and the facts match the events case by case."""
    session = request.getfixturevalue("year" if db == "sqlite" else "pg_year")
    config = load_config()
    assert case_facts.complete(session)
    # The month summary with the shipped targets (on PostgreSQL a test that commits may have emptied it).
    provider_measures.keep_summary(session, config)
    assert fact_summary.usable(session, config_targets(config)) and fact_summary.differences(session) == []
    for month in range(1, 13):
        period = parse_period(f"{YEAR}-{month:02d}")
        fast = provider_measures.provider_measures(session, config, period)  # the summary and the open cases
        from_rows = provider_measures.provider_measures(session, config, period, use_summary=False)
        direct = provider_measures.provider_measures(session, config, period, use_facts=False)
        for reading in (fast, from_rows):
            assert set(reading) == set(direct) and all(set(reading[p]) == set(direct[p]) for p in reading), month
            for provider, measures in direct.items():
                for key, want in measures.items():
                    got = reading[provider][key]  # sums may add in another order: equal to the last bits
                    assert (got.denominator, got.source) == (want.denominator, want.source), (month, provider, key)
                    assert got.numerator == pytest.approx(want.numerator, rel=1e-12), (month, provider, key)
                    assert got.value == (None if want.value is None else pytest.approx(want.value, rel=1e-12))
        # The measures are aggregated over groups of cases (engine.evaluation.atoms): the same
        # figures as the forty conditions evaluated case by case.
        for use_facts in (True, False):
            r = provider_measures.month_rows(session, period, use_facts=use_facts)
            by_case = provider_measures.aggregate_columns(provider_measures.measure_sql(config, period, r))
            rows = session.execute(select(r.c.provider, *by_case).where(r.c.provider.is_not(None))
                                   .group_by(r.c.provider)).mappings().all()
            grouped = fast if use_facts else direct
            assert {row["provider"] for row in rows} == set(grouped), month
            for row in rows:
                for key, got in grouped[row["provider"]].items():
                    want = provider_measures.measurement(row, key)
                    assert got.denominator == want.denominator, (month, row["provider"], key)
                    assert got.numerator == pytest.approx(want.numerator, rel=1e-12), (month, row["provider"], key)
        for filters in (Filters(), Filters(provider="Acme"), Filters(system="erp")):
            assert metrics.hot_spots(session, config, period, filters, use_facts=True) == \
                metrics.hot_spots(session, config, period, filters), (month, filters)
        for measure in ("incidents_resolved_in_sla", "records_complete", "desk_first_contact"):
            for met in (True, False, None):
                ids = [c.id for c in session.scalars(provider_measures.cases_behind(
                    session, config, period, measure, provider="Acme", met=met))]
                window = and_(provider_measures.window_condition(period), Case.provider == "Acme")
                r = provider_measures.case_rows(session, window)
                spec = provider_measures.measure_sql(config, period, r)[measure]
                cond = spec.population if met is None else and_(
                    spec.population, func.coalesce(spec.success, false()) if met
                    else ~func.coalesce(spec.success, false()))
                expected = list(session.scalars(select(Case.id).join(r, r.c.id == Case.id).where(cond)
                                                .order_by(Case.created_at, Case.id)))
                assert ids == expected, (month, measure, met)
    deployed = case_facts.manifests(session)
    ended = case_facts.rows_select(Case.status != "open", case_facts.task_roles(deployed), deployed).subquery()
    stored = select(*(getattr(CaseFact, c) for c in case_facts.FACT_COLUMNS)).order_by(CaseFact.case_id)
    assert session.execute(stored).all() == session.execute(select(ended).order_by(ended.c.id)).all()
    assert session.scalar(select(func.count()).select_from(CaseFact)) == sum(1 for s in ALL_SPECS if s.closed)


def check_month(session, month):
    """Compare one month's scorecards with the independent figures."""
    config = load_config()
    cards = {c.provider: c for c in scorecards.monthly_scorecards(session, f"{YEAR}-{month:02d}")}
    assert set(cards) == {"Acme", "Bolt"}
    for provider, card in cards.items():
        measures, kpis, categories, total = expected_card(provider, month)
        assert set(measures) == set(card.measures)  # every measure is checked
        for key, (value, num, den) in measures.items():
            got = card.measures[key]
            assert got.numerator == pytest.approx(num) and got.denominator == den, (
                provider, month, key)
            assert got.value == (pytest.approx(value) if value is not None else None), key
        for key, expected in kpis.items():
            kpi = card.kpi(key)
            if expected is None:
                assert kpi.status == "no_data" and kpi.score is None, (provider, month, key)
            else:
                assert kpi.score == pytest.approx(expected), (provider, month, key)
        for category in config.categories:
            got = card.category(category.key)
            expected = categories[category.key]
            if expected is None:
                assert got.score is None and got.status == "no_data"
            else:
                assert got.score == pytest.approx(expected), (provider, month, category.key)
                assert got.status == ("pass" if round(expected, 6) >= category.pass_mark else "fail"), (provider, month, category.key, expected)
        assert card.total == pytest.approx(total)
        assert card.status == ("pass" if round(total, 6) >= config.total_pass_mark else "fail")


def test_faults_fall_below_the_pass_mark_exactly_in_the_bad_months(year):
    for month in range(1, 13):
        for card in scorecards.monthly_scorecards(year, f"{YEAR}-{month:02d}"):
            below = card.category("faults").status == "fail"
            assert below == (month in BAD[card.provider]), (card.provider, month)


def test_no_data_is_never_zero_or_hundred(year):
    acme = scorecards.monthly_scorecards(year, f"{YEAR}-12", provider="Acme")[0]
    assert acme.category("basic").status == "no_data"
    assert acme.category("basic").score is None
    assert acme.kpi("emergency_recovered").status == "no_data"
    assert acme.kpi("emergency_recovered").score is None
    assert any("Emergencies recovered" in n.en for n in acme.notes)
    march = scorecards.monthly_scorecards(year, f"{YEAR}-03", provider="Acme")[0]
    assert march.kpi("emergency_recovered").score == 100


def test_annual_three_running_fail_three_apart_pass(year):
    results = {a.provider: a for a, _ in scorecards.annual_assessments(year, str(YEAR))}
    acme, bolt = results["Acme"], results["Bolt"]
    acme_faults = next(i for i in acme.items if i.key == "faults")
    assert acme_faults.status == "pass"
    assert acme_faults.months == ("2026-02", "2026-05", "2026-09")
    bolt_faults = next(i for i in bolt.items if i.key == "faults")
    assert bolt_faults.status == "fail"
    assert bolt_faults.months == ("2026-04", "2026-05", "2026-06")
    assert "2026-04 to 2026-06" in bolt_faults.message_en
    assert acme.verdict == "pass"
    assert bolt.verdict == "fail"
    # The bad months hit the service desk (same incidents) and the month total as well.
    assert {i.key for i in bolt.failed} == {"faults", "service_desk", "total", "satisfaction"}
    assert next(i for i in bolt.items if i.key == "service_desk").months == (
        "2026-04", "2026-05", "2026-06")
    satisfaction = next(i for i in bolt.items if i.key == "satisfaction")
    assert satisfaction.value == pytest.approx((70 * 6 + 85 * 6) / 12)
    assert satisfaction.months == tuple(f"2026-{m:02d}" for m in range(1, 7))
    acme_satisfaction = next(i for i in acme.items if i.key == "satisfaction")
    assert acme_satisfaction.value == pytest.approx(90)  # June and December had no survey


def test_annual_records_and_workload_use_the_year_sums(year):
    results = {a.provider: a for a, _ in scorecards.annual_assessments(year, str(YEAR))}
    for provider, result in results.items():
        present = required = 0
        for month in range(1, 13):
            _, num, den = expected_measures(provider, month)["records_complete"]
            present, required = present + num, required + den
        item = next(i for i in result.items if i.key == "records")
        assert item.value == pytest.approx(present / required)
    workload = next(i for i in results["Bolt"].items if i.key == "workload")
    assert workload.value == pytest.approx(19 / 20) and workload.status == "pass"



def test_drill_down_lists_exactly_the_cases_behind_a_kpi(year):
    from engine.evaluation.provider_measures import cases_behind
    config, april = load_config(), month_period(YEAR, 4)
    _, met, population = expected_measures("Bolt", 4)["incidents_resolved_in_sla"]
    def keys(met_filter):
        return year.scalars(cases_behind(year, config, april, "incidents_resolved_in_sla",
                                         provider="Bolt", met=met_filter)).all()
    assert len(keys(None)) == population
    assert len(keys(True)) == met
    missed = keys(False)
    assert len(missed) == population - met == 6  # the six slow ones of a bad month
    assert all(c.provider == "Bolt" and c.process_key == "incident" for c in missed)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("use_facts", [True, False])
def test_the_trend_gives_each_month_what_the_month_evaluation_gives(request, db, use_facts):
    """The reports page's trend reads the year's months in one aggregate (months_measures): every
    measure of every provider and month equals the month's own evaluation, and so every scorecard;
    a case opened in one month and closed in another counts in both, as each month counts it."""
    session = request.getfixturevalue("year" if db == "sqlite" else "pg_year")
    config = load_config()
    months = [month_period(YEAR, m) for m in range(1, 13)]
    together = provider_measures.months_measures(session, config, months, use_facts=use_facts)
    assert list(together) == [m.label for m in months]
    for month in months:
        alone = provider_measures.provider_measures(session, config, month, use_facts=use_facts)
        assert set(together[month.label]) == set(alone) == {"Acme", "Bolt"}, month.label
        for provider, measures in alone.items():
            assert set(together[month.label][provider]) == set(measures)
            for key, want in measures.items():
                got = together[month.label][provider][key]  # sums may add in another order
                assert (got.denominator, got.source) == (want.denominator, want.source), (month.label, provider, key)
                assert got.numerator == pytest.approx(want.numerator, rel=1e-12), (month.label, provider, key)
                assert got.value == (None if want.value is None else pytest.approx(want.value, rel=1e-12))
    # Months that straddle a case's opening and closing (Acme's August inspection is done in
    # September), one provider, and a part of the year, as the page asks for them.
    for provider, labels in ((None, months[7:9]), ("Bolt", months[:5]), ("Acme", months[11:])):
        cards = scorecards.trend_scorecards(session, labels, provider=provider, config=config)
        assert list(cards) == [m.label for m in labels]
        for month in labels:
            want = scorecards.monthly_scorecards(session, month, provider=provider, config=config)
            got = cards[month.label]
            assert [c.provider for c in got] == [c.provider for c in want]
            for g, w in zip(got, want, strict=True):
                assert (g.status, g.below_pass_mark, g.inputs) == (w.status, w.below_pass_mark, w.inputs)
                assert g.total == pytest.approx(w.total, rel=1e-12)
                assert [(c.key, c.status) for c in g.categories] == [(c.key, c.status) for c in w.categories]
                for gc, wc in zip(g.categories, w.categories, strict=True):
                    assert gc.score == (None if wc.score is None else pytest.approx(wc.score, rel=1e-12))
