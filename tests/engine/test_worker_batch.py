"""The worker's batched writes (engine.prepared.deferred): a batch of timers sends each kind of
statement once, and a batch whose writes fail as a whole rolls back and fires again, one by one,
with nothing lost and nothing fired twice. On SQLite and, when configured, on PostgreSQL."""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from engine import prepared
from engine.jobs import firing, worker
from engine.jobs.firing import fire_timer
from engine.notifications import outbox
from engine.records import audit
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, Notification, Timer, User
from tests.conftest import statements
from tests.engine.timer_helpers import UTC, World, migrated_copy

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DUE = T0 + dt.timedelta(hours=1, seconds=1)  # timer_wait waits an hour


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, template: Path, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_clean")
        return
    sqlite_engine = migrated_copy(template, tmp_path / "opsgate.db")
    yield sqlite_engine
    sqlite_engine.dispose()


@pytest.fixture
def world(engine: Engine) -> World:
    w = World(engine)
    w.setup(T0, "timer_wait.bpmn")
    return w


@pytest.fixture
def pg_world(pg_clean: Engine) -> World:
    """The world on PostgreSQL only: for what needs row locks (SQLite has one writer)."""
    w = World(pg_clean)
    w.setup(T0, "timer_wait.bpmn")
    return w


def _fired_once(world: World, keys: list[str]) -> bool:
    return all(world.events(key, "timer_fired") == [("timer_fired", "wait")] for key in keys)


def _batch_statements(world: World, count: int) -> list[str]:
    keys = [world.start(T0, "timer_wait") for _ in range(count)]
    with statements(world.engine) as seen:
        result = worker.run_once(world.factory, now=DUE, deliver=False)
    assert (result.handled, result.fired, result.conflicts) == (count, count, 0)
    assert _fired_once(world, keys)
    assert all(world.ready(key) == ["after"] for key in keys)
    return seen[:seen.index("WITH human_task")]  # then the pass announces the new tasks


def test_a_batch_sends_each_kind_of_write_once_whatever_its_size(world):
    """Five writes a timer (event, task row, its groups, timer rows, case row) went as five
    statements a timer; held and sent per batch, twelve timers cost what two do. If this fails,
    a write escaped the batch (look for a statement without an `order`, or a read between the
    firings, which sends what is held first)."""
    two = _batch_statements(world, 2)
    twelve = _batch_statements(world, 12)
    assert twelve == two == [
        "SELECT timer", "SELECT timer",  # the claim, and the claim that finds no more
        "SELECT case", "SELECT process_definition",  # the batch's cases and versions
        "UPDATE case",  # every case row, each guarded by its version
        "INSERT audit_event", "INSERT human_task", "INSERT human_task_group", "DELETE timer",
        "SELECT timer",  # the next batch finds nothing due
    ]


def _bump_version(session: Session, case_id: int) -> None:
    """Someone else's change to the case, in the batch's own transaction and without sending
    what the batch holds (exec_driver_sql passes by the window's event): the held UPDATE of the
    case then finds the version moved."""
    session.connection().exec_driver_sql(f'UPDATE "case" SET version_id = version_id + 1 WHERE id = {int(case_id)}')


def _state(world: World, keys: list[str]) -> tuple[object, ...]:
    with world.tx() as s:
        return (s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.type == "timer_fired")),
                s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == "ready")),
                s.scalar(select(func.count()).select_from(Timer)),
                sorted(s.scalars(select(Case.version_id).where(Case.key.in_(keys)))))


def test_a_version_conflict_found_when_the_batch_is_sent_rolls_it_back_and_fires_it_one_by_one(world):
    keys = [world.start(T0, "timer_wait") for _ in range(4)]
    before = _state(world, keys)
    calls: list[int] = []

    def changed_meanwhile(session, timer, now):
        calls.append(timer.id)
        fired = fire_timer(session, timer, now)
        if len(calls) == 2:  # the first batch only: its second case changes under it
            _bump_version(session, timer.case_id)
        return fired

    result = worker.run_once(world.factory, now=DUE, fire=changed_meanwhile, deliver=False)
    assert (result.handled, result.fired, result.conflicts, result.errors) == (4, 4, 1, 0)
    assert len(calls) == 8  # the batch of four, rolled back, then the four again
    assert _fired_once(world, keys)
    fired, ready, timers, versions = _state(world, keys)
    assert (fired, ready, timers) == (4, 4, 0)
    assert versions == [v + 1 for v in before[3]]  # one write each: nothing of the failed batch stayed
    with world.tx() as s, clock.frozen(DUE):
        assert audit.verify(s).ok
        assert s.scalars(select(Timer.claimed_by)).all() == []


def test_a_held_write_that_fails_at_a_later_timers_read_is_not_that_timers_fault(world):
    """A read sends what is held first; when that send fails, the timer that read is not the
    one that conflicted: the batch goes back whole, nobody is put aside."""
    keys = [world.start(T0, "timer_wait") for _ in range(3)]
    calls: list[int] = []

    def read_after_a_change(session, timer, now):
        calls.append(timer.id)
        if len(calls) == 3:
            session.execute(text("SELECT 1"))  # sends the first two cases' writes: the first conflicts
        fired = fire_timer(session, timer, now)
        if len(calls) == 1:
            _bump_version(session, timer.case_id)
        return fired

    result = worker.run_once(world.factory, now=DUE, fire=read_after_a_change, deliver=False)
    assert (result.handled, result.fired, result.conflicts, result.errors) == (3, 3, 1, 0)
    assert _fired_once(world, keys)
    with world.tx() as s:
        assert s.scalar(select(func.count()).select_from(Timer)) == 0


