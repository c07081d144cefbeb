"""The rectification process: opened by publishing a month below a pass mark, then driven by
the provider's engineer and the supervisor to `rectified`."""
import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import queries, services
from engine.errors import NotAllowed
from engine.evaluation import scorecards
from engine.people import providers
from engine.processes.catalog import workflows_dir
from engine.timing import clock
from models import AuditEvent, EvaluationScorecard

BAD_MONTH = {"planned_person_days": 20, "actual_person_days": 10, "qualified_staff_ratio": 0.5}


@pytest.fixture
def setup(session, deploy, make_user):
    deploy(workflows_dir() / "rectification.bpmn")
    providers.add_provider(session, "Acme", ["erp"], actor=None)
    providers.add_provider(session, "Bolt", ["mail"], actor=None)
    supervisor = make_user("supervisor", name="suzy")
    engineer = make_user("engineer", name="eddie")
    with clock.frozen(dt.datetime(2026, 4, 2, 9, tzinfo=dt.timezone.utc)):
        scorecards.record_inputs(session, "Acme", "2026-03", BAD_MONTH, actor=supervisor)
        scorecards.record_inputs(session, "Bolt", "2026-03", {"planned_person_days": 20,
                                                              "actual_person_days": 20},
                                 actor=supervisor)
    return supervisor, engineer


def ready(session, case):
    return {t.element_id: t for t in queries.open_tasks(session, case)}


def test_publishing_opens_one_rectification_case_per_provider_below_a_pass_mark(session, setup):
    supervisor, _engineer = setup
    published = scorecards.publish_month(session, "2026-03", actor=supervisor)
    by_provider = {row.provider.name: (row, case) for row, case in published}
    acme_row, acme_case = by_provider["Acme"]
    assert by_provider["Bolt"][1] is None  # Bolt met every pass mark that had data
    # Only the basic category has data (inputs, no cases), so it is the whole total.
    assert acme_row.status == "fail"
    assert acme_row.result["below_pass_mark"] == ["basic", "total"]
    assert acme_case.process_key == "rectification" and acme_case.provider == "Acme"
    assert acme_case.key.startswith("RCT-")
    assert "Basic situation 0.00 < 75" in acme_case.data["findings"]
    assert acme_row.rectification_case_id == acme_case.id
    assert set(ready(session, acme_case)) == {"submit_plan"}

    again = scorecards.publish_month(session, "2026-03", actor=supervisor)
    assert all(case is None for _, case in again)
    rows = session.scalars(select(EvaluationScorecard).where(
        EvaluationScorecard.period == "2026-03")).all()
    assert len(rows) == 4 and {r.rectification_case_id for r in rows if r.provider.name == "Acme"} \
        == {acme_case.id}
    kinds = session.scalars(select(AuditEvent.type).where(AuditEvent.case_id.is_(None))).all()
    assert kinds.count("evaluation_published") == 2
    assert kinds.count("evaluation_config_recorded") == 1


def test_rectification_runs_plan_rework_report_verify(session, setup):
    supervisor, engineer = setup
    (_, case), = [(r, c) for r, c in scorecards.publish_month(session, "2026-03", actor=supervisor)
                  if c is not None]
    plan = {"rectification_plan": "Two more engineers on site", "due_date": "2026-04-30"}
    services.complete_task(session, ready(session, case)["submit_plan"].id, plan, actor=engineer)
    with pytest.raises(NotAllowed):
        services.complete_task(session, ready(session, case)["review_plan"].id,
                               {"decision": "approve"}, actor=engineer)
    services.complete_task(session, ready(session, case)["review_plan"].id,
                           {"decision": "rework", "comment": "Name the engineers"},
                           actor=supervisor)
    services.complete_task(session, ready(session, case)["submit_plan"].id,
                           dict(plan, rectification_plan="Li and Wang on site from 4 April"),
                           actor=engineer)
    services.complete_task(session, ready(session, case)["review_plan"].id,
                           {"decision": "approve"}, actor=supervisor)
    services.complete_task(session, ready(session, case)["report_done"].id,
                           {"rectification_report": "Both on site since 4 April"}, actor=engineer)
    services.complete_task(session, ready(session, case)["verify"].id, {"decision": "approve"},
                           actor=supervisor)
    assert case.status == "closed" and case.outcome == "rectified"
    kinds = session.scalars(select(AuditEvent.type).where(AuditEvent.case_id == case.id)
                            .order_by(AuditEvent.seq)).all()
    assert kinds == ["case_started", "task_completed", "gate_reworked", "task_completed",
                     "gate_approved", "task_completed", "gate_approved", "case_closed"]


def test_only_a_supervisor_user_publishes(session, setup):
    _, engineer = setup
    with pytest.raises(NotAllowed, match="supervisor"):
        scorecards.publish_month(session, "2026-03", actor=engineer)
    with pytest.raises(NotAllowed, match="supervisor"):
        scorecards.publish_month(session, "2026-03", actor="cli")


def test_a_rectification_that_fails_verification_closes_as_not_rectified(session, setup):
    supervisor, engineer = setup
    case = next(c for _, c in scorecards.publish_month(session, "2026-03", actor=supervisor) if c)
    services.complete_task(session, ready(session, case)["submit_plan"].id,
                           {"rectification_plan": "More staff", "due_date": "2026-04-30"},
                           actor=engineer)
    services.complete_task(session, ready(session, case)["review_plan"].id,
                           {"decision": "approve"}, actor=supervisor)
    services.complete_task(session, ready(session, case)["report_done"].id,
                           {"rectification_report": "Nothing changed"}, actor=engineer)
    services.complete_task(session, ready(session, case)["verify"].id,
                           {"decision": "reject", "comment": "Still understaffed in April"},
                           actor=supervisor)
    assert case.status == "closed" and case.outcome == "not_rectified"
    assert ready(session, case) == {}
