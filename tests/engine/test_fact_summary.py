"""The month summary of ended cases (case_fact_month): counted in the transaction that ends a case,
in each month the case is in, recounted when a deploy rewrites facts or the facts are rebuilt, and
read only with the targets it was built with; its figures are always those of the fact rows and of
the events."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from engine.evaluation import provider_measures
from engine.evaluation.atoms import config_targets
from engine.evaluation.config import DEFAULT_PATH, load_config, parse_config
from engine.evaluation.period import parse_period
from engine.processes import case_facts, deployment, fact_summary
from models import CaseFact, CaseFactMonth, CaseFactState
from tests.conftest import DATA, rolled_back_session
from tests.engine.test_case_facts import complete_at, run_case

MARCH = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
APRIL = dt.datetime(2026, 4, 3, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, sqlite_engine: Engine) -> Iterator[Session]:
    """Each test on SQLite and, when configured, on PostgreSQL (rolled back after), with the summary
    kept with the shipped configuration's targets (as migration 0022 leaves a new database)."""
    engine = sqlite_engine if request.param == "sqlite" else request.getfixturevalue("pg_engine")
    with rolled_back_session(engine) as sess:
        if sess.get(CaseFactState, 1) is None:  # emptied by a test that commits (pg_clean)
            sess.add(CaseFactState(id=1, complete=True))
            sess.flush()
        provider_measures.keep_summary(sess, load_config())
        yield sess


def measures(session, config, month, **kw):
    return provider_measures.provider_measures(session, config, parse_period(month), **kw)


def assert_same_figures(session, config, *months):
    """The month from the summary, from the fact rows and from the events agree, measure by measure."""
    for month in months:
        summary = measures(session, config, month)
        assert summary == measures(session, config, month, use_summary=False), month
        assert summary == measures(session, config, month, use_facts=False), month


def summary_rows(session, month):
    return session.execute(select(CaseFactMonth.provider, CaseFactMonth.weight)
                           .where(CaseFactMonth.month == month).order_by(CaseFactMonth.provider)).all()


def test_ended_cases_are_counted_in_the_transaction_that_ends_them(session, deploy, people):
    deploy("four_steps.bpmn")
    config = load_config()
    for provider in ("Acme", "Bolt", "Acme"):
        run_case(session, people, provider=provider)
    run_case(session, people, close=False)  # read live
    assert fact_summary.usable(session, config_targets(config))
    assert summary_rows(session, "2026-03") == [("Acme", 2), ("Bolt", 1)]
    assert fact_summary.differences(session) == []
    assert_same_figures(session, config, "2026-03")
    march = measures(session, config, "2026-03")
    # four_steps is no pack process: of its measures only its closed cases' records count (the year test
    # scores the pack's processes, tests/engine/test_evaluation_year.py).
    assert {p: {k: (m.numerator, m.denominator) for k, m in ms.items() if m.denominator} for p, ms in march.items()} == \
        {"Acme": {"records_complete": (2, 2)}, "Bolt": {"records_complete": (1, 1)}}


def test_a_case_that_ends_in_a_later_month_counts_in_both(session, deploy, people):
    deploy("four_steps.bpmn")
    config = load_config()
    late = run_case(session, people, close=False)
    assert summary_rows(session, "2026-03") == []  # open: nothing to count yet
    run_case(session, people, provider="Bolt", start=APRIL)
    complete_at(session, late, "approve_fix", {"decision": "approve"}, people["cm"], APRIL)
    complete_at(session, late, "implement", {"result": "replaced"}, people["eng2"], APRIL + dt.timedelta(hours=2))
    assert late.status == "closed"
    assert summary_rows(session, "2026-03") == [("Acme", 1)]  # opened in March
    assert summary_rows(session, "2026-04") == [("Acme", 1), ("Bolt", 1)]  # closed in April
    flags = dict(session.execute(select(CaseFactMonth.month, CaseFactMonth.flags)
                                 .where(CaseFactMonth.provider == "Acme")).all())
    opened, closed, done_by_end = (1 << fact_summary.FLAGS.index(f) for f in ("opened", "closed", "done_by_end"))
    assert (flags["2026-03"] & (opened | closed | done_by_end), flags["2026-04"] & (opened | closed | done_by_end)) == (
        opened, closed | done_by_end)
    assert fact_summary.differences(session) == []
    assert_same_figures(session, config, "2026-03", "2026-04")


