"""Benchmark: what the deploy gate's run-time bounds cost (docs/bpmn.md, "Limits").

    python bench/bounds.py [--rounds 2000]

Prints, side by side in one run (the sides alternate, so machine noise hits them alike):

* expression, in process: a condition the engine proves cheap (`decision == "approve"`), as
  every condition, timer and DMN cell of the shipped pack is; and the same expression under the
  per-bytecode tracer that bounded expressions before (sys.settrace, kept here as the yardstick);
* expression, sandboxed: one that needs the sandbox (`sorted(x)[0] == 1`): a round trip to a
  sandbox process, per evaluation;
* step, bounded vs bare: one `stepping.step` (limits, step budget, depth guard, end-event check)
  against SpiffWorkflow's bare `do_engine_steps()` on the same instance state, per step of the
  four-step process's gateway-and-script path.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.cases import serializer, stepping
from engine.processes import bpmn_xml, scripting, specs
from engine.processes.manifest import Manifest, ProcessInfo
from models import Case


def _traced(code: object, scope: dict) -> object:
    """The pre-gate bound: a tracer checking the clock between bytecodes."""
    deadline = time.monotonic() + 1.0

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != "<bpmn>":
            return None
        frame.f_trace_opcodes = True
        if time.monotonic() > deadline:
            raise RuntimeError("too long")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return eval(code, scope)
    finally:
        sys.settrace(previous)


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def expressions(rounds: int) -> dict[str, float]:
    data = {"decision": "approve", "x": [3, 1, 2], "title": "Mail server down"}
    cheap = 'decision == "approve"'
    code = scripting.compile_code(cheap, "eval")
    scripting.evaluate("sorted(x)[0] == 1", data)  # start the sandbox
    times: dict[str, list[float]] = {"in process": [], "in process, old tracer": [], "sandboxed": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        scripting.evaluate(cheap, data)
        t1 = time.perf_counter()
        scope = {"__builtins__": {}}
        scope.update(data)
        _traced(code, scope)
        t2 = time.perf_counter()
        scripting.evaluate("sorted(x)[0] == 1", data)
        t3 = time.perf_counter()
        times["in process"].append(t1 - t0)
        times["in process, old tracer"].append(t2 - t1)
        times["sandboxed"].append(t3 - t2)
    return {k: _median_us(v) for k, v in times.items()}


def steps(rounds: int) -> dict[str, float]:
    parser = specs.new_parser()
    specs.add_bpmn(parser, bpmn_xml.parse_xml((ROOT / "tests/data/four_steps.bpmn").read_bytes()), "four_steps.bpmn")
    loaded = specs.Loaded("four_steps", parser.get_spec("four_steps"), parser.get_subprocess_specs("four_steps"),
                          Manifest(ProcessInfo(key="four_steps", name="Four steps", case_prefix="FST",
                                               required_records=())))
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=scripting.script_engine())
    workflow.task_tree.data.update(title="t", urgent=True)
    workflow.do_engine_steps()
    for name, values in (("triage", {"category": "software"}), ("diagnose", {"diagnosis": "d"})):
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        assert task.task_spec.bpmn_id == name
        task.data.update(values)
        task.run()
        workflow.do_engine_steps()
    approve = serializer.dump(workflow)  # at the approval gate: completing it runs the gateway
    times: dict[str, list[float]] = {"bare do_engine_steps": [], "bounded stepping.step": []}
    case = Case()  # not in a session: the default configuration's limits
    for round_ in range(rounds):
        for side in (list(times) if round_ % 2 else list(times)[::-1]):  # alternate which goes first
            wf = serializer.restore(approve, loaded)
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(decision="approve")
            task.run()
            instance = stepping.Instance(case, wf, loaded)
            t0 = time.perf_counter()
            if side == "bare do_engine_steps":
                wf.do_engine_steps()
            else:
                stepping.step(instance)
            times[side].append(time.perf_counter() - t0)
    return {k: _median_us(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    for title, figures in (("expression", expressions(args.rounds)), ("step", steps(args.rounds // 4))):
        for name, value in figures.items():
            print(f"{title:10} {name:28} {value:9.1f} us (median)")


if __name__ == "__main__":
    main()
