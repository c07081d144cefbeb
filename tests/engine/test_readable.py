"""What people read of a case: labelled values, decisions by name, barred tasks left out of
inboxes and notices, notices that end with their task, the reports' first month."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.cases import queries, readable, services
from engine.evaluation import scorecards
from engine.notifications import notices, outbox
from engine.processes import specs
from engine.records import audit
from engine.timing import clock


@pytest.fixture
def people(make_user):
    return {
        "req": make_user(name="rita", display_name="Rita Requester"),
        "desk": make_user("service_desk", name="sam", display_name="Sam Desk"),
        "eng": make_user("engineer", name="erin", display_name="Erin Engineer"),
        "both": make_user("engineer", "change_manager", name="bo", display_name="Bo Both"),
        "cm": make_user("change_manager", name="carl", display_name="Carl Change-Manager"),
    }


def ready(session, case, element):
    return next(t for t in queries.open_tasks(session, case) if t.element_id == element)


def start(session, people):
    return services.start_case(session, "four_steps", {"title": "Printer on fire", "system": "erp", "urgent": True},
                               actor=people["req"])


def to_approval(session, people, diagnosed_by="eng"):
    case = start(session, people)
    services.complete_task(session, ready(session, case, "triage").id, {"category": "software"}, actor=people["desk"])
    services.complete_task(session, ready(session, case, "diagnose").id, {"diagnosis": "Toner\r\nline two"},
                           actor=people[diagnosed_by])
    return case


def test_values_are_labelled_and_decisions_name_the_person(session, deploy, people):
    deploy("four_steps.bpmn")
    case = to_approval(session, people)
    services.complete_task(session, ready(session, case, "approve_fix").id,
                           {"decision": "approve", "comment": "Budget line OPS-2027 ok"}, actor=people["cm"])
    manifest = specs.manifest_of(case.definition)
    values = {v.label: v for v in readable.case_values(manifest, case.data)}
    assert set(values) == {"Title", "Affected system", "Urgent", "Category", "Diagnosis"}
    assert values["Category"].choice == ("Software", None)  # the choice's name, not its value
    assert "approve_fix_decision" in case.data and "approve_fix_decision" not in values  # engine's own
    entries = readable.history(session, case, manifest, audit.history(session, case))
    [decision] = readable.decisions(entries)
    assert (decision.task, decision.decision, decision.actor, decision.comment) == \
        ("Approve fix", "approve", "Carl Change-Manager", "Budget line OPS-2027 ok")
    started = next(e for e in entries if e.event.type == "case_started")
    assert [s.label for s in started.shown] == ["Title", "Affected system", "Urgent"]
    assert started.actor == "Rita Requester"


def test_a_barred_task_is_not_offered_and_its_notice_ends_with_it(session, deploy, people):
    deploy("four_steps.bpmn")
    case = to_approval(session, people, diagnosed_by="both")  # bo diagnosed: barred from approving
    task = ready(session, case, "approve_fix")
    assert task.id not in [t.id for t in queries.list_tasks(session, actor=people["both"])]
    assert task.id in [t.id for t in queries.list_tasks(session, actor=people["cm"])]
    outbox.announce_ready_tasks(session)
    assert [n.task_id for n in notices.list_notices(session, actor=people["both"])].count(task.id) == 0
    assert [n.task_id for n in notices.list_notices(session, actor=people["cm"])].count(task.id) == 1
    assert notices.count_unread(session, actor=people["cm"]) >= 1
    before = notices.count_unread(session, actor=people["cm"])
    services.complete_task(session, task.id, {"decision": "approve"}, actor=people["cm"])
    # the task is done: its notice is gone from the list and the unread count
    assert task.id not in [n.task_id for n in notices.list_notices(session, actor=people["cm"])]
    assert notices.count_unread(session, actor=people["cm"]) == before - 1


def test_the_requester_is_barred_from_a_task_that_keeps_requesters_out(session, deploy, people, make_user):
    deploy("four_steps.bpmn")
    boss = make_user("change_manager", "service_desk", "engineer", name="boss")
    case = services.start_case(session, "four_steps", {"title": "t", "urgent": False}, actor=boss)
    services.complete_task(session, ready(session, case, "triage").id, {"category": "software"}, actor=people["desk"])
    services.complete_task(session, ready(session, case, "diagnose").id, {"diagnosis": "d"}, actor=people["eng"])
    approval = ready(session, case, "approve_fix")
    assert approval.id not in [t.id for t in queries.list_tasks(session, actor=boss)]


def test_reports_open_on_the_latest_month_with_cases(session, deploy, people):
    deploy("four_steps.bpmn")
    assert scorecards.latest_month(session) is None
    with clock.frozen(dt.datetime(2026, 3, 10, tzinfo=dt.timezone.utc)):
        start(session, people)
    with clock.frozen(dt.datetime(2026, 5, 20, tzinfo=dt.timezone.utc)):
        start(session, people)
        assert scorecards.latest_month(session) == "2026-05"


def test_durations_read_for_response_targets():
    assert readable.parse_duration("PT15M") == dt.timedelta(minutes=15)
    assert readable.parse_duration("P1DT2H") == dt.timedelta(days=1, hours=2)
    assert readable.parse_duration("P") is None and readable.parse_duration("soon") is None
