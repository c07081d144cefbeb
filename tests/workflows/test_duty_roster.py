"""Holiday and weekend duty: assigned, confirmed (or swapped), a duty log from the duty day on, reviewed."""

import datetime as dt

import pytest

from engine.errors import NotAllowed

ASSIGNED = {"duty_date": "2026-12-05", "duty_kind": "weekend", "duty_engineer": "eve", "duty_phone": "8801"}
LOG = {"duty_log": "09:00 and 15:00 machine-room rounds; backup job rerun at 11:10", "handover_to": "ed"}
DUTY_DAY = dt.datetime(2026, 12, 5, 0, 0, 1, tzinfo=dt.timezone.utc)


def test_duty_is_confirmed_logged_on_the_day_and_reviewed(desk):
    case = desk.start("duty_roster", ASSIGNED, by="mona")
    assert case.key.startswith("DTY-")
    desk.act(case, "confirm_duty", {"duty_confirmation": "confirmed"}, by="eve")
    assert desk.tasks(case) == []  # waiting for the duty day
    assert desk.fire(DUTY_DAY - dt.timedelta(minutes=5)) == 0
    assert desk.fire(DUTY_DAY) == 1
    assert desk.tasks(case) == ["keep_duty_log"]
    desk.act(case, "keep_duty_log", LOG, by="eve")
    case = desk.act(case, "review_log", {"log_review": "accepted"}, by="mona")
    assert case.status == "closed" and case.outcome == "completed"
    assert desk.closing(case) == {"outcome": "completed", "missing_records": []}


def test_a_swap_is_reassigned_and_a_thin_log_goes_back(desk):
    case = desk.start("duty_roster", {**ASSIGNED, "duty_kind": "holiday", "holiday_name": "New Year"}, by="mona")
    desk.act(case, "confirm_duty", {"duty_confirmation": "swap", "swap_note": "away; Ed could"}, by="eve")
    assert desk.tasks(case) == ["reassign"]
    desk.act(case, "reassign", {"duty_engineer": "ed"}, by="mona")
    desk.act(case, "confirm_duty", {"duty_confirmation": "confirmed"}, by="ed")
    assert case.data["duty_engineer"] == "ed"
    desk.fire(DUTY_DAY)
    desk.act(case, "keep_duty_log", {"duty_log": "quiet", "handover_to": "eve"}, by="ed")
    desk.act(case, "review_log", {"log_review": "rework", "review_comment": "list the rounds and times"}, by="mona")
    assert desk.tasks(case) == ["keep_duty_log"]
    desk.act(case, "keep_duty_log", LOG, by="ed")
    case = desk.act(case, "review_log", {"log_review": "accepted"}, by="mona")
    assert case.outcome == "completed"


def test_a_duty_log_not_written_in_two_days_is_chased(desk):
    case = desk.start("duty_roster", ASSIGNED, by="mona")
    desk.act(case, "confirm_duty", {"duty_confirmation": "confirmed"}, by="eve")
    desk.fire(DUTY_DAY)
    desk.events(case)
    assert desk.fire(DUTY_DAY + dt.timedelta(days=2, minutes=1)) == 1
    assert desk.tasks(case) == ["chase_duty_log", "keep_duty_log"]
    assert "case_escalated" in desk.events(case)
    desk.act(case, "chase_duty_log", {"chase_note": "asked Eve by phone"}, by="mona")
    desk.act(case, "keep_duty_log", LOG, by="eve")
    case = desk.act(case, "review_log", {"log_review": "accepted"}, by="mona")
    assert case.status == "closed"


def test_only_managers_assign_duty(desk):
    with pytest.raises(NotAllowed, match="Manager"):
        desk.start("duty_roster", ASSIGNED, by="eve")
