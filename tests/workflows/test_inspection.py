"""Inspection: scheduled per plan, checklist, each finding opens a linked incident, missed ones escalate."""

import datetime as dt

import pytest
from sqlalchemy import select

from engine.errors import InvalidData, NotAllowed
from engine.people import providers
from models import AuditEvent, Case
from tests.workflows.conftest import after

ITEMS = ("temperature_humidity", "ups", "fire_equipment", "disk_space", "logs", "antivirus")
ALL_OK = {**dict.fromkeys(ITEMS, "ok"), "finding_impact": "medium",
          "inspection_report": "All checked by Eve", "temperature_c": 22.5, "humidity_pct": 45}


def cases_of(desk, process):
    return desk.session.scalars(select(Case).where(Case.process_key == process).order_by(Case.id)).all()


def test_an_inspection_without_findings_closes_with_its_records(desk):
    case = desk.start("inspection", {"inspection_target": "machine_room", "site": "Main machine room",
                                     "inspection_plan": "ad_hoc"}, by="eve")
    assert case.key.startswith("INS-")
    assert desk.tasks(case) == ["inspect"]
    case = desk.act(case, "inspect", ALL_OK, by="eve")
    assert case.status == "closed" and case.outcome == "completed"
    assert case.data["finding_count"] == 0 and case.data["findings"] == []
    assert desk.closing(case) == {"outcome": "completed", "missing_records": []}
    assert cases_of(desk, "incident") == []


def test_each_finding_opens_an_incident_from_inspection_linked_to_the_case(desk):
    case = desk.start("inspection", {"inspection_target": "server", "site": "Rack B servers",
                                     "inspection_plan": "quarterly", "provider": "Acme IT"}, by="eve")
    data = {**ALL_OK, "ups": "finding", "ups_note": "battery at 61 %, replace",
            "disk_space": "finding", "finding_impact": "high"}
    case = desk.act(case, "inspect", data, by="eve")
    assert case.status == "closed" and case.data["finding_count"] == 2
    incidents = cases_of(desk, "incident")
    assert len(incidents) == 2
    ups, disk = incidents
    assert ups.data["source"] == "inspection" and ups.data["opened_from"] == case.key
    assert ups.data["symptoms"] == "UPS: battery at 61 %, replace"
    assert disk.data["symptoms"] == f"Disk space: problem found by inspection {case.key}"
    assert ups.title == "Inspection finding: UPS (Rack B servers)" and ups.priority == "P1"
    assert ups.provider == "Acme IT" or ups.system == "Rack B servers"
    linked = desk.session.scalars(select(AuditEvent.data).where(AuditEvent.case_id == case.id,
                                                               AuditEvent.type == "follow_up_opened")).all()
    assert [d["case"] for d in linked] == [ups.key, disk.key]
    started = desk.session.scalars(select(AuditEvent.data).where(AuditEvent.case_id == ups.id,
                                                                AuditEvent.type == "case_started")).one()
    assert started["opened_from"] == case.key
    assert desk.tasks(ups) == ["diagnose"]


def test_a_missing_report_is_a_missing_record(desk):
    case = desk.start("inspection", {"inspection_target": "machine_room", "site": "Room 2",
                                     "inspection_plan": "monthly"}, by="eve")
    data = {k: v for k, v in ALL_OK.items() if k != "inspection_report"}
    case = desk.act(case, "inspect", data, by="eve")
    assert desk.closing(case) == {"outcome": "completed", "missing_records": ["inspection_report"]}


def test_the_checklist_needs_every_item(desk):
    case = desk.start("inspection", {"inspection_target": "machine_room", "site": "Room 2",
                                     "inspection_plan": "monthly"}, by="eve")
    with pytest.raises(InvalidData) as err:
        desk.complete(case, "inspect", {"ups": "ok", "finding_impact": "low"}, by="eve")
    assert {"temperature_humidity", "antivirus"} <= set(err.value.details)


def test_the_monthly_plan_opens_a_machine_room_inspection_for_its_provider(desk):
    providers.add_provider(desk.session, "RoomCare", systems=["machine room"], actor=desk["sam"])
    desk.fire(dt.datetime(2027, 1, 1, 1, 0, 1, tzinfo=dt.timezone.utc))
    opened = cases_of(desk, "inspection")
    assert len(opened) == 1
    case = opened[0]
    assert case.data["inspection_target"] == "machine_room" and case.data["inspection_plan"] == "monthly"
    assert case.provider == "RoomCare" and desk.tasks(case) == ["inspect"]


def test_the_quarterly_plan_opens_a_server_inspection(desk):
    desk.fire(dt.datetime(2027, 1, 1, 2, 0, 1, tzinfo=dt.timezone.utc))
    targets = sorted(c.data["inspection_target"] for c in cases_of(desk, "inspection"))
    assert targets == ["machine_room", "server"]


def test_a_missed_inspection_escalates_to_the_manager_and_can_still_be_done(desk):
    case = desk.start("inspection", {"inspection_target": "machine_room", "site": "Room 2",
                                     "inspection_plan": "monthly"}, by="eve")
    desk.events(case)
    assert desk.fire(after(case, days=6, hours=23)) == 0
    assert desk.fire(after(case, days=7, minutes=1)) == 1
    assert desk.tasks(case) == ["chase_inspection", "inspect"]
    assert "case_escalated" in desk.events(case)
    with pytest.raises(NotAllowed):
        desk.complete(case, "chase_inspection", {"overdue_action": "x"}, by="eve")
    desk.act(case, "chase_inspection", {"overdue_action": "Eve was on leave; done on the 9th"}, by="mona")
    case = desk.act(case, "inspect", ALL_OK, by="eve")
    assert case.status == "closed" and case.outcome == "completed"