def test_a_timer_that_raises_in_a_batch_is_put_aside_and_nothing_of_the_batch_is_written(world):
    keys = [world.start(T0, "timer_wait") for _ in range(3)]
    calls: list[int] = []

    def third_fails(session, timer, now):
        calls.append(timer.id)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return fire_timer(session, timer, now)

    result = worker.run_once(world.factory, now=DUE, fire=third_fails, deliver=False)
    assert (result.handled, result.fired, result.errors) == (2, 2, 1)
    assert sorted(len(world.events(key, "timer_fired")) for key in keys) == [0, 1, 1]
    with world.tx() as s:
        assert [row.claimed_by for row in s.scalars(select(Timer))] == ["error: RuntimeError: boom"]


@pytest.mark.postgres
def test_a_case_changed_by_another_transaction_during_the_batch_conflicts_and_fires_later(pg_world):
    """PostgreSQL: another transaction commits a change to a case after the worker read it and
    before its batch is sent (a person acting on the case). The batch rolls back whole; the
    next fires every timer once, on the case as the other transaction left it."""
    world = pg_world
    keys = [world.start(T0, "timer_wait") for _ in range(3)]
    calls: list[int] = []

    def someone_edits(session, timer, now):
        calls.append(timer.id)
        fired = fire_timer(session, timer, now)
        if len(calls) == 2:
            with world.engine.begin() as other:
                other.execute(text('UPDATE "case" SET title = \'edited\', version_id = version_id + 1 WHERE id = :id'),
                              {"id": timer.case_id})
        return fired

    result = worker.run_once(world.factory, now=DUE, fire=someone_edits, deliver=False)
    assert (result.handled, result.fired, result.conflicts, result.errors) == (3, 3, 1, 0)
    assert _fired_once(world, keys)
    with world.tx() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.title == "edited")) == 1
        assert s.scalar(select(func.count()).select_from(Timer)) == 0


def _fire_without_announcing(world: World, count: int) -> None:
    for _ in range(count):
        world.start(T0, "timer_wait")
    with world.tx(DUE) as s:
        assert firing.fire_due_timers(s, now=DUE) == count


def _notices(world: World) -> list[tuple[str, str]]:
    with world.tx() as s:
        return sorted(s.execute(select(User.name, Notification.task_id).join(User, User.id == Notification.user_id)
                                .where(Notification.kind == "task_assigned")).all())


def test_the_ready_tasks_of_a_pass_are_announced_with_one_insert(world):
    _fire_without_announcing(world, 5)
    with world.factory() as s, s.begin(), clock.frozen(DUE), statements(s) as seen:
        assert outbox.announce_ready_tasks(s) == 5
    assert seen == ["WITH human_task", "SELECT human_task", "INSERT notification"]  # the UPDATE of the queue, its tasks, their notices
    assert [name for name, _task in _notices(world)] == ["erin"] * 5
    assert len({task for _name, task in _notices(world)}) == 5


@pytest.mark.postgres
def test_two_workers_announcing_at_once_take_different_tasks_without_waiting(pg_world):
    world = pg_world
    _fire_without_announcing(world, 4)
    with world.factory() as one, one.begin(), world.factory() as two, two.begin(), clock.frozen(DUE):
        two.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting on the first would fail, not hang
        assert outbox.announce_ready_tasks(one, limit=2) == 2
        assert outbox.announce_ready_tasks(two, limit=2) == 2  # the other two, while the first holds its own
    assert len({task for _name, task in _notices(world)}) == 4


def test_a_case_saved_twice_in_one_window_ends_with_the_rows_of_its_second_save(world):
    """Held writes are reordered by kind; a second save of the same case sends what is held
    first, so its old timer rows are not deleted before the first save's new ones are written."""
    from engine.cases import queries, services
    from engine.processes import deployment
    from tests.engine.timer_helpers import DATA

    with world.tx(T0) as s:
        deployment.deploy(s, [("timer_kinds.bpmn", (DATA / "timer_kinds.bpmn").read_bytes())],
                          actor=world.user(s, "admin"))
    held, plain = world.start(T0, "timer_kinds"), world.start(T0, "timer_kinds")
    hour = dt.timedelta(hours=1)
    for key, window in ((held, True), (plain, False)):
        with world.factory() as s, s.begin():
            case = queries.find_case(s, key)
            with prepared.deferred(s) if window else contextlib.nullcontext():
                for at in (T0 + hour + dt.timedelta(seconds=1), T0 + 2 * hour + dt.timedelta(seconds=1)):
                    assert services.fire_case_timers(s, case, now=at) == 1
    assert world.timers(held) == world.timers(plain)
    assert len(world.timers(held)) == len(set(world.timers(held))) == 3  # the reminder, the SLA and its warning
    assert world.events(held, "timer_fired") == world.events(plain, "timer_fired") == [("timer_fired", "remind")] * 2
