"""Process metrics for a period, filtered: counts, percentiles, gates, hot spots."""
import datetime as dt
import hashlib

import pytest

from engine.evaluation.config import load_config
from engine.evaluation.metrics import Filters, process_metrics
from engine.evaluation.period import parse_period
from models import AuditEvent, Case, HumanTask, ProcessDefinition
from tests.conftest import rolled_back_session

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_session(request, session):
    """The default session, and a rolled-back PostgreSQL session (same SQL, both databases)."""
    if request.param == "sqlite":
        yield session
        return
    with rolled_back_session(request.getfixturevalue("pg_engine")) as sess:
        yield sess


@pytest.fixture
def add_case(db_session):
    session = db_session
    definitions = {}
    counter = iter(range(1, 10_000))

    def add(process="incident", *, hours=None, created=T0, events=(), required=(), **fields):
        if process not in definitions:
            definitions[process] = ProcessDefinition(
                key=process, version=1, name=process, filename=f"{process}.bpmn", bpmn="<d/>",
                extra_files=[], sha256=hashlib.sha256(process.encode()).hexdigest(),
                manifest={"process": {"key": process, "required_records": list(required)}}, dependencies={},
                deployed_by="t", deployed_at=T0)
            session.add(definitions[process])
            session.flush()
        n = next(counter)
        closed = created + dt.timedelta(hours=hours) if hours is not None else None
        data = fields.pop("data", {})
        case = Case(key=f"M-{n:05d}", process_key=process,
                    definition_id=definitions[process].id, title="t",
                    status=fields.pop("status", "closed" if closed else "open"),
                    outcome=fields.pop("outcome", "resolved" if closed else None),
                    data=data, actors={}, state="{}", serializer_version="1", created_at=created,
                    updated_at=closed or created, closed_at=closed, **fields)
        session.add(case)
        session.flush()
        ready = created
        for seq, (h, kind, task) in enumerate(events, start=1):
            at = created + dt.timedelta(hours=h)
            data: dict = {}
            if kind.startswith("gate_"):  # the gate's task row: ready since the previous step
                task_id = f"{n}-{seq}"
                session.add(HumanTask(id=task_id, case_id=case.id, element_id=task, name=task,
                                      candidate_groups=["cab"], state="completed",
                                      created_at=ready, ended_at=at))
                data = {"task_id": task_id}
            session.add(AuditEvent(chain=case.key, case_id=case.id, seq=seq, at=at, actor="a",
                                   type=kind, task=task, data=data, prev_hash="",
                                   hash=f"{n}.{seq}"))
            ready = at
        session.flush()
        return case

    return add


def test_counts_backlog_and_nearest_rank_cycle_times(db_session, add_case):
    session = db_session
    for hours in (1, 2, 3, 4, 10):
        add_case(hours=hours, provider="Acme", priority="P3", data={"source": "phone"},
                 system="erp")
    add_case(provider="Acme", priority="P3", data={"source": "portal"}, system="mail")  # open
    add_case(created=T0 - dt.timedelta(days=40), provider="Acme")  # open since February
    add_case(hours=5, provider="Bolt", priority="P1", data={"source": "monitoring"})
    add_case(created=T0 + dt.timedelta(days=40), hours=1, provider="Acme")  # April
    metrics = process_metrics(session, load_config(), parse_period("2026-03"))
    assert (metrics.opened, metrics.closed, metrics.backlog) == (7, 6, 2)
    # Closed durations 1,2,3,4,5,10: nearest-rank median = 3rd = 3, p90 = 6th = 10.
    assert metrics.cycle_time.count == 6
    assert metrics.cycle_time.median_hours == pytest.approx(3)
    assert metrics.cycle_time.p90_hours == pytest.approx(10)
    assert metrics.hot_spots == [{"system": "erp", "contacts": 5}, {"system": "mail", "contacts": 1}]
    acme = process_metrics(session, load_config(), parse_period("2026-03"),
                           Filters(provider="Acme", priority="P3"))
    assert (acme.opened, acme.closed, acme.backlog) == (6, 5, 1)


