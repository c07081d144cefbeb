"""Cases stored before opsgate's own timer definitions keep running after the upgrade.

tests/data/legacy_timer_states.json holds states written by the code before the change
(SpiffWorkflow's `event_value` / `event_fired` keys, a paused clock parked at 9999-12-31);
tests/data/legacy_timer_states.py says how it was made. Each is restored with today's code:
the timer projection must say what it said then, the timers must go on as they would have,
and what is saved afterwards carries only opsgate's keys.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import db
from engine.cases import queries, serializer, stepping
from engine.jobs import worker
from engine.processes import bpmn_xml, scripting, specs
from engine.processes.manifest import Manifest
from engine.timing import clock, definitions, timers
from models import Case
from tests.engine.timer_helpers import World, migrated_copy

DATA = Path(__file__).parent.parent / "data"
LEGACY = json.loads((DATA / "legacy_timer_states.json").read_text())
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
# The SLA clocks each state was projected with when it was written.
SLA: dict[str, set[str] | None] = {"intermediate_waiting": {"work_sla"}}


@pytest.fixture(autouse=True)
def default_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OPSGATE_CALENDAR", "OPSGATE_CALENDAR_COUNTRY", "OPSGATE_CALENDAR_TIMEZONE",
                "OPSGATE_CALENDAR_HOURS", "OPSGATE_CALENDAR_SUBDIVISION"):
        monkeypatch.delenv(key, raising=False)


def _loaded(filename: str, key: str) -> specs.Loaded:
    parser = specs.new_parser()
    specs.add_bpmn(parser, bpmn_xml.parse_xml((DATA / filename).read_bytes()), filename)
    spec, subspecs = specs.build(parser, key)
    return specs.Loaded(key, spec, subspecs, Manifest.from_dict(None))


def restored(name: str) -> BpmnWorkflow:
    entry = LEGACY[name]
    return serializer.restore(entry["state"], _loaded(entry["file"], entry["process"]))


def projection(name: str, wf: BpmnWorkflow, at: dt.datetime) -> tuple[list[dict[str, Any]], list[list[str]]]:
    with clock.frozen(at):
        waiting = timers.waiting_timers(wf, SLA.get(name))
        due_times = stepping.timer_due_times(wf)
    return (sorted([{"element_id": t.element_id, "kind": t.kind, "due_at": t.due_at.isoformat(), "cycle": t.cycle,
                     "cycles_left": t.cycles_left, "period": t.period} for t in waiting],
                   key=lambda d: (d["element_id"], d["kind"])),
            sorted([[task.task_spec.bpmn_id, due.isoformat()] for task, due in due_times]))


def timer_data(state: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(element, state name, internal data) of every timer task that can still fire, in a stored state."""
    dct = json.loads(state)
    tasks = list(dct["tasks"].values()) + [t for sp in dct["subprocesses"].values() for t in sp["tasks"].values()]
    live = (TaskState.WAITING, TaskState.READY)
    return [(t["task_spec"], TaskState.get_name(t["state"]), t["internal_data"]) for t in tasks
            if t["state"] in live and any(k.startswith(("opsgate_", "event_")) for k in t["internal_data"])
            and t["task_spec"] != "start" and not t["task_spec"].endswith("_start")]


