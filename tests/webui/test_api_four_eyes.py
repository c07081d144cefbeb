"""Four-eyes on process changes through the API: a process owner proposes, another approves or
rejects with a comment, the author never reviews their own change; an admin's emergency put-live."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.cases import proposals
from models import AuditEvent, Notification
from tests.conftest import DATA

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def four_eyes(deploy, session):
    deploy(WORKFLOWS / "process_change.bpmn")
    proposals.set_four_eyes(session, True, actor=None)
    session.commit()


def propose(client, text: str):
    response = client.post("/processes", data=text.encode(), headers=XML)
    assert response.status_code == 201, response.json
    return response.json


def test_a_proposal_goes_live_only_when_another_owner_approves(api_as, four_eyes, session):
    author, reviewer = api_as("process_owner", name="olga"), api_as("process_owner", name="pete")
    body = propose(author, (DATA / "four_steps.bpmn").read_text())
    assert body["status"] == "proposed" and body["deployed"][0]["review_case"].startswith("PCH-")
    assert author.get("/processes/four_steps").status_code == 404  # nothing live yet: no case can start on it
    own = author.post("/processes/four_steps/versions/1/review", json={"decision": "approve", "comment": "fine"})
    assert own.status_code == 403 and "separation of duties" in own.json["error"]["message"].lower()
    missing = reviewer.post("/processes/four_steps/versions/1/review", json={"decision": "approve"})
    assert missing.status_code == 422
    done = reviewer.post("/processes/four_steps/versions/1/review",
                         json={"decision": "approve", "comment": "Checked the lanes and the form."})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "live" and done.json["reviewed_by"] == "pete"
    assert author.get("/processes/four_steps").json["version"] == 1
    case = author.get(f"/cases/{body['deployed'][0]['review_case']}").json
    assert case["status"] == "closed" and case["outcome"] == "approved"
    types = [e["type"] for e in author.get(f"/cases/{case['key']}/history").json]
    assert types[:1] == ["case_started"] and "gate_approved" in types and types[-1] == "case_closed"
    assert session.scalars(select(AuditEvent.type).where(AuditEvent.type == "process_approved")).one()


def test_a_rejected_proposal_never_goes_live_and_the_history_says_why(api_as, four_eyes, deploy, session):
    deploy("four_steps.bpmn")  # v1 live, deployed by the system
    session.commit()
    author, reviewer = api_as("process_owner", name="olga"), api_as("process_owner", name="pete")
    changed = (DATA / "four_steps.bpmn").read_text().replace('name="Diagnose"', 'name="Diagnose the fault"', 1)
    assert changed != (DATA / "four_steps.bpmn").read_text()
    assert propose(author, changed)["version"] == 2
    rejected = reviewer.post("/processes/four_steps/versions/2/review",
                             json={"decision": "reject", "comment": "Keep the old name."})
    assert rejected.json["status"] == "rejected"
    assert author.get("/processes/four_steps").json["version"] == 1
    again = reviewer.post("/processes/four_steps/versions/2/review", json={"decision": "approve", "comment": "x"})
    assert again.status_code == 409
    history = author.get("/processes/four_steps/history").json
    assert [(v["version"], v["status"], v["proposed_by"], v["reviewed_by"], v["review_comment"])
            for v in history["versions"]] == [(2, "rejected", "olga", "pete", "Keep the old name."),
                                              (1, "live", "system", None, "")]


def test_an_admin_puts_a_version_live_in_an_emergency_and_owners_are_told(api_as, four_eyes, session):
    author = api_as("process_owner", name="olga")
    api_as("process_owner", name="pete")
    admin = api_as("admin", name="ada")
    propose(author, (DATA / "four_steps.bpmn").read_text())
    refused = author.post("/processes/four_steps/versions/1/put-live", json={"reason": "hurry"})
    assert refused.status_code == 403
    assert admin.post("/processes/four_steps/versions/1/put-live", json={"reason": " "}).status_code == 422
    done = admin.post("/processes/four_steps/versions/1/put-live", json={"reason": "Outage: the old form blocks"})
    assert done.status_code == 200 and done.json["status"] == "live" and done.json["emergency"] is True
    event = session.scalars(select(AuditEvent).where(AuditEvent.type == "process_put_live")).one()
    assert event.actor == "ada" and event.data["reason"] == "Outage: the old form blocks"
    told = session.scalars(select(Notification).where(Notification.kind == "process_put_live",
                                                      Notification.channel == "app")).all()
    assert len(told) == 2  # olga and pete
    review = author.get(f"/cases/{done.json['review_case']}").json
    assert review["status"] == "cancelled"


def test_without_four_eyes_a_deploy_is_live_at_once(api_as, deploy, session):
    deploy(WORKFLOWS / "process_change.bpmn")
    session.commit()
    body = propose(api_as("process_owner"), (DATA / "four_steps.bpmn").read_text())
    assert body["status"] == "live"
