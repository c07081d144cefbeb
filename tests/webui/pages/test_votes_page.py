"""The case page shows a vote's count and who voted what, with comments, in both languages."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cases import queries, services
from engine.processes import deployment
from models import HumanTask

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"


@pytest.fixture
def voting(session, people, make_user):
    """A normal change at the CAB: Cathy approved with a comment, Colin and Cora have not voted."""
    board = {"colin": make_user("cab", name="colin", password="correct-horse-1", display_name="Colin Chen"),
             "cora": make_user("cab", "change_manager", name="cora", password="correct-horse-1")}
    files = [(p.name, p.read_bytes()) for p in sorted(WORKFLOWS.iterdir()) if p.suffix in (".bpmn", ".dmn")]
    deployment.deploy(session, files, actor=people["admin"])
    case = services.start_case(session, "change_request", {
        "change_type": "normal", "system": "mail", "description": "Upgrade", "finance_system": "no",
        "change_plan": "1. stop 2. upgrade", "rollback_plan": "restore"}, actor=people["requester"], title="Mail upgrade")
    assess = queries.open_tasks(session, case)[0]
    services.complete_task(session, assess.id, {"risk": "low", "impact_assessment": "none", "decision": "approve"},
                           actor=people["change_manager"])
    mine = next(t for t in queries.open_tasks(session, case) if t.assignee_id == people["cab"].id)
    services.complete_task(session, mine.id, {"decision": "approve", "comment": "Tested on the replica"},
                           actor=people["cab"])
    session.commit()
    return case, board


def test_the_case_page_shows_the_tally_and_each_vote(login, people, voting, session):
    case, _board = voting
    page = login(people["auditor"]).get(f"/cases/{case.key}").get_data(as_text=True)
    votes = page[page.index('id="votes"'):page.index('id="votes"') + 4000]
    assert "CAB approval" in votes and "majority; one reject vetoes" in votes
    assert "1 approve · 0 reject · 2 not voted, of 3" in votes
    assert "Tested on the replica" in votes and "Colin Chen" in votes and "not voted yet" in votes
    assert "Vote cast" in page


def test_the_tally_reads_in_chinese(login, people, voting, session):
    case, _board = voting
    client = login(people["auditor"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    page = client.get(f"/cases/{case.key}").get_data(as_text=True)
    votes = page[page.index('id="votes"'):page.index('id="votes"') + 4000]
    assert "表决" in votes and "变更委员会审批" in votes and "多数通过" in votes
    assert "尚未表决" in votes and "Tested on the replica" in votes


def test_a_member_cannot_cast_anothers_vote_from_the_task_page(login, people, voting, session):
    case, board = voting
    colins = session.query(HumanTask).filter_by(case_id=case.id, assignee_id=board["colin"].id, state="ready").one()
    response = login(board["cora"]).post(f"/tasks/{colins.id}", data={"decision": "approve"})
    assert response.status_code == 403
    assert "Colin" in response.get_data(as_text=True) or "colin" in response.get_data(as_text=True)
