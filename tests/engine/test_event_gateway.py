"""Event-based gateways racing a timer against a message (issue #16): the timer is projected, fires, and wins;
a message that comes first wins and the timer is gone."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.jobs import worker
from engine.processes import deployment
from tests.engine.timer_helpers import DATA, UTC, World, migrated_copy

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)


@pytest.fixture
def world(template: Path, tmp_path: Path) -> World:
    engine = migrated_copy(template, tmp_path / "opsgate.db")
    w = World(engine)
    w.setup(T0 - H, "event_race.bpmn")
    yield w
    engine.dispose()


def test_the_timer_of_an_event_based_gateway_is_projected_and_wins(world):
    key = world.start(T0, "event_race")
    assert world.timers(key) == [("timeout", "intermediate", T0 + H)]
    worker.run_once(world.factory, now=T0 + H - S)
    assert world.ready(key) == []
    worker.run_once(world.factory, now=T0 + H + S)
    assert world.events(key, "timer_fired") == [("timer_fired", "timeout")]
    assert world.ready(key) == ["chase"]
    assert world.timers(key) == []
    worker.run_once(world.factory, now=T0 + 3 * H)
    assert world.events(key, "timer_fired") == [("timer_fired", "timeout")]


def test_two_timers_in_one_gateway_keep_their_own_due_times(world):
    with world.tx(T0 - H) as s:
        deployment.deploy(s, [("event_race_two.bpmn", (DATA / "event_race_two.bpmn").read_bytes())], actor=None)
    key = world.start(T0, "event_race_two")
    assert world.timers(key) == [("timeout", "intermediate", T0 + H), ("reply", "intermediate", T0 + 2 * H)]
    worker.run_once(world.factory, now=T0 + H + S)
    assert world.ready(key) == ["chase"]
    assert world.timers(key) == []


def test_an_unbounded_cycle_written_without_t_fires_until_the_task_is_left(world):
    with world.tx(T0 - H) as s:
        deployment.deploy(s, [("cycle_forever.bpmn", (DATA / "cycle_forever.bpmn").read_bytes())], actor=None)
    key = world.start(T0, "cycle_forever")
    assert world.timers(key) == [("hourly", "boundary", T0 + H)]
    for hour in (1, 2, 3):
        worker.run_once(world.factory, now=T0 + hour * H + S)
    assert world.events(key, "timer_fired") == [("timer_fired", "hourly")] * 3
    assert world.timers(key) == [("hourly", "boundary", T0 + 4 * H)]
    world.complete(T0 + 3 * H + 2 * S, key, "work", "erin")
    assert world.timers(key) == [] and world.case(key).status == "closed"
