"""Worker processes against one PostgreSQL: each due timer fires exactly once, none is lost.

The workers are real processes (`opsgate worker --once --now ...`), racing for the same rows;
the audit trail is the proof: one `timer_fired` event per timer, and the case moved on.
"""
from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import db
from engine.cases import services
from engine.people import users
from engine.processes import deployment
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, Timer
from tests.conftest import DATA, PG_URL

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
DUE = "2026-12-01T02:00:01+00:00"  # the waits are due since 10:00 the day before; the daily start just now
ROOT = Path(__file__).resolve().parents[2]


def _open_cases(engine, count: int) -> None:
    maker = db.make_sessionmaker(engine)
    with maker.begin() as s, clock.frozen(T0):
        deployment.deploy(s, [(name, (DATA / name).read_bytes()) for name in ("timer_wait.bpmn", "timer_schedule.bpmn")],
                           actor=None)
        requester = users.create_user(s, "req", [], actor=None)
        for _ in range(count):
            services.start_case(s, "timer_wait", {}, actor=requester)


def _worker(*extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", "from webui.cli.base import main; main()", "--database-url", PG_URL,
                             "worker", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _fired_per_case(engine) -> dict[int, int]:
    maker = db.make_sessionmaker(engine)
    with maker() as s:
        rows = s.execute(select(AuditEvent.case_id, func.count()).where(AuditEvent.type == "timer_fired")
                         .group_by(AuditEvent.case_id)).all()
        return dict(rows)


def test_four_worker_processes_fire_500_timers_exactly_once(pg_clean):
    _open_cases(pg_clean, 500)
    workers = [_worker("--once", "--now", DUE) for _ in range(4)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0] * 4, outputs
    fired = _fired_per_case(pg_clean)
    maker = db.make_sessionmaker(pg_clean)
    with maker() as s:
        case_ids = set(s.scalars(select(Case.id)))
        assert len(case_ids) == 501  # the 500, and one case the daily schedule started
        assert fired == dict.fromkeys(case_ids, 1)  # every timer once, none lost
        assert s.scalar(select(func.count()).select_from(Case).where(Case.process_key == "timer_schedule")) == 1
        assert s.scalars(select(Timer.kind)).all() == ["start"]  # the schedule moved on to the next day
        assert s.scalar(select(func.count()).select_from(HumanTask)
                        .where(HumanTask.element_id == "after", HumanTask.state == "ready")) == 500
    # They really raced: the work was shared, and the counts add up.
    counts = [int(out.split("fired ", 1)[1].split()[0]) for out, _err in outputs]
    assert sum(counts) == 501
    assert sum(1 for n in counts if n) >= 2, counts


def test_a_worker_killed_between_claim_and_commit_fires_once_after_restart(pg_clean):
    _open_cases(pg_clean, 1)
    script = textwrap.dedent(f"""
        import datetime as dt, os, signal
        from sqlalchemy import text
        from engine import db
        from engine.jobs import worker
        from engine.jobs.firing import fire_timer

        def fire_then_die(session, timer, now):
            fire_timer(session, timer, now)      # the case moved on, the audit event is written ...
            session.execute(text("SELECT 1"))    # (a statement sends the batch's held writes)
            os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before the commit

        engine = db.make_engine({PG_URL!r})
        worker.run_once(db.make_sessionmaker(engine), now=dt.datetime.fromisoformat({DUE!r}), fire=fire_then_die)
    """)
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _fired_per_case(pg_clean) == {}
    maker = db.make_sessionmaker(pg_clean)
    with maker() as s:
        assert s.scalar(select(func.count()).select_from(Timer)) == 2  # still there, not lost
    restarted = _worker("--once", "--now", DUE)
    _out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    again = _worker("--once", "--now", DUE)
    again.communicate(timeout=120)
    assert list(_fired_per_case(pg_clean).values()) == [1, 1]  # the wait, and the scheduled start
    with maker() as s:
        assert s.scalars(select(Timer.kind)).all() == ["start"]


def test_a_worker_killed_mid_batch_beside_another_loses_and_doubles_nothing(pg_clean):
    """One worker dies half way through its second batch (the first is committed) while a second
    worker races it; a third cleans up. Every timer fired exactly once, none lost."""
    _open_cases(pg_clean, 150)
    script = textwrap.dedent(f"""
        import datetime as dt, os, signal, time
        from sqlalchemy import text
        from engine import db
        from engine.jobs import worker
        from engine.jobs.firing import fire_timer

        fired = []

        def fire_then_die(session, timer, now):
            if len(fired) == 10:
                print("second batch claimed", flush=True)
                time.sleep(3)  # holding its ten rows while the other worker fires the rest
            if len(fired) == 17:
                session.execute(text("SELECT 1"))  # sends the batch's held writes ...
                os.kill(os.getpid(), signal.SIGKILL)  # ... seven timers into the second batch, before its commit
            fired.append(timer.id)
            return fire_timer(session, timer, now)

        engine = db.make_engine({PG_URL!r})
        worker.run_once(db.make_sessionmaker(engine), now=dt.datetime.fromisoformat({DUE!r}), fire=fire_then_die,
                        deliver=False, batch=10)
    """)
    killer = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    # The other worker starts once the first has committed a batch and holds the second, so
    # that it races it, whichever process the machine happens to run faster.
    assert killer.stdout.readline().strip() == "second batch claimed", killer.stderr.read()
    other = _worker("--once", "--now", DUE)
    _out, err = killer.communicate(timeout=300)
    assert killer.returncode == -signal.SIGKILL, err
    _out, err = other.communicate(timeout=300)
    assert other.returncode == 0, err
    last = _worker("--once", "--now", DUE)
    _out, err = last.communicate(timeout=300)
    assert last.returncode == 0, err
    maker = db.make_sessionmaker(pg_clean)
    with maker() as s:
        case_ids = set(s.scalars(select(Case.id)))
        assert len(case_ids) == 151  # the 150, and the case the daily schedule started
        assert _fired_per_case(pg_clean) == dict.fromkeys(case_ids, 1)
        assert s.scalar(select(func.count()).select_from(HumanTask)
                        .where(HumanTask.element_id == "after", HumanTask.state == "ready")) == 150
        assert s.scalars(select(Timer.kind)).all() == ["start"]
