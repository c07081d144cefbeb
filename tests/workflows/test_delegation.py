"""Deputies and reassignment: a deputy acts on behalf of a person on leave, separation of duties
holds for the deputy too, and a manager reassigns a task with a reason; all of it audited."""

import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import queries, services
from engine.errors import InvalidData, NotAllowed
from engine.people import delegations
from engine.timing import clock
from models import AuditEvent, HumanTask
from tests.workflows.test_change_request import APPROVE, request

WEEK = dt.timedelta(days=7)


@pytest.fixture
def leave(desk, make_user):
    """Cathy (the CAB) and Carl (change manager) are on leave this week; Dana, an engineer, deputises for both."""
    desk.people["dana"] = make_user(name="dana", groups=["requester", "engineer"])
    now = clock.now()
    for person in ("cathy", "carl"):
        delegations.name_deputy(desk.session, actor=desk[person], deputy="dana", starts_at=now - dt.timedelta(hours=1),
                                ends_at=now + WEEK, note="annual leave")
    return desk


def inbox(desk, name, scope="group"):
    return sorted((t.case.key, t.element_id) for t in queries.list_tasks(desk.session, actor=desk[name], scope=scope))


def last(desk, case, kind):
    return desk.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.type == kind)
                                .order_by(AuditEvent.seq.desc())).first()


def test_a_deputy_acts_on_behalf_of_people_on_leave(leave):
    case = leave.start("change_request", request("normal"), by="rita")
    assert (case.key, "assess_change") in inbox(leave, "dana")
    leave.complete(case, "assess_change", {"risk": "low", "impact_assessment": "none", **APPROVE}, by="dana")
    assessed = last(leave, case, "gate_approved")
    assert (assessed.actor, assessed.data["on_behalf_of"]) == ("dana", "carl")
    # Cathy's vote is offered to her deputy, and cast in her name
    assert inbox(leave, "dana") == [(case.key, "cab_approval")]
    assert inbox(leave, "dana", scope="mine") == [(case.key, "cab_approval")]
    case = leave.complete(case, "cab_approval", {"decision": "approve", "comment": "for Cathy"}, by="dana")
    vote = last(leave, case, "vote_cast")
    assert (vote.actor, vote.data["voter"], vote.data["on_behalf_of"]) == ("dana", "cathy", "cathy")
    assert leave.tasks(case) == ["test_change"]


def test_separation_of_duties_refuses_the_deputy_on_their_own_change(leave):
    case = leave.start("change_request", request("normal"), by="dana")
    assert (case.key, "assess_change") not in inbox(leave, "dana")  # the requester never assesses their own
    with pytest.raises(NotAllowed, match=r"You requested .* \(as deputy for carl\)"):
        leave.complete(case, "assess_change", {"risk": "low", "impact_assessment": "none", **APPROVE}, by="dana")
    leave.act(case, "assess_change", {"risk": "low", "impact_assessment": "none", **APPROVE}, by="carl")
    assert inbox(leave, "dana") == []
    with pytest.raises(NotAllowed, match="You requested"):
        leave.complete(case, "cab_approval", {"decision": "approve"}, by="dana")


def test_a_deputy_stops_standing_in_when_the_period_ends(leave):
    case = leave.start("change_request", request("normal"), by="rita")
    with clock.frozen(clock.now() + WEEK + dt.timedelta(hours=1)):
        assert inbox(leave, "dana") == []
        with pytest.raises(NotAllowed, match="candidate group"):
            leave.complete(case, "assess_change", {"risk": "low", "impact_assessment": "none", **APPROVE}, by="dana")


def test_naming_a_deputy_is_checked_and_audited(leave):
    now = clock.now()
    with pytest.raises(NotAllowed, match="manager or an admin"):
        delegations.name_deputy(leave.session, actor=leave["eve"], user="ed", deputy="dana", starts_at=now,
                                ends_at=now + WEEK)
    with pytest.raises(InvalidData) as err:
        delegations.name_deputy(leave.session, actor=leave["eve"], deputy="eve", starts_at=now, ends_at=now - WEEK)
    assert set(err.value.details) == {"deputy", "ends_at"}
    made = delegations.name_deputy(leave.session, actor=leave["mona"], user="ed", deputy="eve", starts_at=now,
                                   ends_at=now + WEEK)
    events = leave.session.scalars(select(AuditEvent).where(AuditEvent.type == "delegation_created")
                                   .order_by(AuditEvent.seq.desc())).first()
    assert events.actor == "mona" and events.data["user"] == "ed" and events.data["deputy"] == "eve"
    delegations.end_delegation(leave.session, made.id, actor=leave["ed"])
    assert made.ended_at is not None


def test_a_manager_reassigns_a_task_with_a_reason(leave):
    case = leave.start("change_request", request("standard"), by="rita")
    task_id = leave.task_id(case, "implement_change")
    services.claim_task(leave.session, task_id, actor=leave["eve"])
    with pytest.raises(NotAllowed, match="manager or an admin"):
        services.reassign_task(leave.session, task_id, to="ed", reason="eve is ill", actor=leave["eve"])
    with pytest.raises(InvalidData, match="reason"):
        services.reassign_task(leave.session, task_id, to="ed", reason=" ", actor=leave["mona"])
    with pytest.raises(NotAllowed, match="candidate group"):
        services.reassign_task(leave.session, task_id, to="fiona", reason="eve is ill", actor=leave["mona"])
    services.reassign_task(leave.session, task_id, to="ed", reason="eve is ill", actor=leave["mona"])
    row = leave.session.get(HumanTask, task_id)
    assert row.assignee.name == "ed"
    event = last(leave, case, "task_reassigned")
    assert event.actor == "mona" and event.data == {"task_id": task_id, "name": "Implement the change",
                                                   "from": "eve", "to": "ed", "reason": "eve is ill"}
    assert inbox(leave, "ed", scope="mine") == [(case.key, "implement_change")]
