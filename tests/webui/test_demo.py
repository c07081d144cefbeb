"""`opsgate demo` seeds users of every role and cases in several states, without warnings."""
from __future__ import annotations

from sqlalchemy import select

from engine import db
from engine.cases import queries
from engine.records import audit
from models import Case
from webui.cli.demo_data import seed_demo


def test_demo_seeds_cases_in_several_states(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPSGATE_ADMIN_PASSWORD", "a-long-admin-password")
    url = f"sqlite:///{tmp_path}/demo.db"
    passwords = seed_demo(url)
    assert "warning" not in capsys.readouterr().err
    assert {"rita", "carl", "cathy", "aude", "paul", "suzy"} <= set(passwords)
    with db.make_sessionmaker(db.make_engine(url))() as session:
        cases = session.scalars(select(Case)).all()
        statuses = {c.status for c in cases}
        assert {"open", "closed"} <= statuses
        events = {e.type for c in cases for e in audit.history(session, c)}
        assert {"case_started", "case_escalated", "gate_approved", "case_closed"} <= events
        waiting = [t for c in cases for t in queries.open_tasks(session, c) if t.element_id == "cab_approval"]
        assert waiting, "a change waits on the CAB"
        inspection = next(c for c in cases if c.process_key == "inspection")
        assert inspection.status == "closed" and inspection.data["finding_count"] == 1
        found = [c for c in cases if c.data.get("opened_from") == inspection.key]
        assert [(c.process_key, c.data["source"], c.status) for c in found] == [("incident", "inspection", "open")]
        orders = sorted((c.status, c.data.get("rating")) for c in cases if c.process_key == "service_request")
        assert orders == [("closed", 5), ("open", None), ("open", None)]
        assert len(waiting) == 2, "the board is voting: one vote cast, two to come"
        assert "vote_cast" in events
        assert audit.verify(session).ok
