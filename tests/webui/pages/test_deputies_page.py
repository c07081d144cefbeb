"""Deputies page: name a deputy, who then finds the person's task in their inbox marked as theirs
"for" the person, and a task page that says on whose behalf they act; a manager reassigns."""
from __future__ import annotations

import datetime as dt

from engine.timing import clock
from models import HumanTask


def local(delta_hours: float) -> str:
    return (clock.now() + dt.timedelta(hours=delta_hours)).strftime("%Y-%m-%dT%H:%M")


def test_a_deputy_is_named_and_sees_the_persons_work(login, people, purchase, session, make_user):
    erin = login(people["engineer"])
    page = erin.get("/deputies").get_data(as_text=True)
    assert "Name a deputy" in page and "No deputy is named." in page
    refused = erin.post("/deputies", data={"deputy": "erin", "starts_at": local(-1), "ends_at": local(24)})
    assert refused.status_code == 422 and "cannot be their own deputy" in refused.get_data(as_text=True)
    made = erin.post("/deputies", data={"deputy": "carl", "starts_at": local(-1), "ends_at": local(24),
                                        "note": "course"})
    assert made.status_code == 302
    listed = erin.get("/deputies").get_data(as_text=True)
    assert "course" in listed and "End now" in listed
    carl = login(people["change_manager"])
    inbox = carl.get("/tasks").get_data(as_text=True)
    assert "Review request" in inbox and "for erin" in inbox
    task = session.query(HumanTask).filter_by(case_id=purchase.id, state="ready").one()
    assert "You act on behalf of erin" in carl.get(f"/tasks/{task.id}").get_data(as_text=True)


def test_a_manager_reassigns_from_the_task_page(login, people, purchase, session, make_user):
    make_user("engineer", name="ezra", password="correct-horse-1")
    session.commit()
    task = session.query(HumanTask).filter_by(case_id=purchase.id, state="ready").one()
    mona = login(people["manager"])
    assert 'id="reassign-form"' in mona.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="reassign-form"' not in login(people["engineer"]).get(f"/tasks/{task.id}").get_data(as_text=True)
    moved = mona.post(f"/tasks/{task.id}/reassign", data={"to": "ezra", "reason": "Erin is ill"})
    assert moved.status_code == 302
    page = mona.get(f"/cases/{purchase.key}").get_data(as_text=True)
    assert "Task reassigned" in page
