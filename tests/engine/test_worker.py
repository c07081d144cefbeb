"""The timer worker against a committed SQLite database, with a controlled clock.

Each test names the instants it runs the worker at: just before a due time nothing fires,
just after it the timer fires once, and running again changes nothing.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.jobs import delivery, worker
from engine.timing import clock
from models import AuditEvent, Case
from tests.engine.timer_helpers import UTC, World, migrated_copy

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)


@pytest.fixture
def world(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    for key in ("OPSGATE_CALENDAR", "OPSGATE_CALENDAR_COUNTRY", "OPSGATE_CALENDAR_TIMEZONE",
                "OPSGATE_CALENDAR_HOURS", "OPSGATE_CALENDAR_SUBDIVISION", "OPSGATE_SMTP_HOST"):
        monkeypatch.delenv(key, raising=False)
    engine = migrated_copy(template, tmp_path / "opsgate.db")
    w = World(engine)
    w.setup(T0 - H, "timer_kinds.bpmn", "timer_schedule.bpmn", "timer_pending.bpmn")
    yield w
    engine.dispose()


def run(world: World, at: dt.datetime) -> worker.PassResult:
    return worker.run_once(world.factory, now=at)


def test_boundary_timer_fires_at_its_instant_and_escalates(world):
    key = world.start(T0, "timer_kinds")
    assert ("work_sla", "boundary", T0 + 4 * H) in world.timers(key)
    late = run(world, T0 + 4 * H - S)  # the warning at 3h and the hourly reminder, three periods late
    assert (late.handled, late.fired) == (2, 3)
    assert world.events(key, "timer_fired", "case_escalated") == [("timer_fired", "remind")] * 3
    assert world.events(key, "sla_warning") == [("sla_warning", "work_sla")]
    assert world.ready(key) == ["work"]
    result = run(world, T0 + 4 * H + S)
    assert (result.handled, result.fired) == (1, 1)
    assert world.events(key, "timer_fired", "case_escalated")[-2:] == [("timer_fired", "work_sla"),
                                                                       ("case_escalated", "work_sla")]
    assert world.ready(key) == ["escalated"]
    assert run(world, T0 + 10 * H).handled == 0
    assert world.timers(key) == []


def test_cycle_fires_once_per_period(world):
    key = world.start(T0, "timer_kinds")
    for hour in (1, 2, 3):
        for _ in range(2):  # a second pass at the same instant fires nothing more
            run(world, T0 + hour * H + S)
        assert world.events(key, "timer_fired").count(("timer_fired", "remind")) == hour
    run(world, T0 + 3 * H + 30 * dt.timedelta(minutes=1))
    assert world.events(key, "timer_fired").count(("timer_fired", "remind")) == 3  # R3: three periods


def test_intermediate_timer_fires_at_its_instant(world):
    key = world.start(T0, "timer_kinds")
    world.complete(T0 + 30 * dt.timedelta(minutes=1), key, "work", "erin")
    assert [t[:2] for t in world.timers(key)] == [("cool_off", "intermediate")]
    run(world, T0 + 90 * dt.timedelta(minutes=1) - S)
    assert world.case(key).status == "open"
    run(world, T0 + 90 * dt.timedelta(minutes=1) + S)
    assert world.case(key).status == "closed"
    assert world.events(key, "timer_fired") == [("timer_fired", "cool_off")]


def test_exactly_at_the_due_instant_it_has_not_fired_yet(world):
    key = world.start(T0, "timer_kinds")
    run(world, T0 + H)
    assert world.events(key, "timer_fired") == []
    run(world, T0 + H + dt.timedelta(microseconds=1))
    assert world.events(key, "timer_fired") == [("timer_fired", "remind")]


def test_timer_start_event_starts_one_case_per_due_time(world):
    first = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert world.timers() == [("daily", "start", first)]
    run(world, first - S)
    run(world, first + S)
    run(world, first + 2 * S)
    with world.tx() as s:
        cases = s.scalars(select(Case).where(Case.process_key == "timer_schedule")).all()
        assert [c.key for c in cases] == ["DAY-000001"]
    assert world.events("DAY-000001")[:2] == [("case_started", None), ("timer_fired", "daily")]
    assert world.ready("DAY-000001") == ["check"]
    assert ("daily", "start", first + 24 * H) in world.timers()
    run(world, first + 24 * H + S)
    with world.tx() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.process_key == "timer_schedule")) == 2


def test_redeploying_keeps_the_schedule(world):
    from engine.people import users
    from engine.processes import deployment

    data = (Path(__file__).parent.parent / "data" / "timer_schedule.bpmn").read_text()
    with world.tx(T0) as s:
        admin = world.user(s, "admin")
        deployment.deploy(s, [("timer_schedule.bpmn", data.replace("Daily check", "Daily check v2").encode())],
                           actor=admin)
    assert [t[:2] for t in world.timers()] == [("daily", "start")]
    assert world.timers()[0][2] == dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    del users


def test_sla_clock_pauses_while_waiting_on_the_requester(world):
    # business_hours(8) from Monday 09:00 on the default calendar (Mon-Fri 09-17 UTC).
    key = world.start(T0, "timer_pending")
    assert ("resolution_sla", "boundary", T0 + 8 * H) in world.timers(key)
    assert ("resolution_sla", "sla_warning", T0 + 6 * H) in world.timers(key)
    world.complete(T0 + H, key, "diagnose", "erin")  # Monday 10:00: now waiting on the requester
    case = world.case(key)
    assert case.sla_paused_at == T0 + H and world.timers(key) == []
    run(world, T0 + 30 * H)  # nothing runs out while paused
    assert world.events(key, "sla_warning", "timer_fired") == []
    wednesday_noon = T0 + 2 * 24 * H + 3 * H
    world.complete(wednesday_noon, key, "provide_info", "rick", {"info": "the printer is on floor 2"})
    case = world.case(key)
    assert case.sla_paused_at is None and case.sla_paused_seconds == 50 * 3600
    # 7 working hours were left: Wednesday 12-17 and Thursday 09-11.
    thursday = T0 + 3 * 24 * H
    assert ("resolution_sla", "boundary", thursday + 2 * H) in world.timers(key)
    assert ("resolution_sla", "sla_warning", thursday) in world.timers(key)  # 2 working hours before
    assert [e[0] for e in world.events(key, "sla_paused", "sla_resumed")] == ["sla_paused", "sla_resumed"]
    run(world, thursday + S)
    assert world.events(key, "sla_warning") == [("sla_warning", "resolution_sla")]
    run(world, thursday + 2 * H - S)
    assert world.events(key, "case_escalated") == []
    run(world, thursday + 2 * H + S)
    assert world.events(key, "case_escalated") == [("case_escalated", "resolution_sla")]


def test_killed_between_claim_and_commit_fires_once_after_restart(world):
    key = world.start(T0, "timer_kinds")
    world.complete(T0, key, "work", "erin")

    def crash(session, timer, now):
        from engine.jobs.firing import fire_timer

        fire_timer(session, timer, now)
        raise KeyboardInterrupt  # dies after the work, before the commit

    with pytest.raises(KeyboardInterrupt):
        worker.run_once(world.factory, now=T0 + 2 * H, fire=crash)
    assert world.events(key, "timer_fired") == [] and world.case(key).status == "open"
    run(world, T0 + 2 * H)
    run(world, T0 + 2 * H)
    assert world.events(key, "timer_fired") == [("timer_fired", "cool_off")]


def test_a_broken_timer_is_put_aside_and_the_rest_fire(world):
    one, two = world.start(T0, "timer_kinds"), world.start(T0, "timer_kinds")
    world.complete(T0, one, "work", "erin")
    world.complete(T0, two, "work", "erin")
    calls = []

    def flaky(session, timer, now):
        from engine.jobs.firing import fire_timer

        calls.append(timer.id)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return fire_timer(session, timer, now)

    result = worker.run_once(world.factory, now=T0 + 2 * H, fire=flaky)
    assert (result.errors, result.handled) == (1, 1)
    assert run(world, T0 + 2 * H).handled == 0  # put aside for a while
    assert run(world, T0 + 2 * H + worker.RETRY_AFTER + S).handled == 1
    assert world.case(one).status == world.case(two).status == "closed"


def test_audit_chain_stays_intact(world):
    from engine.records import audit

    key = world.start(T0, "timer_kinds")
    run(world, T0 + 5 * H)
    with world.tx() as s, clock.frozen(T0 + 5 * H):
        assert audit.verify(s).ok
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.type == "case_escalated")) == 1
    assert world.ready(key) == ["escalated"]


# -- notifications -------------------------------------------------------------------------------


def notices(world, kind, channel="app"):
    from models import Notification, User

    with world.tx() as s:
        rows = s.execute(select(User.name, Notification.subject, Notification.status)
                         .join(User, User.id == Notification.user_id)
                         .where(Notification.kind == kind, Notification.channel == channel)
                         .order_by(Notification.id)).all()
        return [tuple(r) for r in rows]


def test_notifications_reach_a_local_smtp_server(world, monkeypatch):
    from tests.smtp_server import smtp_server

    with smtp_server() as (inbox, port):
        monkeypatch.setenv("OPSGATE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("OPSGATE_SMTP_PORT", str(port))
        monkeypatch.setenv("OPSGATE_SMTP_FROM", "opsgate@example.org")
        key = world.start(T0, "timer_kinds")
        assert notices(world, "task_assigned") == []  # the action itself tells nobody
        assert worker.run_once(world.factory, now=T0, deliver=False).announced == 1
        assert notices(world, "task_assigned") == [("erin", f"{key}: Work", "sent")]
        assert notices(world, "task_assigned", "email") == [("erin", f"{key}: Work", "pending")]
        assert inbox.messages == []  # sent on delivery, after the commit
        run(world, T0 + 3 * H + S)
        run(world, T0 + 4 * H + S)
    assert notices(world, "sla_warning", "email") == [("erin", f"{key}: 75% of Work SLA used", "sent")]
    assert notices(world, "case_escalated", "email") == [("erin", f"{key}: escalated: Work SLA", "sent")]
    assert notices(world, "task_assigned", "email")[-1] == ("mona", f"{key}: Escalated work", "sent")
    received = [(m["To"], m["Subject"]) for m in inbox.messages]
    assert received == [
        ("erin@example.org", f"{key}: Work"),
        ("erin@example.org", f"{key}: 75% of Work SLA used"),
        ("erin@example.org", f"{key}: escalated: Work SLA"),
        ("mona@example.org", f"{key}: Escalated work"),
    ]
    assert "Work SLA runs out at 2026-11-30 13:00 UTC" in inbox.messages[1].get_payload()


def test_a_failing_mail_server_never_blocks_case_work(world, monkeypatch):
    from models import Notification
    from tests.smtp_server import free_port, smtp_server

    monkeypatch.setenv("OPSGATE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OPSGATE_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("OPSGATE_SMTP_TIMEOUT", "2")
    key = world.start(T0, "timer_kinds")
    result = run(world, T0 + 4 * H + S)
    assert world.ready(key) == ["escalated"]  # the escalation committed all the same
    assert result.mail.sent == 0 and result.mail.retried >= 1
    with world.tx() as s:
        row = s.scalars(select(Notification).where(Notification.channel == "email").order_by(Notification.id)).first()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "ConnectionRefusedError" in row.last_error
        assert row.next_attempt_at == T0 + 4 * H + S + delivery.backoff(1)
    # Retries back off; after the last one the row is marked failed and kept.
    at = T0 + 4 * H + S
    for attempt in range(2, delivery.MAX_ATTEMPTS + 1):
        at += delivery.backoff(attempt - 1)
        run(world, at)
    with world.tx() as s:
        row = s.get(Notification, row.id)
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", delivery.MAX_ATTEMPTS, None)
    # When the server is back, new mail goes out; the failed rows stay failed (no resend storm).
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("OPSGATE_SMTP_PORT", str(port))
        later = world.start(at, "timer_kinds")
        run(world, at + S)
    assert [(m["To"], m["Subject"]) for m in inbox.messages] == [("erin@example.org", f"{later}: Work")]


def test_bad_smtp_settings_never_block_case_work(world, monkeypatch):
    from models import Notification

    monkeypatch.setenv("OPSGATE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OPSGATE_SMTP_TLS", "sometimes")
    key = world.start(T0, "timer_kinds")
    assert world.ready(key) == ["work"]
    assert run(world, T0 + S).mail.retried == 1
    with world.tx() as s:
        row = s.scalars(select(Notification).where(Notification.channel == "email")).one()
        assert "OPSGATE_SMTP_TLS" in row.last_error


def test_a_mail_retry_succeeds_once_the_server_is_back(world, monkeypatch):
    from tests.smtp_server import free_port, smtp_server

    monkeypatch.setenv("OPSGATE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OPSGATE_SMTP_PORT", str(free_port()))
    key = world.start(T0, "timer_kinds")
    assert run(world, T0 + S).mail.retried == 1
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("OPSGATE_SMTP_PORT", str(port))
        assert run(world, T0 + S + delivery.backoff(1) - S).mail.sent == 0  # not before its retry time
        assert run(world, T0 + S + delivery.backoff(1)).mail.sent == 1
    assert [m["Subject"] for m in inbox.messages] == [f"{key}: Work"]


def test_ready_tasks_are_announced_once_and_never_stale(world):
    from engine.cases import services
    from models import HumanTask

    first = world.start(T0, "timer_kinds")
    second = world.start(T0, "timer_kinds")
    with world.tx() as s:
        erin = world.user(s, "erin")
        task = s.scalars(select(HumanTask).join(Case).where(Case.key == second, HumanTask.state == "ready")).one()
        services.claim_task(s, task.id, actor=erin)  # taken before the worker got to it
    assert run(world, T0 + S).announced == 1
    assert notices(world, "task_assigned") == [("erin", f"{first}: Work", "sent")]
    assert run(world, T0 + 2 * S).announced == 0  # each task once
    assert notices(world, "task_assigned") == [("erin", f"{first}: Work", "sent")]


def test_in_app_notices_are_listed_and_marked_read(world):
    from engine.errors import NotFound
    from engine.notifications import notices

    world.start(T0, "timer_kinds")
    run(world, T0)
    with world.tx() as s:
        erin, mona = world.user(s, "erin"), world.user(s, "mona")
        [notice] = notices.list_notices(s, actor=erin, unread=True)
        with pytest.raises(NotFound):
            notices.mark_read(s, notice.id, actor=mona)
        assert notices.mark_read(s, notice.id, actor=erin) == 1
        assert notices.list_notices(s, actor=erin, unread=True) == []
        assert [n.id for n in notices.list_notices(s, actor=erin)] == [notice.id]
        assert notices.count_unread(s, actor=erin) == 0
        assert notices.case_keys(s, [notice]) == {notice.case_id: s.get(Case, notice.case_id).key}


def test_a_row_that_does_not_match_its_case_is_put_aside(world):
    from models import Timer

    key = world.start(T0, "timer_kinds")
    world.complete(T0, key, "work", "erin")
    with world.tx() as s:  # a row the instance knows nothing about (say, left by an old version)
        row = s.scalars(select(Timer).where(Timer.case_id.is_not(None))).one()
        s.add(Timer(case_id=row.case_id, definition_id=row.definition_id, task_id="0" * 36,
                    element_id="ghost", kind="intermediate", escalation=False, due_at=T0))
    result = run(world, T0 + 30 * dt.timedelta(minutes=1))
    assert (result.handled, result.fired, result.errors) == (1, 0, 0)
    with world.tx() as s:
        ghost = s.scalars(select(Timer).where(Timer.element_id == "ghost")).one()
        assert ghost.claimed_by == "error: nothing fired"
    assert run(world, T0 + 31 * dt.timedelta(minutes=1)).handled == 0  # not retried every pass
    run(world, T0 + 2 * H)
    assert world.case(key).status == "closed"  # the real timer fired all the same
