"""Supervisor inputs: checked per field, blank is no data, only supervisors, audited."""
import datetime as dt

import pytest
from sqlalchemy import select

from engine.errors import InvalidData, NotAllowed, NotFound
from engine.evaluation import scorecards
from engine.evaluation.config import load_config
from models import AuditEvent, EvaluationInput, Provider


def test_blank_is_no_data_and_numbers_are_typed():
    cleaned = scorecards.clean_inputs(load_config(), {
        "planned_person_days": "20", "actual_person_days": 18.5, "inspections_done": "",
        "satisfaction": None, "inspections_planned": 4})
    assert cleaned == {"planned_person_days": 20.0, "actual_person_days": 18.5,
                       "inspections_planned": 4}


def test_each_bad_field_is_named_and_nothing_is_kept():
    with pytest.raises(InvalidData) as err:
        scorecards.clean_inputs(load_config(), {
            "qualified_staff_ratio": 1.5, "inspections_planned": 2.5, "satisfaction": "good",
            "docs_due": 3, "docs_on_time": 4, "bogus": 1})
    details = err.value.details
    assert details["qualified_staff_ratio"] == ["must be at most 1"]
    assert details["inspections_planned"] == ["must be a whole number"]
    assert details["satisfaction"] == ["must be a number"]
    assert details["docs_on_time"] == ["cannot exceed Documents due"]
    assert details["bogus"] == ["not an evaluation input"]


@pytest.fixture
def acme(session):
    provider = Provider(name="Acme", created_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    session.add(provider)
    session.flush()
    return provider


def test_record_inputs_stores_replaces_and_audits(session, acme):
    scorecards.record_inputs(session, "Acme", "2026-03", {"satisfaction": 85}, actor="sup")
    row = scorecards.record_inputs(session, "Acme", "2026-03", {"satisfaction": 88},
                                   actor="sup", comment="survey redone")
    assert session.scalars(select(EvaluationInput)).all() == [row]
    assert row.values == {"satisfaction": 88.0} and row.revision == 2
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.type == "evaluation_input_recorded").order_by(AuditEvent.seq)).all()
    assert [e.data["values"] for e in events] == [{"satisfaction": 85.0}, {"satisfaction": 88.0}]
    assert events[1].data["previous"] == {"satisfaction": 85.0}


def test_inputs_need_a_month_a_known_provider_and_a_supervisor(session, acme):
    with pytest.raises(InvalidData, match="per month"):
        scorecards.record_inputs(session, "Acme", "2026", {}, actor="sup")
    with pytest.raises(NotFound):
        scorecards.record_inputs(session, "Nobody", "2026-03", {}, actor="sup")

    class Engineer:
        name, group_names = "eve", {"engineer"}

    with pytest.raises(NotAllowed, match="supervisor"):
        scorecards.record_inputs(session, "Acme", "2026-03", {}, actor=Engineer())
    assert session.scalars(select(EvaluationInput)).all() == []
