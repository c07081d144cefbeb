"""Cases through the engine's use cases, and the stored state they run from."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine import config
from engine.cases import (
    persistence,
    queries,
    serializer,
    services,
)
from engine.errors import Conflict, InvalidData, NotAllowed, NotFound, ProcessFailure
from engine.jobs import firing
from engine.people import users
from engine.processes import specs
from engine.records import audit
from engine.timing import clock
from models import HumanTask, Timer
from tests.conftest import DATA

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def people(make_user):
    return {
        "req": make_user(name="rita"),
        "desk": make_user("service_desk", name="sam"),
        "eng": make_user("engineer", name="erin"),
        "eng2": make_user("engineer", name="ed"),
        "cm": make_user("change_manager", name="carl"),
        "auditor": make_user("auditor", name="ann"),
    }


def ready(session, case) -> list[str]:
    return [t.element_id for t in queries.open_tasks(session, case)]


def task_of(session, case, element: str) -> HumanTask:
    return next(t for t in queries.open_tasks(session, case) if t.element_id == element)


def events(session, case) -> list[str]:
    return [e.type for e in audit.history(session, case)]


def start(session, people, **data):
    payload = {"title": "Printer on fire", "system": "erp", "urgent": True, **data}
    return services.start_case(session, "four_steps", payload, actor=people["req"])


def test_start_case_checks_the_start_form(session, deploy, people):
    deploy("four_steps.bpmn")
    with pytest.raises(InvalidData) as info:
        services.start_case(session, "four_steps", {"system": "erp", "urgent": "maybe", "color": "red"},
                            actor=people["req"])
    assert info.value.details == {
        "title": ["Title is required"], "urgent": ["Urgent must be true or false"],
        "color": ["is not a field of this form"]}
    with pytest.raises(NotFound):
        services.start_case(session, "nope", {}, actor=people["req"])


def test_whole_case_runs_to_resolved(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    assert case.key == "FST-000001" and case.status == "open"
    assert case.priority == "P1" and case.title == "Printer on fire"  # set by the script task
    assert ready(session, case) == ["triage"]
    services.complete_task(session, task_of(session, case, "triage").id, {"category": "hardware"}, actor=people["desk"])
    assert ready(session, case) == ["diagnose"]
    services.claim_task(session, task_of(session, case, "diagnose").id, actor=people["eng"])
    services.complete_task(session, task_of(session, case, "diagnose").id,
                           {"diagnosis": "toner overheated", "effort_hours": "3"}, actor=people["eng"])
    assert case.data["effort_hours"] == 3
    services.complete_task(session, task_of(session, case, "approve_fix").id,
                           {"decision": "approve"}, actor=people["cm"])
    services.complete_task(session, task_of(session, case, "implement").id, {"result": "replaced"},
                           actor=people["eng2"])
    assert (case.status, case.outcome) == ("closed", "resolved")
    assert case.closed_at is not None and ready(session, case) == []
    assert events(session, case) == ["case_started", "task_completed", "task_claimed", "task_completed",
                                     "gate_approved", "task_completed", "case_closed"]
    closed = audit.history(session, case)[-1]
    assert closed.data == {"outcome": "resolved", "missing_records": []}
    assert audit.verify(session, case).ok
    done = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).all()
    assert {(t.element_id, t.state, t.completed_by.name) for t in done} == {
        ("triage", "completed", "sam"), ("diagnose", "completed", "erin"),
        ("approve_fix", "completed", "carl"), ("implement", "completed", "ed")}


def test_rejected_gate_needs_a_comment_and_closes_rejected(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"}, actor=people["desk"])
    services.complete_task(session, task_of(session, case, "diagnose").id, {"diagnosis": "x"}, actor=people["eng"])
    gate = task_of(session, case, "approve_fix")
    with pytest.raises(InvalidData) as info:
        services.complete_task(session, gate.id, {"decision": "reject"}, actor=people["cm"])
    assert info.value.details == {"comment": ["A comment is required when the decision is reject or rework"]}
    assert ready(session, case) == ["approve_fix"]
    services.complete_task(session, gate.id, {"decision": "reject", "comment": "too risky"}, actor=people["cm"])
    assert (case.status, case.outcome) == ("closed", "rejected")
    assert events(session, case)[-2:] == ["gate_rejected", "case_closed"]
    assert case.data["approve_fix_decision"] == "reject" and case.data["approve_fix_by"] == "carl"


def test_candidate_group_refusal_names_the_rule(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    with pytest.raises(NotAllowed, match=r"“Triage” is work for the Service desk group, and you are not a "
                                         r"member \(candidate group rule\)"):
        services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"},
                               actor=people["eng"])
    # An auditor is refused every write by role, before any task rule is looked at.
    with pytest.raises(NotAllowed, match=r"Auditors read cases and change nothing \(role rule\)"):
        services.claim_task(session, task_of(session, case, "triage").id, actor=people["auditor"])
    assert events(session, case) == ["case_started"]


def test_separation_of_duties(session, deploy, people, make_user):
    deploy("four_steps.bpmn")
    boss = make_user("change_manager", "engineer", name="both")
    case = services.start_case(session, "four_steps", {"title": "t", "urgent": False}, actor=boss)
    services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"}, actor=people["desk"])
    services.complete_task(session, task_of(session, case, "diagnose").id, {"diagnosis": "d"}, actor=people["eng"])
    with pytest.raises(NotAllowed, match=r"someone else must do “Approve fix”: separation of duties"):
        services.complete_task(session, task_of(session, case, "approve_fix").id, {"decision": "approve"}, actor=boss)
    # Whoever diagnosed a case may not approve its fix either.
    case2 = start(session, people)
    dual = make_user("change_manager", "engineer", name="dual")
    services.complete_task(session, task_of(session, case2, "triage").id, {"category": "software"}, actor=people["desk"])
    services.complete_task(session, task_of(session, case2, "diagnose").id, {"diagnosis": "d"}, actor=dual)
    with pytest.raises(NotAllowed, match=r"You did “Diagnose” on .*separation of duties"):
        services.complete_task(session, task_of(session, case2, "approve_fix").id, {"decision": "approve"}, actor=dual)
    services.complete_task(session, task_of(session, case2, "approve_fix").id, {"decision": "approve"},
                           actor=people["cm"])
    assert ready(session, case2) == ["implement"]
    assert events(session, case2).count("gate_approved") == 1


def test_claimed_and_completed_tasks_conflict(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"}, actor=people["desk"])
    diagnose = task_of(session, case, "diagnose")
    services.claim_task(session, diagnose.id, actor=people["eng"])
    with pytest.raises(Conflict, match="claimed by erin"):
        services.claim_task(session, diagnose.id, actor=people["eng2"])
    with pytest.raises(Conflict, match="claimed by erin"):
        services.complete_task(session, diagnose.id, {"diagnosis": "x"}, actor=people["eng2"])
    services.release_task(session, diagnose.id, actor=people["eng"])
    services.complete_task(session, diagnose.id, {"diagnosis": "x"}, actor=people["eng2"])
    with pytest.raises(Conflict, match="already completed by ed"):
        services.complete_task(session, diagnose.id, {"diagnosis": "y"}, actor=people["eng"])


def test_auditor_cannot_open_cases(session, deploy, people):
    deploy("four_steps.bpmn")
    with pytest.raises(NotAllowed, match="Auditors read cases and change nothing"):
        services.start_case(session, "four_steps", {"title": "t"}, actor=people["auditor"])


def test_requester_sees_only_own_cases(session, deploy, people, make_user):
    deploy("four_steps.bpmn")
    case = start(session, people)
    other = make_user(name="olga")
    with pytest.raises(NotAllowed):
        queries.get_case(session, case.key, actor=other)
    assert queries.get_case(session, case.key.lower(), actor=people["req"]) is case
    assert queries.list_cases(session, actor=other)[0] == []
    assert queries.list_cases(session, actor=people["auditor"])[0] == [case]


def test_camunda_file_runs_with_its_bare_pt8h_timer(session, deploy, people, make_user):
    deploy("camunda_approval.bpmn")
    boss = make_user("manager", name="mia")
    with clock.frozen(T0):
        case = services.start_case(session, "purchase_approval", {"item": "laptop", "amount": "1200"},
                                   actor=people["req"])
    assert case.key == "PUR-000001" and case.data["urgent"] is False
    review = task_of(session, case, "review")
    assert review.due_at == T0 + dt.timedelta(hours=8)
    timer, warning = session.scalars(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at.desc())).all()
    assert (timer.element_id, timer.due_at, timer.escalation) == ("review_sla", T0 + dt.timedelta(hours=8), True)
    assert (warning.kind, warning.due_at) == ("sla_warning", T0 + dt.timedelta(hours=6))
    assert firing.fire_due_timers(session, now=T0 + dt.timedelta(hours=7, minutes=59)) == 0
    assert ready(session, case) == ["review"]
    assert firing.fire_due_timers(session, now=T0 + dt.timedelta(hours=8, seconds=1)) == 1
    assert ready(session, case) == ["escalated_review"]
    assert events(session, case)[-2:] == ["timer_fired", "case_escalated"]
    assert session.scalars(select(Timer).where(Timer.case_id == case.id)).all() == []
    assert session.get(HumanTask, review.id).state == "cancelled"
    services.complete_task(session, task_of(session, case, "escalated_review").id, {"review_notes": "ok"}, actor=boss)
    requester_as_manager = users.create_user(session, "rita", ["manager"], actor=None)
    with pytest.raises(NotAllowed, match="requester"):
        services.complete_task(session, task_of(session, case, "approve").id, {"decision": "approve"},
                               actor=requester_as_manager)
    services.complete_task(session, task_of(session, case, "approve").id, {"decision": "approve"}, actor=boss)
    assert (case.status, case.outcome) == ("closed", "approved")


def test_serializer_round_trip_between_every_step(session, deploy, people):
    deploy("four_steps.bpmn")
    case = start(session, people)
    steps = [("triage", {"category": "software"}, "desk"), ("diagnose", {"diagnosis": "d"}, "eng"),
             ("approve_fix", {"decision": "approve"}, "cm"), ("implement", {"result": "r"}, "eng2")]
    for element, data, who in steps:
        loaded = specs.load_by_id(session, case.definition_id)
        assert serializer.dump(serializer.restore(case.state, loaded)) == case.state  # restore and dump agree
        assert "spec" not in case.state[:200] and len(case.state) < 20000
        services.complete_task(session, task_of(session, case, element).id, data, actor=people[who])
    assert case.status == "closed"


def test_process_failure_is_reported_and_nothing_changes(session, deploy, people):
    source = (DATA / "four_steps.bpmn").read_text().replace(
        "decision == &quot;approve&quot;", "undefined_flag and decision == &quot;approve&quot;")
    deploy(("four_steps.bpmn", source))
    case = start(session, people)
    services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"}, actor=people["desk"])
    services.complete_task(session, task_of(session, case, "diagnose").id, {"diagnosis": "d"}, actor=people["eng"])
    gate = task_of(session, case, "approve_fix")
    state, seq = case.state, case.audit_seq
    with pytest.raises(ProcessFailure, match="undefined_flag"):
        services.complete_task(session, gate.id, {"decision": "approve"}, actor=people["cm"])
    session.rollback()
    assert case.state == state and case.audit_seq == seq


REQUESTER_STEP = (DATA / "camunda_approval.bpmn").read_text().replace(
    'id="review" name="Review request" camunda:candidateGroups="engineer"',
    'id="review" name="Confirm details" camunda:candidateGroups="requester"')


def test_a_requester_task_is_for_the_cases_own_requester(session, deploy, people, make_user):
    deploy(("purchase_approval.bpmn", REQUESTER_STEP))
    case = services.start_case(session, "purchase_approval", {"item": "pc", "amount": 5}, actor=people["req"])
    stranger = make_user(name="stranger")
    step = task_of(session, case, "review")
    assert [t.id for t in queries.list_tasks(session, actor=people["req"])] == [step.id]
    assert queries.list_tasks(session, actor=stranger) == []
    assert queries.list_tasks(session, actor=people["eng"]) == []
    with pytest.raises(NotAllowed, match="is for the person who requested PUR-000001 only"):
        services.complete_task(session, step.id, {"review_notes": "not mine"}, actor=stranger)
    services.complete_task(session, step.id, {"review_notes": "correct"}, actor=people["req"])
    assert ready(session, case) == ["approve"]


def test_inbox_filters_groups_in_the_database(session, deploy, people):
    deploy("four_steps.bpmn")
    cases = [start(session, people, title=f"case {i}") for i in range(30)]
    for case in cases[:25]:
        services.complete_task(session, task_of(session, case, "triage").id, {"category": "software"},
                               actor=people["desk"])
    # Five triage tasks remain for the service desk, behind 25 diagnose tasks for engineers.
    desk_inbox = queries.list_tasks(session, actor=people["desk"], limit=5)
    assert sorted(t.case.title for t in desk_inbox) == [f"case {i}" for i in range(25, 30)]
    assert len(queries.list_tasks(session, actor=people["eng"])) == 25
    services.claim_task(session, task_of(session, cases[0], "diagnose").id, actor=people["eng"])
    assert [t.case.title for t in queries.list_tasks(session, actor=people["eng"], scope="mine")] == ["case 0"]
    assert len(queries.list_tasks(session, actor=people["eng2"])) == 24


def test_staff_open_a_case_for_someone_else(session, deploy, people, make_user):
    source = REQUESTER_STEP.replace(
        '<camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="false" />',
        '<camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="false" />'
        '<camunda:formField id="requested_for" label="For" type="string" />')
    deploy(("purchase_approval.bpmn", source))
    case = services.start_case(session, "purchase_approval", {"item": "pc", "amount": 5, "requested_for": "rita"},
                               actor=people["desk"])
    assert case.requester.name == "rita" and case.data["opened_by"] == "sam"
    started = audit.history(session, case)[0]
    assert started.actor == "sam" and started.data["requester"] == "rita"
    assert [t.element_id for t in queries.list_tasks(session, actor=people["req"])] == ["review"]
    with pytest.raises(NotAllowed, match="only staff open cases for someone else"):
        services.start_case(session, "purchase_approval", {"item": "pc", "amount": 5, "requested_for": "sam"},
                            actor=make_user(name="plain"))
    with pytest.raises(InvalidData) as info:
        services.start_case(session, "purchase_approval", {"item": "pc", "amount": 5, "requested_for": "ghost"},
                            actor=people["desk"])
    assert info.value.details == {"requested_for": ["no active user named 'ghost'"]}


def _run_four_steps(session, people) -> tuple:
    case = start(session, people)
    steps = [("triage", {"category": "software"}, "desk"), ("diagnose", {"diagnosis": "d"}, "eng"),
             ("approve_fix", {"decision": "approve"}, "cm"), ("implement", {"result": "r"}, "eng2")]
    seen = []
    for element, data, who in steps:
        seen.append(tuple(ready(session, case)))
        services.complete_task(session, task_of(session, case, element).id, data, actor=people[who])
    data = {k: v for k, v in case.data.items() if k != "case_key"}
    return case.status, case.outcome, data, events(session, case), seen


def test_the_instance_cache_changes_nothing_but_the_work(session, deploy, people, monkeypatch):
    deploy("four_steps.bpmn")
    restores = []
    real_restore = serializer.restore
    monkeypatch.setattr(persistence, "restore", lambda state, loaded, *config: restores.append(1) or real_restore(state, loaded, *config))
    config.bind(session.info, config.EngineConfig(instance_cache=0))
    uncached = _run_four_steps(session, people)
    assert len(restores) == 4  # every action deserialized its case
    restores.clear()
    config.bind(session.info, config.EngineConfig(instance_cache=256))
    cached = _run_four_steps(session, people)
    assert restores == []  # every action reused the instance this process saved
    assert cached == uncached


def test_the_instance_cache_only_serves_the_exact_stored_state(session, deploy, people, monkeypatch):
    deploy("four_steps.bpmn")
    restores = []
    real_restore = serializer.restore
    monkeypatch.setattr(persistence, "restore", lambda state, loaded, *config: restores.append(1) or real_restore(state, loaded, *config))
    case = start(session, people)
    session.commit()
    triage = task_of(session, case, "triage").id
    # An action whose transaction rolls back leaves the case as stored: the next one restores it.
    services.complete_task(session, triage, {"category": "software"}, actor=people["desk"])
    session.rollback()
    assert restores == []
    session.refresh(case)
    services.complete_task(session, triage, {"category": "hardware"}, actor=people["desk"])
    assert restores == [1] and case.data["category"] == "hardware"
    # Another process saved the case since (its state differs from ours): restored, not reused.
    other = real_restore(case.state, specs.load_by_id(session, case.definition_id))
    case.state = serializer.dump(other).replace('"category": "hardware"', '"category": "network"')
    services.complete_task(session, task_of(session, case, "diagnose").id, {"diagnosis": "d"}, actor=people["eng"])
    assert restores == [1, 1] and case.data["category"] == "network"
    # A failed action took its instance out of the cache; the retry restores from the row.
    with pytest.raises(InvalidData):
        services.complete_task(session, task_of(session, case, "approve_fix").id, {"decision": "maybe"},
                               actor=people["cm"])
    services.complete_task(session, task_of(session, case, "approve_fix").id, {"decision": "approve"},
                           actor=people["cm"])
    assert len(restores) == 3
