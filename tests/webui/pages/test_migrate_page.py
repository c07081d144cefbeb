"""The process owner's page for moving open cases: check first, then move; CSRF; who may."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.cases import services
from engine.people import users
from models import AuditEvent, Case

DATA = Path(__file__).resolve().parents[2] / "data"


def _cases(deploy, session, people, count=2):
    deploy("migrate_v1.bpmn")
    users.create_user(session, "sam", ["service_desk"], actor=None)
    keys = [services.start_case(session, "mig", {}, actor=people["requester"], title=f"Case {n}").key
            for n in range(count)]
    deploy("migrate_v3.bpmn")
    session.commit()
    return keys


def test_check_then_move_with_a_mapping(login, people, deploy, session):
    first, second = _cases(deploy, session, people)
    client = login(people["process_owner"])
    page = client.get("/processes/mig/migrate")
    assert page.status_code == 200 and "Move open cases of" in page.get_data(as_text=True)
    dry = client.get("/processes/mig/migrate", query_string={"to_version": "2", "from_version": "", "cases": "",
                                                               "mapping": ""}).get_data(as_text=True)
    assert "Dry run: version 2" in dry and "0 can move, 2 cannot move." in dry
    assert "Triage (triage) is not in the target version; map it to an element of the target" in dry
    assert "Case 0" in dry
    form = {"to_version": "2", "from_version": "1", "cases": first.lower(),
            "mapping": "triage=assess\ntriage_sla=assess_sla"}
    checked = client.get("/processes/mig/migrate", query_string=form).get_data(as_text=True)
    assert "1 can move, 0 cannot move." in checked and second not in checked
    moved = client.post("/processes/mig/migrate", data=form)
    text = moved.get_data(as_text=True)
    assert moved.status_code == 200 and "Moved to version 2" in text and "1 moved, 0 skipped, 0 cannot move." in text
    session.expire_all()
    case = session.scalars(select(Case).where(Case.key == first)).one()
    assert case.definition.version == 2
    event = session.scalars(select(AuditEvent).where(AuditEvent.type == "case_migrated")).one()
    assert event.actor == "paul"
    history = client.get("/processes/mig").get_data(as_text=True).split('id="migration-history"')[1]
    assert "paul" in history and "v2" in history


def test_a_bad_mapping_is_shown_on_the_field(login, people, deploy, session):
    _cases(deploy, session, people, count=1)
    response = login(people["process_owner"]).get("/processes/mig/migrate", query_string={
        "to_version": "2", "mapping": "triage"})
    assert response.status_code == 422
    assert "a mapping is written old_element=new_element" in response.get_data(as_text=True)


def test_only_process_owners_and_admins_open_the_page(login, people, deploy, session):
    _cases(deploy, session, people, count=1)
    assert login(people["engineer"]).get("/processes/mig/migrate").status_code == 403
    assert login(people["admin"]).get("/processes/mig/migrate").status_code == 200


def test_moving_needs_the_csrf_token_the_move_button_carries(csrf_app, people, deploy, session):
    _cases(deploy, session, people, count=1)
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"name": "paul", "password": "correct-horse-1",
                                       "csrf_token": token}).status_code == 302
    form = {"to_version": "2", "mapping": "triage=assess\ntriage_sla=assess_sla"}
    refused = client.post("/processes/mig/migrate", data=form)
    assert refused.status_code == 400
    checked = client.get("/processes/mig/migrate", query_string=form).get_data(as_text=True)
    assert "csrf_token" not in checked.split('id="move"')[0].split("<form")[-1]  # the check's address carries none
    button = checked.split('id="move"')[1].split(">")[0]
    token = button.split('value="')[1].split('"')[0]
    moved = client.post("/processes/mig/migrate", data={**form, "csrf_token": token})
    assert moved.status_code == 200 and "1 moved" in moved.get_data(as_text=True)


def test_the_page_speaks_chinese(login, people, deploy, session):
    _cases(deploy, session, people, count=1)
    client = login(people["process_owner"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/processes"})
    text = client.get("/processes/mig/migrate", query_string={"to_version": "2"}).get_data(as_text=True)
    assert "试运行：版本 2" in text and "0 个可迁移，1 个不可迁移。" in text  # noqa: RUF001
    assert "目标版本中没有Triage（triage）；请将它对应到目标版本的某个元素" in text  # noqa: RUF001