def refresh(wf: BpmnWorkflow, at: dt.datetime) -> list[tuple[str, dt.datetime]]:
    with clock.frozen(at):
        before = timers.waiting_timers(wf)
        wf.refresh_timers()
        wf.do_engine_steps()
        return sorted((t.element_id, due) for t, due in timers.fired_timers(before, wf, at))


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_a_stored_state_projects_as_it_did(name):
    entry = LEGACY[name]
    wf = restored(name)
    at = dt.datetime.fromisoformat(entry["at"])
    assert projection(name, wf, at) == (entry["waiting"], entry["due_times"])


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_saving_writes_only_opsgates_keys(name):
    entry = LEGACY[name]
    assert any("event_value" in data for _e, _s, data in timer_data(entry["state"]))  # the fixture is old
    wf = restored(name)
    with clock.frozen(dt.datetime.fromisoformat(entry["at"])):
        timers.waiting_timers(wf, SLA.get(name))
        stepping.timer_due_times(wf)
        state = serializer.dump(wf)
    for element, state_name, data in timer_data(state):
        if state_name == "WAITING":
            assert "event_value" not in data and "event_fired" not in data, (element, data)
    again = serializer.restore(state, _loaded(entry["file"], entry["process"]))
    assert projection(name, again, dt.datetime.fromisoformat(entry["at"])) == (entry["waiting"], entry["due_times"])


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("legacy_timer_states", DATA / "legacy_timer_states.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tasks(state: str) -> list[tuple[str, int, dict[str, Any]]]:
    dct = json.loads(state)
    tasks = list(dct["tasks"].values()) + [t for sp in dct["subprocesses"].values() for t in sp["tasks"].values()]
    return sorted(((t["task_spec"], t["state"], t["internal_data"]) for t in tasks), key=lambda t: (t[0], t[1]))


def test_todays_code_takes_the_same_steps_to_the_same_states(monkeypatch):
    """The scenarios the fixture was made with, replayed on today's parse: every task in the same
    state, the same projection, and each timer's data what the migration makes of the old one."""
    generator = _generator()
    monkeypatch.setattr(generator, "BUILD", specs.build)
    today = generator.scenarios()
    assert sorted(today) == sorted(LEGACY)
    for name, entry in LEGACY.items():
        assert (today[name]["waiting"], today[name]["due_times"]) == (entry["waiting"], entry["due_times"]), name
        old, new = _tasks(entry["state"]), _tasks(today[name]["state"])
        assert [(e, s) for e, s, _d in old] == [(e, s) for e, s, _d in new], name
        for (element, _state, before), (_e, _s, after) in zip(old, new, strict=True):
            migrated = dict(before)
            if isinstance(definitions.ours(_definition(entry, element)), definitions.OpsgateTimer):
                definitions.migrate(migrated)
            assert migrated == after, (name, element)


def _definition(entry: dict[str, Any], element: str) -> Any:
    loaded = _loaded(entry["file"], entry["process"])
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        if element in spec.task_specs:
            return getattr(spec.task_specs[element], "event_definition", None)
    return None


def test_a_cycle_goes_on_from_where_it_was():
    wf = restored("sla_cycle_fired_once")  # the hourly reminder fired at 10:00; two repetitions left
    assert refresh(wf, T0 + 2 * H + S) == [("remind", T0 + 2 * H)]
    assert refresh(wf, T0 + 4 * H + S) == [("remind", T0 + 3 * H), ("sla_breach", T0 + 4 * H)]


def test_a_sent_warning_is_not_sent_again_and_the_clock_still_runs_out():
    wf = restored("sla_warned_cycle_spent")
    breach = next(t for t in timers.waiting_timers(wf) if t.element_id == "sla_breach")
    assert not timers.mark_warned(wf, breach.task_id)
    assert refresh(wf, T0 + 4 * H - S) == []
    assert refresh(wf, T0 + 4 * H + S) == [("sla_breach", T0 + 4 * H)]


def test_a_parked_clock_resumes_with_the_time_it_had_left():
    wf = restored("sla_paused")  # paused at 10:00 with 3 of its 4 hours left
    with clock.frozen(T0 + 10 * H):
        assert timers.apply_pause(wf, ["ask_requester"])
        wf.refresh_timers()  # a parked clock does not fire while paused
        wf.do_engine_steps()
        assert ("sla_breach", "boundary") not in {(t.element_id, t.kind) for t in timers.waiting_timers(wf)}
        assert not timers.apply_pause(wf, [])
        found = {(t.element_id, t.kind): t.due_at for t in timers.waiting_timers(wf)}
        assert "9999" not in serializer.dump(wf)
    assert found[("sla_breach", "boundary")] == T0 + 13 * H
    assert found[("sla_breach", "sla_warning")] == T0 + 12 * H  # still at 75% of 4h


def test_a_parked_business_hours_clock_resumes_like_one_paused_today():
    """The same steps run on today's code, then both clocks resume at the same instant."""
    today = BpmnWorkflow(*specs.build(_parser("timer_pending.bpmn"), "timer_pending"),
                         script_engine=scripting.script_engine())
    with clock.frozen(T0):
        today.do_engine_steps()
        timers.waiting_timers(today)
    with clock.frozen(T0 + H):
        (task,) = today.get_tasks(state=TaskState.READY, manual=True)
        task.run()
        today.do_engine_steps()
        assert timers.apply_pause(today, ["provide_info"])
    old = restored("business_hours_paused")
    resumed_at = T0 + dt.timedelta(days=1, hours=5)
    with clock.frozen(resumed_at):
        assert not timers.apply_pause(today, [])
        assert not timers.apply_pause(old, [])
        assert projection("business_hours_paused", old, resumed_at) == projection("today", today, resumed_at)
        assert timers.waiting_timers(old)[0].due_at > resumed_at


def _parser(filename: str) -> Any:
    parser = specs.new_parser()
    specs.add_bpmn(parser, bpmn_xml.parse_xml((DATA / filename).read_bytes()), filename)
    return parser


def test_an_intermediate_timer_fires_and_the_case_ends():
    wf = restored("intermediate_waiting")
    assert refresh(wf, T0 + H - S) == []
    assert refresh(wf, T0 + H + S) == [("cool_off", T0 + H)]
    assert wf.is_completed()


def test_a_case_started_on_schedule_runs_on():
    wf = restored("scheduled_start")
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True)] == ["check"]
    with clock.frozen(dt.datetime(2026, 12, 2, 2, tzinfo=UTC)):
        wf.refresh_timers()  # the start event's cycle is spent: no second path
        wf.do_engine_steps()
        assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True)] == ["check"]
        (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
        task.run()
        wf.do_engine_steps()
    assert wf.is_completed()


def test_the_worker_fires_a_stored_case_of_the_old_format(tmp_path):
    """A case row whose state was written by the old code, fired by `opsgate worker`."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'template.db'}")
    db.upgrade(engine)
    engine.dispose()
    engine = migrated_copy(tmp_path / "template.db", tmp_path / "opsgate.db")
    world = World(engine)
    world.setup(T0 - H, "timer_kinds.bpmn")
    key = world.start(T0, "timer_kinds")
    world.complete(T0, key, "work", "erin", {"note": "done"})
    with world.tx() as s:  # what an upgrade finds in the database
        case = queries.find_case(s, key)
        case.state = LEGACY["intermediate_waiting"]["state"]
    assert worker.run_once(world.factory, now=T0 + H - S).fired == 0
    assert worker.run_once(world.factory, now=T0 + H + S).fired == 1
    assert world.events(key, "timer_fired", "case_closed") == [("timer_fired", "cool_off"), ("case_closed", None)]
    with world.tx() as s:
        stored = s.scalars(select(Case).where(Case.key == key)).one()
        assert (stored.status, stored.outcome) == ("closed", "completed")
    engine.dispose()


def test_a_definition_reads_the_old_keys_once():
    """The migration path itself: SpiffWorkflow's keys move to ours and are gone."""
    class Task:
        internal_data: dict[str, Any] = {}

    task = Task()
    task.internal_data = {"event_value": {"cycles": 2, "next": "2026-11-30T11:00:00+00:00", "duration": 3600.0},
                          "event_fired": False, "other": 1}
    cycle = definitions.OpsgateCycle("remind", '"R3/PT1H"')
    assert cycle.due(task) == T0 + 2 * H and cycle.cycle(task) == (2, 3600.0)
    assert task.internal_data == {"opsgate_due": "2026-11-30T11:00:00+00:00", "opsgate_fired": False,
                                  "opsgate_cycle": {"left": 2, "period": 3600.0}, "other": 1}
    task.internal_data = {"event_value": "9999-12-31T00:00:00+00:00", "opsgate_sla_remaining": 60.0}
    duration = definitions.OpsgateDuration("sla", '"PT4H"')
    assert duration.is_paused(task) and duration.due(task) is None and duration.remaining(task) == 60.0
    assert task.internal_data == {"opsgate_sla_remaining": 60.0}
    task.internal_data = {"event_value": "2026-12-01T09:00:00Z"}  # a timeDate kept its value as evaluated
    assert definitions.OpsgateTimeDate("at", '"2026-12-01T09:00:00Z"').due(task) == T0 + 24 * H
    assert task.internal_data == {"opsgate_due": "2026-12-01T09:00:00+00:00"}
