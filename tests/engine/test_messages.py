"""Messages and signals from outside, and collaborations run as one case (#16), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.cases import messages, queries, services
from engine.errors import Conflict, InvalidData, NotAllowed, NotFound
from models import AuditEvent, EventWait
from tests.engine.interop_helpers import complete, db_session, deploy_files, person, ready

__all__ = ["db_session"]


def _events(session, key, *types):
    case = queries.find_case(session, key)
    rows = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
    return [(e.type, e.task) for e in rows if not types or e.type in types]


def _waits(session, key):
    case = queries.find_case(session, key)
    return sorted((w.kind, w.name, w.element_id) for w in session.scalars(select(EventWait).where(
        EventWait.case_id == case.id)))


def test_a_collaboration_runs_as_one_case_and_its_message_flows_are_delivered(db_session):
    erin, mona = person(db_session, "erin", "engineer"), person(db_session, "mona", "manager")
    deployed = deploy_files(db_session, "collab_order.bpmn")
    assert [(d.key, d.definition.name) for d in deployed] == [("order_collab", "Order a part")]
    case = services.start_case(db_session, "order_collab", {}, actor=erin)
    assert case.key == "ORD-000001" or case.key.startswith("ORD-")
    assert ready(db_session, case.key) == ["describe"]
    complete(db_session, case.key, "describe", erin, {"part": "disk"})
    assert ready(db_session, case.key) == ["confirm"]  # the vendor pool got the order message
    complete(db_session, case.key, "confirm", mona, {"ship_date": "Monday"})  # its reply ends the ops pool
    closed = queries.find_case(db_session, case.key)
    assert (closed.status, closed.data["part"]) == ("closed", "disk")


def test_a_message_correlated_by_a_case_variable_wins_the_race_against_the_timer(db_session):
    erin = person(db_session, "erin", "engineer")
    deploy_files(db_session, "event_race.bpmn")
    first = services.start_case(db_session, "event_race", {"ticket": "V-1"}, actor=erin)
    second = services.start_case(db_session, "event_race", {"ticket": "V-2"}, actor=erin)
    assert _waits(db_session, second.key) == [("message", "vendor_reply", "reply")]
    with pytest.raises(Conflict, match="2 cases wait for message 'vendor_reply'"):
        messages.send_message(db_session, "vendor_reply", actor=erin)
    delivered = messages.send_message(db_session, "vendor_reply", correlation={"ticket": "V-2"},
                                      data={"reply": "fixed in 2.1"}, actor=erin)
    assert (delivered.case.key, delivered.started) == (second.key, False)
    assert ready(db_session, second.key) == ["review"]
    assert queries.find_case(db_session, second.key).data["reply"] == "fixed in 2.1"
    assert _waits(db_session, second.key) == []
    assert ("message_received", "reply") in _events(db_session, second.key)
    assert ready(db_session, first.key) == []  # the other case still waits
    with pytest.raises(NotFound, match="no open case with ticket=V-3 waits for message 'vendor_reply'"):
        messages.send_message(db_session, "vendor_reply", correlation={"ticket": "V-3"}, actor=erin)


def test_message_boundary_receive_task_and_signal(db_session):
    erin = person(db_session, "erin", "engineer")
    deploy_files(db_session, "message_kinds.bpmn")
    withdrawn = services.start_case(db_session, "message_kinds", {"asset": "srv-1"}, actor=erin)
    kept = services.start_case(db_session, "message_kinds", {"asset": "srv-2"}, actor=erin)
    assert _waits(db_session, kept.key) == [("message", "request_withdrawn", "withdrawn")]
    messages.send_message(db_session, "request_withdrawn", case=withdrawn.key, actor=erin)
    assert queries.find_case(db_session, withdrawn.key).status == "closed"  # the boundary event ended it
    complete(db_session, kept.key, "order", erin, {"part": "psu"})
    assert _waits(db_session, kept.key) == [("message", "parts_arrived", "await_parts")]
    messages.send_message(db_session, "parts_arrived", correlation={"asset": "srv-2"}, actor=erin)
    assert _waits(db_session, kept.key) == [("signal", "maintenance_window_open", "window")]
    reached = messages.broadcast_signal(db_session, "maintenance_window_open", actor=erin)
    assert [c.key for c in reached] == [kept.key]
    assert ready(db_session, kept.key) == ["fit"]
    assert messages.broadcast_signal(db_session, "maintenance_window_open", actor=erin) == []


def test_a_message_start_event_starts_a_case_once_per_idempotency_key(db_session):
    erin = person(db_session, "erin", "engineer")
    deploy_files(db_session, "message_start.bpmn")
    first = messages.send_message(db_session, "vendor_ticket_opened", data={"ticket": "V-9"},
                                  idempotency_key="vendor-9", actor=erin)
    assert first.started and ready(db_session, first.case.key) == ["triage"]
    assert first.case.data["ticket"] == "V-9"
    again = messages.send_message(db_session, "vendor_ticket_opened", data={"ticket": "V-9"},
                                  idempotency_key="vendor-9", actor=erin)
    assert (again.case.key, again.repeated) == (first.case.key, True)
    assert _events(db_session, first.case.key, "case_started", "message_received") == [
        ("case_started", None), ("message_received", "start")]
    with pytest.raises(InvalidData) as bad:
        messages.send_message(db_session, "vendor_ticket_opened", data={}, actor=erin)
    assert "ticket" in bad.value.details


def test_refusals_say_why(db_session):
    erin, rick = person(db_session, "erin", "engineer"), person(db_session, "rick")
    with pytest.raises(NotFound, match="no open case waits for message 'nobody_listens', and no process starts"):
        messages.send_message(db_session, "nobody_listens", actor=erin)
    with pytest.raises(NotAllowed, match="not by requesters"):
        messages.send_message(db_session, "x", actor=rick)
    with pytest.raises(InvalidData) as bad:
        messages.send_message(db_session, "", data=[1], actor=erin)
    assert set(bad.value.details) == {"name", "data"}