def test_sla_ratios_changes_and_gate_lead_times(db_session, add_case):
    session = db_session
    # P2: respond within 0.5 h, resolve within 8 h.
    add_case(hours=9, priority="P2", events=[(0.25, "task_claimed", "diagnose"),
                                              (6, "task_completed", "resolve")])
    add_case(hours=9, priority="P2", events=[(1, "task_claimed", "diagnose"),
                                              (7.5, "case_escalated", None),
                                              (8.5, "task_completed", "resolve")])
    add_case("change_request", hours=50, outcome="implemented",
             data={"change_type": "emergency"},
             events=[(0, "case_started", None), (4, "gate_approved", "cab_approval")])
    add_case("change_request", hours=60, outcome="rolled_back", data={"change_type": "normal"},
             events=[(0, "case_started", None), (2, "gate_approved", "cab_approval"),
                     (3, "gate_approved", "finance_approval")])
    add_case("change_request", hours=1, outcome="rejected", data={"change_type": "normal"},
             events=[(0, "case_started", None), (1, "gate_rejected", "cab_approval")])
    m = process_metrics(session, load_config(), parse_period("2026-03"))
    assert (m.ratios["response_within_sla"].numerator,
            m.ratios["response_within_sla"].denominator) == (1, 2)
    assert m.ratios["resolution_within_sla"].value == pytest.approx(0.5)
    assert m.escalations == 1
    assert m.ratios["change_success"].value == pytest.approx(0.5)  # rejected is not counted
    assert m.change_rollback_rate.value == pytest.approx(0.5)
    assert m.emergency_change_share.value == pytest.approx(1 / 3)
    gates = {g.gate: g for g in m.gates}
    assert gates["cab_approval"].decisions == 3
    assert (gates["cab_approval"].approved, gates["cab_approval"].rejected) == (2, 1)
    assert gates["cab_approval"].median_hours == pytest.approx(2)  # 1, 2, 4
    assert gates["finance_approval"].median_hours == pytest.approx(1)


def test_the_resolution_is_the_task_a_version_declares(db_session, add_case):
    # P1 resolves within 2 hours; both cases close after 5. A renamed resolution task counts
    # once its version declares `measure` = resolution; an undeclared task does not.
    declared = add_case(hours=5, priority="P1", events=[(1, "task_completed", "fix_it")])
    add_case(hours=5, priority="P1", events=[(1, "task_completed", "tidy_up")])
    declared.definition.manifest = {"tasks": {"fix_it": {"measure": "resolution"}}}
    db_session.flush()
    ratio = process_metrics(db_session, load_config(), parse_period("2026-03")).ratios["resolution_within_sla"]
    assert (ratio.numerator, ratio.denominator) == (1, 2)


def test_no_cases_gives_no_data_not_zero(session):
    m = process_metrics(session, load_config(), parse_period("2026-03"))
    assert m.opened == 0 and m.cycle_time.median_hours is None
    assert m.ratios["resolution_within_sla"].value is None
    assert m.ratios["mean_rating"].value is None


def test_required_records_can_depend_on_the_outcome():
    from engine.processes.case_facts import RecordRule, record_rules
    from engine.processes.manifest import Manifest
    manifest = Manifest.from_dict({"process": {"required_records": ["change_plan"]},
                "end_events": {"done": {"outcome": "implemented",
                                        "required_records": ["change_plan", "implementation_record"]},
                               "no": {"outcome": "rejected", "required_records": []},
                               "back": {"outcome": "rolled_back"}}})
    assert record_rules(manifest) == [
        RecordRule(("change_plan", "implementation_record"), outcome="implemented"),
        RecordRule(("change_plan",), except_outcomes=("implemented", "rejected"))]
    assert record_rules(Manifest.from_dict({"process": {"required_records": []}})) == []


def test_records_complete_counts_outcome_specific_records(db_session, add_case):
    session = db_session
    from engine.evaluation.config import load_config as config
    from engine.evaluation.provider_measures import provider_measures
    add_case("change_request", hours=2, outcome="implemented", provider="Acme",
             data={"change_plan": "p", "implementation_record": "r"})
    add_case("change_request", hours=2, outcome="implemented", provider="Acme",
             data={"change_plan": "p"})  # misses the implementation record
    add_case("change_request", hours=2, outcome="rolled_back", provider="Acme",
             data={"change_plan": "p"})
    session.execute(ProcessDefinition.__table__.update().values(manifest={
        "process": {"required_records": ["change_plan"]},
        "end_events": {"done": {"outcome": "implemented",
                                "required_records": ["change_plan", "implementation_record"]}}}))
    from engine.processes import case_facts
    case_facts.rebuild(session)  # cases and manifest written by hand: their facts as the migration writes them
    m = provider_measures(session, config(), parse_period("2026-03"))["Acme"]["records_complete"]
    assert (m.numerator, m.denominator) == (2, 3)


def test_pending_time_does_not_count_against_resolution_and_is_reported(db_session, add_case):
    # P1 resolves within 2 hours: 3 hours open, 1.5 of them waiting on the requester, is in time.
    add_case(hours=3, priority="P1", sla_paused_seconds=5400)
    add_case(hours=3, priority="P1")  # no pending time: late
    m = process_metrics(db_session, load_config(), parse_period("2026-03"))
    ratio = m.ratios["resolution_within_sla"]
    assert (ratio.numerator, ratio.denominator) == (1, 2)
    assert (m.pending_time.count, m.pending_time.median_hours) == (1, 1.5)
