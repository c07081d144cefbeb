"""JSON API: naming a deputy, the deputy's inbox and action on behalf, ending it; reassigning a task."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models import AuditEvent


def iso(delta_hours: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=delta_hours)).isoformat()


def test_a_deputy_sees_and_does_the_persons_work(api_as, ticket, session):
    desk = api_as("service_desk", name="dora")
    stand_in = api_as("engineer", name="stan")
    case = desk.open_ticket()
    assert stand_in.get("/tasks").json == []
    made = desk.post("/delegations", json={"deputy": "stan", "starts_at": iso(-1), "ends_at": iso(48),
                                           "note": "course"})
    assert made.status_code == 201, made.json
    assert {k: made.json[k] for k in ("user", "deputy", "note")} == {"user": "dora", "deputy": "stan", "note": "course"}
    assert [d["deputy"] for d in stand_in.get("/delegations").json] == ["stan"]
    assert [(t["case"], t["name"]) for t in stand_in.get("/tasks").json] == [(case["key"], "Triage")]
    task_id = stand_in.get("/tasks").json[0]["id"]
    done = stand_in.post(f"/tasks/{task_id}/complete", json={"data": {"note": "looked at it"}})
    assert done.status_code == 200, done.json
    event = session.scalars(select(AuditEvent).where(AuditEvent.type == "task_completed")
                            .order_by(AuditEvent.id.desc())).first()
    assert (event.actor, event.data["on_behalf_of"]) == ("stan", "dora")
    ended = desk.post(f"/delegations/{made.json['id']}/end")
    assert ended.status_code == 200 and ended.json["ended_at"] is not None
    assert stand_in.get("/delegations").json == []


def test_bad_delegations_name_the_field(api_as, ticket):
    me = api_as("engineer", name="ivy")
    bad = me.post("/delegations", json={"deputy": "ivy", "starts_at": "tomorrow", "ends_at": iso(2)})
    assert bad.status_code == 422 and "starts_at" in bad.json["error"]["details"]
    own = me.post("/delegations", json={"deputy": "ivy", "starts_at": iso(0), "ends_at": iso(2)})
    assert own.status_code == 422 and "deputy" in own.json["error"]["details"]
    other = me.post("/delegations", json={"user": "admin", "deputy": "ivy", "starts_at": iso(0), "ends_at": iso(2)})
    assert other.status_code in (403, 404)


def test_a_manager_reassigns_with_a_reason(api_as, ticket, session):
    desk = api_as("service_desk", name="dora")
    api_as("service_desk", name="sid")
    boss = api_as("manager", name="mia")
    case = desk.open_ticket()
    task_id = desk.get("/tasks").json[0]["id"]
    assert desk.post(f"/tasks/{task_id}/claim").status_code == 200
    refused = desk.post(f"/tasks/{task_id}/reassign", json={"to": "sid", "reason": "holiday"})
    assert refused.status_code == 403
    no_reason = boss.post(f"/tasks/{task_id}/reassign", json={"to": "sid"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["error"]["details"]
    moved = boss.post(f"/tasks/{task_id}/reassign", json={"to": "sid", "reason": "Dora is on holiday"})
    assert moved.status_code == 200 and moved.json["assignee"] == "sid"
    history = boss.get(f"/cases/{case['key']}/history").json
    assert history[-1]["type"] == "task_reassigned" and history[-1]["actor"] == "mia"
    assert history[-1]["data"]["reason"] == "Dora is on holiday" and history[-1]["data"]["from"] == "dora"
