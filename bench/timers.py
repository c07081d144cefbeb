"""Benchmark: how many due timers per second the worker fires, on SQLite and PostgreSQL, 1 and N workers.

    python bench/timers.py [--timers 300] [--workers 1,2,4] [--rounds 3] [--postgres postgresql+psycopg://.../db]

Each run starts from the same database: `--timers` cases of tests/data/timer_wait.bpmn, each
waiting on one intermediate timer that is due (made once as a template: a copied SQLite file,
a PostgreSQL `CREATE DATABASE ... TEMPLATE`). Then worker processes run one pass
(`engine.jobs.worker.run_once`, what `opsgate worker --once` does) as of an instant after the due
time; each waits at a common start instant after its imports, and the figure is timers
divided by the wall time from that instant to the last worker's end. Beside it, the workers'
CPU time (all workers together, per timer) says what a timer costs the worker whatever else
runs on the machine. Every run is checked: each timer fired exactly once (one `timer_fired`
audit event per case).

The configurations alternate round by round in one process, so machine noise hits them alike;
medians and the ratios between them are what to compare across machines. PostgreSQL runs on
the same machine as the workers here, so N workers share the cores with the database.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from engine import db
from engine.cases import services
from engine.jobs import worker
from engine.people import users
from engine.processes import deployment
from engine.timing import clock
from models import AuditEvent

BPMN = ROOT / "tests" / "data" / "timer_wait.bpmn"
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
NOW = T0 + dt.timedelta(hours=2)


def fill(url: str, count: int) -> None:
    """Migrate and open `count` cases whose timer is due at NOW."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.make_sessionmaker(engine).begin() as s, clock.frozen(T0):
        deployment.deploy(s, [(BPMN.name, BPMN.read_bytes())], actor=None)
        requester = users.create_user(s, "bench", [], actor=None)
        for _ in range(count):
            services.start_case(s, "timer_wait", {}, actor=requester)
    engine.dispose()


def child(url: str) -> None:
    """One worker process: say ready once imported and connected, wait for "go", run one pass, report."""
    factory = db.make_sessionmaker(db.make_engine(url))
    with factory() as session:
        session.execute(text("SELECT 1"))
    print("ready", flush=True)
    sys.stdin.readline()
    began, cpu = time.time(), time.process_time()
    result = worker.run_once(factory, now=NOW, deliver=False)
    print(json.dumps({"began": began, "ended": time.time(), "cpu": time.process_time() - cpu,
                      "handled": result.handled, "conflicts": result.conflicts, "errors": result.errors}), flush=True)


def fired_once(url: str, count: int) -> bool:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEvent.case_id, func.count()).where(AuditEvent.type == "timer_fired")
                            .group_by(AuditEvent.case_id)).all()
    engine.dispose()
    return len(rows) == count and all(n == 1 for _, n in rows)


def run_workers(url: str, workers: int, count: int) -> tuple[float, float]:
    """Start `workers` processes on a fresh copy, release them together; return timers fired per
    second and the workers' CPU milliseconds per timer."""
    procs = [subprocess.Popen([sys.executable, __file__, "--child", url], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    for proc in procs:
        if proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit(f"worker failed to start: {proc.stderr.read()}")  # type: ignore[union-attr]
    released = time.time()
    reports = []
    for proc in procs:
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"worker failed: {err}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    if sum(r["handled"] for r in reports) != count or not fired_once(url, count):
        raise SystemExit(f"not every timer fired exactly once: {reports}")
    return count / (max(r["ended"] for r in reports) - released), 1000 * sum(r["cpu"] for r in reports) / count


class Sqlite:
    def __init__(self, folder: Path, count: int) -> None:
        self.template = folder / "template.db"
        self.run = folder / "run.db"
        fill(f"sqlite:///{self.template}", count)

    def fresh(self) -> str:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.run}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.template, self.run)
        return f"sqlite:///{self.run}"


class Postgres:
    def __init__(self, url: str, count: int) -> None:
        base = make_url(url)
        self.admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.template_name, self.run_name = f"{base.database}_bench_tpl", f"{base.database}_bench_run"
        self.url = base
        for name in (self.run_name, self.template_name):
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{self.template_name}"')
        fill(self._url(self.template_name), count)

    def _sql(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(statement))

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def fresh(self) -> str:
        self._sql(f'DROP DATABASE IF EXISTS "{self.run_name}" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{self.run_name}" TEMPLATE "{self.template_name}"')
        return self._url(self.run_name)

    def close(self) -> None:
        for name in (self.run_name, self.template_name):
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timers", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts to compare (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (its database name prefixes the bench's)")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    import os

    pg_url = args.postgres or os.environ.get("OPSGATE_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as folder:
        backends = {"sqlite": Sqlite(Path(folder), args.timers)}
        if pg_url:
            backends["postgresql"] = Postgres(pg_url, args.timers)
        # The embedded SQLite default runs one worker thread; scale-out is PostgreSQL's.
        counts = [int(n) for n in args.workers.split(",")]
        configs = [("sqlite", 1)] + ([("postgresql", n) for n in counts] if pg_url else [])
        rates: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
        cpus: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
        for _round in range(args.rounds):
            for name, n in configs:
                rate, cpu = run_workers(backends[name].fresh(), n, args.timers)
                rates[(name, n)].append(rate)
                cpus[(name, n)].append(cpu)
        if "postgresql" in backends:
            backends["postgresql"].close()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{args.timers} due timers, one pass, median of {args.rounds} rounds (timers fired per second; "
          f"workers' CPU per timer); {os.cpu_count()} CPUs, load average {load}")
    medians = {c: statistics.median(v) for c, v in rates.items()}
    for (name, n), values in rates.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        cpu = statistics.median(cpus[(name, n)])
        print(f"  {name:<10} {n} worker{'s' if n > 1 else ' '}  {medians[(name, n)]:7.0f} /s  "
              f"{cpu:5.2f} ms CPU/timer   (runs: {runs})")
    for n in [n for n in counts if n != 1 and ("postgresql", 1) in medians]:
        print(f"  postgresql: {n} workers / 1 worker = {medians[('postgresql', n)] / medians[('postgresql', 1)]:.2f}x")
    if ("postgresql", 1) in medians:
        print(f"  1 worker: postgresql / sqlite = {medians[('postgresql', 1)] / medians[('sqlite', 1)]:.2f}x")

if __name__ == "__main__":
    main()
