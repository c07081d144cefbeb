"""Where the CPU of opsgate's complete-task step goes, by sampling (the step of bench/engine.py).

    python bench/step_profile.py [--cases 2500] [--all-steps]

Runs bench/engine.py's opsgate side (SQLite, instance cache on) and samples the stack every few
milliseconds of process CPU (`signal.ITIMER_PROF`) while a step runs. Unlike cProfile, which
charges every Python call a few microseconds and so inflates the code that makes many small
calls (SQLAlchemy's, SpiffWorkflow's), a sample costs the same wherever it lands. Each sample
goes to the first bucket that matches its stack from the innermost frame out, so SQLite's own
time is counted apart from the code that called it. The step's last completion (the one that
ends the case, a quarter of the steps) is left out unless --all-steps: bench/engine.py
reports medians, and the median step is a completion in the middle of a case.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import signal
import statistics
import tempfile
import time
from pathlib import Path
from types import FrameType

_SPEC = importlib.util.spec_from_file_location("bench_engine", Path(__file__).resolve().parent / "engine.py")
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)  # puts the checkout first on sys.path

from engine.cases import services  # after bench/engine.py has put the checkout on the path

# (bucket, file suffix, function): the innermost frame that matches names the bucket.
BUCKETS = [
    ("SQLite: COMMIT (writing the WAL)", "sqlalchemy/engine/default.py", "do_commit"),
    ("SQLite: executing the statements", "sqlalchemy/engine/default.py", "do_execute"),
    ("SQLite: executing the statements", "sqlalchemy/engine/default.py", "do_executemany"),
    ("SpiffWorkflow: serialize the instance", "engine/cases/serializer.py", "dump"),
    ("SpiffWorkflow: complete the task and step", "engine/cases/stepping.py", "run_task"),
    ("read the task and its case (objects, opening the transaction)", "engine/cases/services.py", "_ready_task"),
    ("audit event (hash, INSERT)", "engine/records/audit.py", "append"),
    ("task rows (INSERT human_task, groups, bars)", "engine/cases/persistence.py", "_project_tasks"),
    ("task rows (INSERT human_task, groups, bars)", "engine/cases/persistence.py", "_project_bars"),
    ("case row (UPDATE, the object made clean)", "engine/cases/persistence.py", "write_case"),
    ("facts of an ended case", "engine/processes/case_facts.py", "record_ended"),
    ("rest of save (data snapshot, SLA, timers, waits)", "engine/cases/persistence.py", "save"),
    ("rest of complete_task (checks, form, votes)", "engine/cases/services.py", "complete_task"),
    ("session: create, commit, close (SQLAlchemy)", "bench/step_profile.py", "step"),
]


class Sampler:
    def __init__(self) -> None:
        self.on = False
        self.counts: collections.Counter[str] = collections.Counter()

    def __call__(self, _signum: int, frame: FrameType | None) -> None:
        if not self.on:
            return
        while frame is not None:
            code = frame.f_code
            for bucket, suffix, name in BUCKETS:
                if code.co_name == name and code.co_filename.endswith(suffix):
                    self.counts[bucket] += 1
                    return
            frame = frame.f_back
        self.counts["other"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2500)
    parser.add_argument("--all-steps", action="store_true", help="also sample the completions that end a case")
    args = parser.parse_args()
    side = bench.Opsgate(f"sqlite:///{tempfile.mkdtemp(prefix='opsgate-profile-')}/opsgate.db")
    sampler = Sampler()
    cpu: list[float] = []

    def step(task_id: str, data: dict, who: str, sampled: bool) -> None:
        c0 = time.thread_time()
        sampler.on = sampled
        session = side.maker()
        services.complete_task(session, task_id, data, actor=side.people[who])
        session.commit()
        session.close()
        sampler.on = False
        if sampled:
            cpu.append(time.thread_time() - c0)

    signal.signal(signal.SIGPROF, sampler)
    signal.setitimer(signal.ITIMER_PROF, 0.0005, 0.0005)
    for number in range(args.cases + 30):  # the first 30 cases warm up
        case_id = side.start()
        for element, data, who in bench.STEPS:
            step(side.ready_task(case_id), data, who, number >= 30 and (args.all_steps or element != "implement"))
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    total = sum(sampler.counts.values())
    median = statistics.median(cpu) * 1e6
    print(f"{len(cpu)} steps, median CPU {median:.0f} us, {total} samples")
    for bucket, count in sampler.counts.most_common():
        print(f"{100 * count / total:5.1f}%  {median * count / total:5.0f} us  {bucket}")


if __name__ == "__main__":
    main()
