"""Benchmark: one warm worker's timers per second, and the CPU a timer costs the worker and its
PostgreSQL backend.

    python bench/timer_cpu.py --postgres postgresql+psycopg://.../db [--timers 600]

Fills a database as bench/timers.py does (`--timers` cases of tests/data/timer_wait.bpmn, each
waiting on a due timer), then in this process runs one pass of 10 timers to warm it (the spec
parsed, the statements compiled: what a long-running worker pays once) and one pass of the
rest on one connection, reading the CPU time of this process and of the connection's backend
(from /proc, so PostgreSQL must run on this machine). Run it alternately in two checkouts to
compare them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import text

from bench.timers import NOW, Postgres
from engine import db
from engine.jobs import worker


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timers", type=int, default=600)
    parser.add_argument("--postgres", required=True, help="PostgreSQL URL (its database name prefixes the bench's)")
    args = parser.parse_args()
    backend = Postgres(args.postgres, args.timers)
    try:
        engine = db.make_engine(backend.fresh())
        factory = db.make_sessionmaker(engine)
        with factory() as session:
            session.execute(text("SELECT 1"))
        worker.run_once(factory, now=NOW, deliver=False, limit=10, batch=10)
        with engine.connect() as conn:  # the pool's one connection, which the passes use
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        backend_cpu, cpu, began = _cpu_seconds(pid), time.process_time(), time.time()
        result = worker.run_once(factory, now=NOW, deliver=False)
        wall, cpu = time.time() - began, time.process_time() - cpu
        backend_cpu = _cpu_seconds(pid) - backend_cpu
        engine.dispose()
    finally:
        backend.close()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{result.handled} warm timers: {result.handled / wall:.0f} /s, worker {1000 * cpu / result.handled:.2f} ms "
          f"CPU/timer, PostgreSQL backend {1000 * backend_cpu / result.handled:.2f} ms CPU/timer; load average {load}")


if __name__ == "__main__":
    main()
