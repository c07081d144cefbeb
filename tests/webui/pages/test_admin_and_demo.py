"""Admin pages change users, groups, tokens and providers; `opsgate demo` seeds every state."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select, text

from engine import db
from engine.people import users
from models import ApiToken


def test_admin_creates_a_user_edits_groups_and_revokes_a_token(login, people, session):
    admin = login(people["admin"])
    created = admin.post("/admin/users", data={"name": "nina", "display_name": "Nina N", "password": "a-long-password",
                                               "groups": ["engineer"]})
    assert created.status_code == 302
    nina = users.get_user(session, "nina")
    assert nina.group_names == {"requester", "engineer"}
    short = admin.post("/admin/users", data={"name": "x", "password": "short"})
    assert short.status_code == 422 and "at least 10" in short.get_data(as_text=True)
    edited = admin.post(f"/admin/users/{nina.id}", data={"display_name": "Nina", "groups": ["cab"], "active": "y",
                                                          "whole_form": "1"})
    assert edited.status_code == 302
    session.expire_all()
    assert users.get_user(session, "nina").group_names == {"requester", "cab"}
    listed = admin.get("/admin/users").get_data(as_text=True)  # groups by the names people read
    assert '<span title="cab">' in listed and ">cab<" not in listed
    page = admin.post("/admin/tokens", data={"user": "nina", "name": "script"}).get_data(as_text=True)
    assert "og_" in page and "shown only once" in page
    token = session.scalars(select(ApiToken)).one()
    assert admin.post(f"/admin/tokens/{token.id}/revoke").status_code == 302
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is not None
    assert admin.post("/admin/providers", data={"name": "Acme", "systems": "erp, mail"}).status_code == 302
    assert "erp, mail" in admin.get("/admin/providers").get_data(as_text=True)
    assert admin.post("/admin/groups", data={"name": "night_shift"}).status_code == 302
    assert "night_shift" in admin.get("/admin/groups").get_data(as_text=True)


def test_demo_seeds_cases_in_every_state(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("OPSGATE_DEMO_PASSWORD", "demo-password-1")
    from webui.cli.base import main

    result = CliRunner().invoke(main, ["--database-url", url, "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "cathy" in result.output and "demo-password-1" in result.output
    engine = db.make_engine(url)
    with engine.connect() as conn:
        cases = conn.execute(text('SELECT key, status, outcome FROM "case" ORDER BY id')).all()
        escalated = conn.execute(text("SELECT count(*) FROM audit_event WHERE type = 'case_escalated'")).scalar()
        waiting = conn.execute(text("SELECT element_id FROM human_task WHERE state = 'ready'")).scalars().all()
    engine.dispose()
    assert ("closed", "implemented") in {(c.status, c.outcome) for c in cases}
    assert escalated >= 1 and "cab_approval" in waiting and "diagnose" in waiting
