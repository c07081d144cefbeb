"""Timer values: deploy refuses what would not run, with the same parse the running timer uses,
and a data-dependent value that turns out bad fails the step naming the element."""
from __future__ import annotations

import datetime as dt

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition
from sqlalchemy import func, select

from engine.cases import services
from engine.errors import InvalidDefinition, ProcessFailure
from engine.timing import clock, definitions
from models import HumanTask, ProcessDefinition
from tests.conftest import DATA

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
SOURCE = (DATA / "camunda_approval.bpmn").read_text()  # boundary timer review_sla: timeDuration PT8H


def timer(tag: str, value: str) -> tuple[str, bytes]:
    source = SOURCE.replace(">PT8H<", f">{value}<", 1).replace("bpmn:timeDuration", f"bpmn:{tag}")
    return ("approval.bpmn", source.encode())


def refused(deploy, file: tuple[str, bytes]) -> dict:
    with pytest.raises(InvalidDefinition) as info:
        deploy(file)
    (problem,) = info.value.details
    return problem


@pytest.mark.parametrize("tag, value, message", [
    ("timeDate", "PT8H", "timeDate 'PT8H' is a duration; a timeDate needs a date and time"),
    ("timeDate", "2026-13-40T00:00:00Z", "timeDate '2026-13-40T00:00:00Z' is not a valid ISO 8601 date and time"),
    ("timeDate", '"2026-02-30T00:00:00Z"', "timeDate '2026-02-30T00:00:00Z' is not a valid ISO 8601 date and time"),
    ("timeCycle", "R/PT0S", "timeCycle 'R/PT0S' has no period"),
    ("timeCycle", '"3/PT1H"', "timeCycle '3/PT1H' is not a valid ISO 8601 repeating interval"),
    ("timeDuration", "P99999999Y", "timeDuration 'P99999999Y' is too long"),
    ("timeCycle", "R/2026-01-01T00:00:00Z/P99999999Y", "is too long"),
])
def test_deploy_refuses_a_value_the_timer_would_not_run(session, deploy, tag, value, message):
    problem = refused(deploy, timer(tag, value))
    assert problem["element_id"] == "review_sla" and problem["line"] == 45
    assert message in problem["message"]
    assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == 0


@pytest.mark.parametrize("tag, value", [
    ("timeDate", "2026-12-01T09:00:00Z"), ("timeDate", '"2026-12-01T09:00:00+08:00"'),
    ("timeDuration", "P1M"), ("timeCycle", "R3/PT1H"), ("timeCycle", "R/2026-12-01T02:00:00Z/P1D"),
])
def test_deploy_takes_what_runs(deploy, tag, value):
    assert deploy(timer(tag, value))[0].created


@pytest.fixture
def purchase(deploy):
    deploy(timer("timeDuration", "item"))  # the SLA is whatever the requester typed as the item


def test_a_data_dependent_value_sets_the_due_time(session, purchase, make_user):
    with clock.frozen(T0):
        case = services.start_case(session, "purchase_approval", {"item": "PT2H", "amount": 5},
                                   actor=make_user("requester"))
    review = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).one()
    assert review.due_at.replace(tzinfo=dt.timezone.utc) == T0 + dt.timedelta(hours=2)


def test_a_bad_data_dependent_value_fails_the_step_naming_the_element(session, purchase, make_user):
    with clock.frozen(T0), pytest.raises(ProcessFailure) as failure:
        services.start_case(session, "purchase_approval", {"item": "four hours", "amount": 5},
                            actor=make_user("requester"))
    assert failure.value.details == {"element_id": "review_sla"}
    assert "review_sla" in str(failure.value)
    assert "timeDuration 'four hours' is not a valid ISO 8601 duration" in str(failure.value)


def test_a_spiffworkflow_timer_nobody_adopted_is_refused_loudly():
    assert definitions.ours(object()) is None
    with pytest.raises(TypeError, match=r"engine\.processes\.specs"):
        definitions.ours(DurationTimerEventDefinition("sla", '"PT4H"'))
