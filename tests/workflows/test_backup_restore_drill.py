"""Backup and restore drill: started by hand or by the monthly schedule; failure is never a pass."""

import datetime as dt

from sqlalchemy import select

from models import Case, Timer

BACKUP = {"system": "core banking", "backup_media": "tape", "media_label": "CB-2026-11-02 full",
          "backup_date": "2026-11-02", "backup_content": "database full backup"}


def test_drill_started_by_hand_passes(desk):
    case = desk.start("backup_restore_drill", {"reason": "after the storage move"}, by="eve")
    assert case.key.startswith("DRL-")
    assert desk.tasks(case) == ["run_backup"]
    desk.act(case, "run_backup", BACKUP, by="eve")
    desk.act(case, "restore", {"restore_target": "test-db-2", "restore_result": "succeeded"}, by="eve")
    desk.act(case, "verify", {"integrity_check": "passed", "function_check": "passed"}, by="ed")
    case = desk.act(case, "record_drill", {"drill_report": "restored in 40 min"}, by="eve")
    assert case.status == "closed" and case.outcome == "passed"


def test_failed_restore_opens_follow_up_and_closes_as_failed(desk):
    case = desk.start("backup_restore_drill", {}, by="eve")
    desk.act(case, "run_backup", BACKUP, by="eve")
    desk.act(case, "restore", {"restore_target": "test-db-2", "restore_result": "failed"}, by="eve")
    assert desk.tasks(case) == ["record_drill"]
    desk.act(case, "record_drill", {"drill_report": "tape unreadable"}, by="eve")
    assert desk.tasks(case) == ["plan_follow_up"]
    desk.act(case, "plan_follow_up", {"follow_up_plan": "replace the tape drive (Eve, 1 week)"}, by="mona")
    desk.act(case, "complete_follow_up", {"follow_up_result": "drive replaced; next drill 9 Dec"}, by="eve")
    case = desk.session.merge(case)
    assert case.status == "closed" and case.outcome == "failed"
    assert desk.closing(case) == {"outcome": "failed", "missing_records": []}


def test_failed_verification_is_a_failed_drill(desk):
    case = desk.start("backup_restore_drill", {}, by="eve")
    desk.act(case, "run_backup", BACKUP, by="eve")
    desk.act(case, "restore", {"restore_target": "test-db-2", "restore_result": "succeeded"}, by="eve")
    desk.act(case, "verify", {"integrity_check": "passed", "function_check": "failed"}, by="ed")
    desk.act(case, "record_drill", {"drill_report": "app cannot read restored data"}, by="eve")
    assert desk.tasks(case) == ["plan_follow_up"]


def test_a_drill_started_by_hand_leaves_no_schedule_running_in_the_case(desk):
    case = desk.start("backup_restore_drill", {}, by="eve")
    assert desk.session.scalars(select(Timer).where(Timer.case_id == case.id)).all() == []


def test_the_monthly_schedule_opens_a_drill(desk):
    desk.fire(dt.datetime(2027, 1, 4, 1, 0, 1, tzinfo=dt.timezone.utc))
    drills = desk.session.scalars(select(Case).where(Case.process_key == "backup_restore_drill")).all()
    assert len(drills) == 1 and desk.tasks(drills[0]) == ["run_backup"]
