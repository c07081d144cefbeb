"""Write tests/data/legacy_timer_states.json: case states as opsgate stored them before its own timer
definitions (main at 1283324), when timers kept SpiffWorkflow's `event_value` / `event_fired` keys.

    python tests/data/legacy_timer_states.py   # only meaningful on code before the change

The file was generated once from that commit and is kept as it was written: the states in it
are what stored cases look like after an upgrade, so tests/engine/test_timer_migration.py checks
that they restore and keep running. Each entry holds the process file, the instant it was taken
at, the serialized state (without the spec) and what the timer projection said then. The
script itself does not run on newer code (its parse leaves SpiffWorkflow's timers in place,
which opsgate now refuses); test_timer_migration replays its scenarios with `BUILD` set to
today's parse and checks they reach the same states.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine.cases import serializer, stepping  # noqa: E402
from engine.processes import bpmn_xml, scripting, specs  # noqa: E402
from engine.timing import clock, timers  # noqa: E402

DATA = Path(__file__).parent
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)


def _stock(parser: Any, key: str) -> tuple[Any, dict[str, Any]]:
    return parser.get_spec(key), parser.get_subprocess_specs(key)


# How a parser's result becomes a spec: the stock parse (the code this file was made with), or,
# when test_timer_migration replays the same steps on today's code, engine.processes.specs.build.
BUILD: Callable[[Any, str], tuple[Any, dict[str, Any]]] = _stock


def _spec(filename: str, key: str) -> tuple[Any, dict[str, Any]]:
    parser = specs.new_parser()
    specs.add_bpmn(parser, bpmn_xml.parse_xml((DATA / filename).read_bytes()), filename)
    return BUILD(parser, key)


def _start(filename: str, key: str, start_event: str | None = None) -> BpmnWorkflow:
    spec, subspecs = _spec(filename, key)
    wf = BpmnWorkflow(spec, subspecs, script_engine=scripting.script_engine())
    if start_event:
        timers.fire_start_event(wf, start_event)
    wf.do_engine_steps()
    return wf


def _complete(wf: BpmnWorkflow, element_id: str) -> None:
    (task,) = [t for t in wf.get_tasks(spec_name=element_id) if t.state == TaskState.READY]
    task.run()
    wf.do_engine_steps()


def _refresh(wf: BpmnWorkflow) -> None:
    wf.refresh_timers()
    wf.do_engine_steps()


def _entry(filename: str, key: str, at: dt.datetime, wf: BpmnWorkflow, sla: set[str] | None = None) -> dict[str, Any]:
    with clock.frozen(at):
        waiting = timers.waiting_timers(wf, sla)
        due_times = stepping.timer_due_times(wf)
    return {
        "file": filename, "process": key, "at": at.isoformat(), "state": serializer.dump(wf),
        "waiting": sorted([{"element_id": t.element_id, "kind": t.kind, "due_at": t.due_at.isoformat(),
                            "cycle": t.cycle, "cycles_left": t.cycles_left, "period": t.period}
                           for t in waiting], key=lambda d: (d["element_id"], d["kind"])),
        "due_times": sorted([[task.task_spec.bpmn_id, due.isoformat()] for task, due in due_times]),
    }


def scenarios() -> dict[str, Any]:
    """Run every scenario; return its entries by name."""
    out: dict[str, Any] = {}
    # An SLA clock seen once (its length recorded), a reminder cycle that fired once.
    with clock.frozen(T0):
        wf = _start("timer_sla.bpmn", "sla")
        timers.waiting_timers(wf)
    with clock.frozen(T0 + H + S):
        _refresh(wf)
    out["sla_cycle_fired_once"] = _entry("timer_sla.bpmn", "sla", T0 + H + S, wf)

    # The reminder cycle used up (three periods), the SLA warning sent.
    with clock.frozen(T0):
        wf = _start("timer_sla.bpmn", "sla")
        breach = next(t for t in timers.waiting_timers(wf) if t.element_id == "sla_breach")
    with clock.frozen(T0 + 3 * H + S):
        _refresh(wf)
        timers.mark_warned(wf, breach.task_id)
    out["sla_warned_cycle_spent"] = _entry("timer_sla.bpmn", "sla", T0 + 3 * H + S, wf)

    # A paused SLA clock: its due instant parked, 3 of its 4 hours left.
    with clock.frozen(T0):
        wf = _start("timer_sla.bpmn", "sla")
        timers.waiting_timers(wf)
    with clock.frozen(T0 + H):
        timers.apply_pause(wf, ["ask_requester"])
    out["sla_paused"] = _entry("timer_sla.bpmn", "sla", T0 + H, wf)

    # A business-hours clock paused while the requester provides information.
    with clock.frozen(T0):
        wf = _start("timer_pending.bpmn", "timer_pending")
        timers.waiting_timers(wf)
    with clock.frozen(T0 + H):
        _complete(wf, "diagnose")
        timers.apply_pause(wf, ["provide_info"])
    out["business_hours_paused"] = _entry("timer_pending.bpmn", "timer_pending", T0 + H, wf)

    # An intermediate timer (bare ISO duration in the model) waiting.
    with clock.frozen(T0):
        wf = _start("timer_kinds.bpmn", "timer_kinds")
        _complete(wf, "work")
    out["intermediate_waiting"] = _entry("timer_kinds.bpmn", "timer_kinds", T0, wf, {"work_sla"})

    # A case opened by its cycle start event (the start event's cycle spent, the path running).
    at = dt.datetime(2026, 12, 1, 2, tzinfo=UTC)
    with clock.frozen(at):
        wf = _start("timer_schedule.bpmn", "timer_schedule", start_event="daily")
    out["scheduled_start"] = _entry("timer_schedule.bpmn", "timer_schedule", at, wf)
    return out


def main() -> None:
    (DATA / "legacy_timer_states.json").write_text(json.dumps(scenarios(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
