"""BPMN as Camunda Modeler and other tools write it (#16): plain tasks, data stores, decisionRef,
${...} candidate groups, tasks without group or form, service tasks opsgate cannot run refused in words
(external ones run: tests/engine/test_external_tasks.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.cases import queries, services
from engine.errors import InvalidDefinition
from engine.jobs import external_tasks
from engine.processes import deployment
from models import HumanTask
from tests.engine.interop_helpers import DATA, complete, db_session, person, ready

__all__ = ["db_session"]

INVOICE = [(n, (DATA / "invoice" / n).read_bytes()) for n in ("invoice.bpmn", "invoice_approver.dmn")]


def _groups(session, key):
    case = queries.find_case(session, key)
    return {t.element_id: t.candidate_groups for t in session.scalars(
        select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready"))}


@pytest.mark.parametrize(("amount", "approver"), [(200, "manager"), (5000, "cab")])
def test_the_camunda_invoice_runs_end_to_end(db_session, amount, approver):
    clerk = person(db_session, "clerk", "service_desk", "process_owner")
    boss = person(db_session, "boss", "manager", "cab")
    fin = person(db_session, "fin", "finance")
    results = deployment.deploy(db_session, INVOICE, actor=clerk)
    assert sorted(r.key for r in results) == ["invoice", "invoice_review"]
    case = services.start_case(db_session, "invoice", {"supplier": "ACME", "amount": amount}, actor=clerk)
    # the plain task passed through, the decision named the approver group, the ${...} group resolved to it
    assert _groups(db_session, case.key) == {"approve": [approver]}
    complete(db_session, case.key, "approve", boss, {"decision": "approve"})
    assert ready(db_session, case.key) == ["check_booking"]  # the call activity to the same file's review
    complete(db_session, case.key, "check_booking", fin, {"booking_ok": True})
    assert _groups(db_session, case.key) == {}  # the archive is an external task: a worker's job, nobody's inbox
    [job] = external_tasks.fetch_and_lock(db_session, "archiver", [{"topicName": "archive", "lockDuration": 60_000}],
                                          5, actor=fin)
    external_tasks.complete(db_session, job.job.id, "archiver", {"archived_as": "FAS-1"}, actor=fin)
    done = queries.find_case(db_session, case.key)
    assert (done.status, done.data["approver_group"], done.data["archived_as"]) == ("closed", approver, "FAS-1")


def test_a_task_without_group_goes_to_the_default_group_with_a_warning(db_session):
    owner = person(db_session, "owner", "process_owner")
    source = (DATA / "invoice" / "invoice.bpmn").read_text().replace(
        'camunda:candidateGroups="finance"', "")
    results = deployment.deploy(db_session, [("invoice.bpmn", source.encode()), INVOICE[1]], actor=owner)
    warned = {(w["element_id"], w["rule"]) for r in results for w in r.warnings}
    assert ("check_booking", "opsgate/no-group") in warned
    case = services.start_case(db_session, "invoice", {"supplier": "ACME", "amount": 10}, actor=owner)
    complete(db_session, case.key, "approve", person(db_session, "boss", "manager"), {"decision": "approve"})
    assert _groups(db_session, case.key) == {"check_booking": ["process_owner"]}  # the review has no default_group


@pytest.mark.parametrize(("task", "said"), [
    ('<bpmn:serviceTask id="archive" name="Archive" camunda:class="org.acme.Archive"/>',
     "service task archive (Archive) has no implementation opsgate can run"),
    ('<bpmn:serviceTask id="archive" name="Archive"/>',
     "service task archive (Archive) has no implementation opsgate can run"),
    ('<bpmn:serviceTask id="archive" name="Archive" camunda:type="external"/>',
     "service task archive (Archive) is a Camunda external task without a topic: give it camunda:topic"),
])
def test_service_tasks_are_refused_in_words(db_session, task, said):
    owner = person(db_session, "owner", "process_owner")
    source = (DATA / "invoice" / "invoice.bpmn").read_text()
    start = source.index('<bpmn:serviceTask id="archive"')
    end = source.index("</bpmn:serviceTask>", start) + len("</bpmn:serviceTask>")
    source = source[:start] + task + source[end:]
    with pytest.raises(InvalidDefinition) as refused:
        deployment.deploy(db_session, [("invoice.bpmn", source.encode()), INVOICE[1]], actor=owner)
    assert [(p["element_id"], p["message"][:len(said)]) for p in refused.value.details] == [("archive", said)]