def test_another_configurations_targets_read_the_fact_rows_until_the_summary_is_rebuilt(session, deploy, people):
    deploy("four_steps.bpmn")
    shipped = load_config()
    # P3 (the cases' priority) answered within half an hour: the cases, answered in an hour, miss it.
    raw = DEFAULT_PATH.read_bytes().replace(b"response_hours = { P1 = 0.25, P2 = 0.5, P3 = 2, P4 = 4 }",
                                            b"response_hours = { P1 = 0.25, P2 = 0.5, P3 = 0.5, P4 = 4 }")
    strict = parse_config(raw, source="strict.toml")
    assert config_targets(strict) != config_targets(shipped)
    run_case(session, people)
    assert not fact_summary.usable(session, config_targets(strict))
    assert_same_figures(session, strict, "2026-03")  # from the fact rows
    assert provider_measures.keep_summary(session, shipped) is None  # kept already
    assert provider_measures.keep_summary(session, strict) == 1  # `opsgate init` with the new file
    assert fact_summary.usable(session, config_targets(strict))
    assert not fact_summary.usable(session, config_targets(shipped))
    run_case(session, people, provider="Bolt")  # counted with the stored (strict) targets
    assert fact_summary.differences(session) == []
    assert_same_figures(session, strict, "2026-03")
    assert_same_figures(session, shipped, "2026-03")  # the shipped targets now read the fact rows
    answered = 1 << fact_summary.FLAGS.index("response_ok")
    assert {flags & answered for (flags,) in session.execute(select(CaseFactMonth.flags))} == {0}


def test_a_deploy_that_rewrites_facts_recounts_their_months(session, deploy, people):
    deploy("four_steps.bpmn")
    case = run_case(session, people)
    run_case(session, people, provider="Bolt", start=APRIL)
    before = summary_rows(session, "2026-03")
    source = (DATA / "four_steps.bpmn").read_text().replace(
        '<camunda:property name="sod_not_actor_of" value="approve_fix" />',
        '<camunda:property name="sod_not_actor_of" value="approve_fix" />'
        '<camunda:property name="measure" value="resolution" />', 1)
    deployment.deploy(session, [("four_steps.bpmn", source.encode())], actor=None)
    session.expire_all()
    assert session.get(CaseFact, case.id).resolved_at is not None  # the fact was rewritten
    assert summary_rows(session, "2026-03") == before
    assert fact_summary.differences(session) == []
    assert_same_figures(session, load_config(), "2026-03", "2026-04")


def test_a_rebuild_recounts_everything_and_the_check_sees_a_difference(session, deploy, people):
    deploy("four_steps.bpmn")
    run_case(session, people)
    run_case(session, people, provider="Bolt", close_at=APRIL)
    session.execute(delete(CaseFactMonth).where(CaseFactMonth.month == "2026-04"))
    assert [row[0] for row in fact_summary.differences(session)] == ["2026-04"]
    assert fact_summary.differences(session)[0][-1] == "facts"  # counted there, missing here
    assert case_facts.rebuild(session) == 2  # the facts, then the summary with the targets it had
    assert fact_summary.usable(session, config_targets(load_config()))
    assert fact_summary.differences(session) == []
    assert session.scalar(select(func.sum(CaseFactMonth.weight))) == 3  # Bolt's case in March and April
    assert_same_figures(session, load_config(), "2026-03", "2026-04")
