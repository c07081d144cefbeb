"""Benchmark: moving open cases to another version (docs/migration.md).

    python bench/migrate.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/opsgate_bench [--cases 10000]

Empties the database (drops its schema!), deploys tests/data/migrate_v1.bpmn, opens `--cases`
cases (each waits on its first task, with its SLA clock running), deploys version 2 (a task
added after their position), then prints, for the whole run:

* the dry run: cases planned per second (each case restored and diffed against the target);
* the migration: cases moved per second (each in its own transaction: restore, SpiffWorkflow's
  migrate_workflow, step, SLA clocks carried over, task and timer rows rewritten, audit event).

The load average is printed with the figures: the machine is shared.
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

from engine import db
from engine.cases import services
from engine.config import EngineConfig
from engine.jobs import migrations
from engine.people import users
from engine.processes import deployment

DATA = ROOT / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=migrations.BATCH)
    args = parser.parse_args()
    engine = db.make_engine(args.database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    factory = db.make_sessionmaker(engine, EngineConfig.from_environ())
    with factory.begin() as s:
        owner = users.create_user(s, "olga", ["process_owner"], actor=None)
        owner_id = owner.id
        deployment.deploy(s, [("mig.bpmn", (DATA / "migrate_v1.bpmn").read_bytes())], actor=None)
        rick = users.create_user(s, "rick", [], actor=None)
    started = time.perf_counter()
    done = 0
    while done < args.cases:
        with factory.begin() as s:
            rick = users.get_user(s, "rick")
            for _ in range(min(500, args.cases - done)):
                services.start_case(s, "mig", {}, actor=rick)
                done += 1
    opened = time.perf_counter() - started
    with factory.begin() as s:
        deployment.deploy(s, [("mig.bpmn", (DATA / "migrate_v2.bpmn").read_bytes())], actor=None)
    t0 = time.perf_counter()
    dry = migrations.run_migration(factory, "mig", to_version=2, dry_run=True, actor_id=owner_id, batch=args.batch)
    t1 = time.perf_counter()
    moved = migrations.run_migration(factory, "mig", to_version=2, actor_id=owner_id, batch=args.batch)
    t2 = time.perf_counter()
    assert dry.count("can_move") == args.cases, dry.count("can_move")
    assert moved.count("moved") == args.cases, (moved.count("moved"), moved.count("skipped"))
    load = os.getloadavg()
    print(f"{engine.dialect.name}, {args.cases:,} open cases (opened in {opened:.1f} s), batch {args.batch}")
    print(f"dry run:   {t1 - t0:7.1f} s  {args.cases / (t1 - t0):8.0f} cases/s")
    print(f"migration: {t2 - t1:7.1f} s  {args.cases / (t2 - t1):8.0f} cases/s")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared)")
    engine.dispose()


if __name__ == "__main__":
    main()
