"""The evaluation's stored facts of ended cases: written when a case ends, rewritten when a deploy
gives a task a measure role, rebuilt for history; always what the events give."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from engine.cases import queries, services
from engine.evaluation import provider_measures
from engine.evaluation.config import load_config
from engine.evaluation.period import parse_period
from engine.processes import case_facts
from engine.timing import clock
from models import Case, CaseFact, CaseFactState, MeasureRole
from tests.conftest import DATA

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def complete_at(session, case, element, data, actor, at):
    """Complete the case's open `element` task as `actor` at the instant `at`."""
    task = next(t for t in queries.open_tasks(session, case) if t.element_id == element)
    with clock.frozen(at):
        services.complete_task(session, task.id, data, actor=actor)


def run_case(session, people, *, provider="Acme", start=T0, close_at: dt.datetime | None = None, close=True):
    """A four_steps case opened at `start`, answered an hour later, diagnosed after two, approved an
    hour before `close_at` and closed then (5 h after the start by default), or left open."""
    with clock.frozen(start):
        case = services.start_case(session, "four_steps", {"title": "Printer on fire", "system": "erp",
                                                           "urgent": True}, actor=people["req"])
    case.provider = provider
    complete_at(session, case, "triage", {"category": "hardware"}, people["desk"], start + dt.timedelta(hours=1))
    complete_at(session, case, "diagnose", {"diagnosis": "toner"}, people["eng"], start + dt.timedelta(hours=2))
    if close:
        end = close_at or start + dt.timedelta(hours=5)
        complete_at(session, case, "approve_fix", {"decision": "approve"}, people["cm"], end - dt.timedelta(hours=1))
        complete_at(session, case, "implement", {"result": "replaced"}, people["eng2"], end)
    return case


def direct_row(session, case_id):
    deployed = case_facts.manifests(session)
    query = case_facts.rows_select(Case.id == case_id, case_facts.task_roles(deployed), deployed)
    return tuple(session.execute(query).one())


def stored_row(session, case_id):
    return tuple(session.execute(select(*(getattr(CaseFact, c) for c in case_facts.FACT_COLUMNS))
                                 .where(CaseFact.case_id == case_id)).one())


def test_a_case_gets_its_fact_row_in_the_transaction_that_ends_it(session, deploy, people):
    deploy("four_steps.bpmn")
    ended, still_open = run_case(session, people), run_case(session, people, close=False)
    assert (ended.status, still_open.status) == ("closed", "open")
    assert session.get(CaseFact, still_open.id) is None  # an open case is read live
    assert stored_row(session, ended.id) == direct_row(session, ended.id)
    fact = session.get(CaseFact, ended.id)
    assert (fact.provider, fact.status, fact.outcome, fact.responded_at) == (
        "Acme", "closed", "resolved", T0 + dt.timedelta(hours=1))
    config, march = load_config(), parse_period("2026-03")
    assert provider_measures.provider_measures(session, config, march) == \
        provider_measures.provider_measures(session, config, march, use_facts=False)


def test_a_deploy_that_gives_a_task_a_measure_role_rewrites_the_facts_of_cases_that_did_it(session, deploy, people):
    deploy("four_steps.bpmn")
    case = run_case(session, people)
    assert session.get(CaseFact, case.id).resolved_at is None  # `implement` stands for nothing yet
    source = (DATA / "four_steps.bpmn").read_text().replace(
        '<camunda:property name="sod_not_actor_of" value="approve_fix" />',
        '<camunda:property name="sod_not_actor_of" value="approve_fix" />'
        '<camunda:property name="measure" value="resolution" />', 1)
    from engine.processes import deployment
    assert deployment.deploy(session, [("four_steps.bpmn", source.encode())], actor=None)[0].version == 2
    assert session.scalar(select(func.count()).select_from(MeasureRole)
                          .where(MeasureRole.role == "resolution", MeasureRole.element == "implement")) == 1
    session.expire_all()
    assert session.get(CaseFact, case.id).resolved_at == T0 + dt.timedelta(hours=5)
    assert stored_row(session, case.id) == direct_row(session, case.id)


def test_facts_are_used_only_when_complete_and_rebuild_writes_them_all(session, deploy, people):
    deploy("four_steps.bpmn")
    cases = [run_case(session, people, provider=p) for p in ("Acme", "Bolt", "Acme")]
    session.execute(update(CaseFactState).values(complete=False))
    session.execute(CaseFact.__table__.delete())
    assert not case_facts.complete(session)
    config, march = load_config(), parse_period("2026-03")
    direct = provider_measures.provider_measures(session, config, march, use_facts=False)
    assert provider_measures.provider_measures(session, config, march) == direct  # read from the events
    assert case_facts.rebuild(session) == 3 and case_facts.complete(session)
    assert [stored_row(session, c.id) for c in cases] == [direct_row(session, c.id) for c in cases]
    assert provider_measures.provider_measures(session, config, march) == direct
