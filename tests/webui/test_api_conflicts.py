"""A lost race over the API is a 409 with nothing kept, whatever the failed action had changed."""
from __future__ import annotations

from sqlalchemy import func, select, update

from engine.cases import persistence
from models import AuditEvent, Case, HumanTask


def test_a_case_saved_by_someone_else_meanwhile_is_409_and_nothing_is_kept(api_as, ticket, session, monkeypatch):
    desk = api_as("service_desk")
    case = desk.open_ticket()
    (task_id,) = [t["id"] for t in case["open_tasks"] if t["name"] == "Triage"]
    write_case = persistence.write_case

    def saved_meanwhile(s, row):
        # Another action saves the case after this one read it: the row's version moves on
        # while this action holds a changed Case (actors, audit head, state ...).
        s.execute(update(Case).where(Case.id == row.id).values(version_id=Case.version_id + 1)
                  .execution_options(synchronize_session=False))
        write_case(s, row)

    monkeypatch.setattr(persistence, "write_case", saved_meanwhile)
    response = desk.post(f"/tasks/{task_id}/complete", json={"data": {"note": "done"}})
    assert response.status_code == 409, response.get_data(as_text=True)[:300]
    assert response.json["error"]["code"] == "conflict"
    assert session.scalar(select(HumanTask.state).where(HumanTask.id == task_id)) == "ready"
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.chain == case["key"], AuditEvent.type == "task_completed")) == 0
