"""Benchmark: moving open cases to another version (docs/migration.md).

    python bench/migrate.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/opsgate_migbench \
        [--cases 10000] [--seeds 30] [--batch 200]

Empties the database (drops its schema!), deploys tests/data/migrate_v1.bpmn and opens the cases:

* `--seeds` cases through the engine (`services.start_case`): two in three wait on their first
  task, Triage, with its SLA clock running; one in three had Triage completed by a person and
  waits on Work;
* the rest are copies of the seeds, written in bulk (`copy_cases`). A copy is a case of its
  own, consistent in itself: its key, its task ids (new UUIDs, in its serialized instance, its
  task, group and timer rows and its audit events alike) and an audit chain of its own, hashed
  anew (`audit.event_hash`), so the engine can act on it and its chain verifies.

Then it deploys version 2 (a task, Review, added after Work) and prints, for all the cases:

* the dry run: cases planned per second (each read in its batch, restored and aligned with the
  target);
* the migration: cases moved per second (each in its own transaction: SpiffWorkflow's
  migrate_workflow, step, SLA clocks carried over, task and timer rows rewritten, audit event).

And checks, after the run: every case is on version 2 with one `case_migrated` event and one
ready task; every audit chain verifies (all of them, the system chain included); a sample of
copied cases restores and moves on in version 2 (Work completed: Review is ready).

The load average is printed with the figures: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import Connection, Engine, func, select, text

from engine import db
from engine.cases import queries, services
from engine.config import EngineConfig
from engine.jobs import migrations
from engine.people import users
from engine.processes import deployment
from engine.records import audit
from models import AuditEvent, Case, HumanTask, HumanTaskBar, HumanTaskGroup, ProcessDefinition, Timer

DATA = ROOT / "tests" / "data"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CHUNK = 1000  # copies written per statement set


def open_seeds(factory: Any, count: int) -> None:
    """Open `count` cases through the engine; every third one has Triage completed."""
    with factory.begin() as s:
        rick, sam = users.get_user(s, "rick"), users.get_user(s, "sam")
        for i in range(count):
            case = services.start_case(s, "mig", {}, actor=rick)
            if i % 3 == 2:
                task = s.scalars(select(HumanTask).where(HumanTask.case_id == case.id,
                                                         HumanTask.state == "ready")).one()
                services.complete_task(s, task.id, {"triage_note": f"seed {i}"}, actor=sam)


def _rows(conn: Connection, table: Any, where: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(table).where(where)).mappings()]


class Seed:
    """A seed case's rows, and how to write a copy of them under another id and key."""

    def __init__(self, conn: Connection, case: dict[str, Any]):
        self.case = case
        self.tasks = _rows(conn, HumanTask.__table__, HumanTask.case_id == case["id"])
        ids = [t["id"] for t in self.tasks]
        self.groups = _rows(conn, HumanTaskGroup.__table__, HumanTaskGroup.task_id.in_(ids))
        self.bars = _rows(conn, HumanTaskBar.__table__, HumanTaskBar.task_id.in_(ids))
        self.timers = _rows(conn, Timer.__table__, Timer.case_id == case["id"])
        self.events = sorted(_rows(conn, AuditEvent.__table__, AuditEvent.chain == case["key"]),
                             key=lambda e: e["seq"])
        self.task_ids = set(json.loads(case["state"])["tasks"])  # SpiffWorkflow's task ids

    def copy(self, new_id: int, new_key: str) -> dict[str, list[dict[str, Any]]]:
        """The rows of a copy: new task ids everywhere they appear, the new key, a chain of its own."""
        fresh = {old: str(uuid.uuid4()) for old in self.task_ids}
        old_key = self.case["key"]

        def swap(value: str) -> str:
            return UUID.sub(lambda m: fresh.get(m.group(0), m.group(0)), value).replace(old_key, new_key)

        def swap_json(value: Any) -> Any:
            return json.loads(swap(json.dumps(value)))

        def task_id(old: str | None) -> str | None:
            return None if old is None else fresh.get(old, old)

        events, prev = [], audit.GENESIS
        for e in self.events:
            data = swap_json(e["data"])
            digest = audit.event_hash(new_key, e["seq"], audit.stamp(e["at"]), e["actor"], e["type"], e["task"],
                                      data, prev)
            events.append({**{k: v for k, v in e.items() if k != "id"}, "chain": new_key, "case_id": new_id,
                           "data": data, "prev_hash": prev, "hash": digest})
            prev = digest
        case = {**self.case, "id": new_id, "key": new_key, "title": swap(self.case["title"]),
                "data": swap_json(self.case["data"]), "actors": swap_json(self.case["actors"]),
                "state": swap(self.case["state"]), "audit_head": prev if events else self.case["audit_head"],
                "dedup_key": None}
        return {
            "case": [case],
            "human_task": [{**t, "id": task_id(t["id"]), "case_id": new_id} for t in self.tasks],
            "human_task_group": [{**g, "task_id": task_id(g["task_id"])} for g in self.groups],
            "human_task_bar": [{**b, "task_id": task_id(b["task_id"])} for b in self.bars],
            "timer": [{**{k: v for k, v in m.items() if k != "id"}, "case_id": new_id, "task_id": task_id(m["task_id"])}
                      for m in self.timers],
            "audit_event": events,
        }


TABLES = {"case": Case.__table__, "human_task": HumanTask.__table__, "human_task_group": HumanTaskGroup.__table__,
          "human_task_bar": HumanTaskBar.__table__, "timer": Timer.__table__, "audit_event": AuditEvent.__table__}


def copy_cases(engine: Engine, total: int) -> int:
    """Copy the cases there are, round robin, until there are `total`; return how many were written."""
    with engine.connect() as conn:
        seeds = [Seed(conn, dict(r)) for r in conn.execute(select(Case.__table__).order_by(Case.id)).mappings()]
    next_id = max(s.case["id"] for s in seeds) + 1
    prefix = seeds[0].case["key"].split("-")[0]
    width = len(seeds[0].case["key"].split("-")[1])
    written = 0
    while len(seeds) + written < total:
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        for _ in range(min(CHUNK, total - len(seeds) - written)):
            new_id = next_id + written
            for name, rows in seeds[written % len(seeds)].copy(new_id, f"{prefix}-{new_id:0{width}d}").items():
                batch[name] += rows
            written += 1
        with engine.begin() as conn:
            for name, table in TABLES.items():
                if batch[name]:
                    conn.execute(table.insert(), batch[name])
    with engine.begin() as conn:
        last = next_id + written - 1
        conn.execute(text("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), :last)"), {"last": last})
        conn.execute(text("UPDATE case_counter SET last = :last WHERE prefix = :prefix"),
                     {"last": last, "prefix": prefix})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return written


def counts(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM \"case\" WHERE status = 'open'), (SELECT count(*) FROM human_task), "
            "(SELECT count(*) FROM human_task WHERE state = 'ready'), (SELECT count(*) FROM timer), "
            "(SELECT count(*) FROM audit_event)")).one()
    return "open cases {:,} / task rows {:,} (ready {:,}) / timer rows {:,} / audit events {:,}".format(*row)


def check(factory: Any, cases: int, v2_id: int) -> str:
    """Assert what a migration of every case must leave; return what was checked."""
    with factory.begin() as s:
        on_v2 = s.scalar(select(func.count()).select_from(Case).where(Case.definition_id == v2_id,
                                                                       Case.status == "open"))
        assert on_v2 == cases, f"{on_v2} of {cases} cases on version 2"
        migrated = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.type == "case_migrated"))
        assert migrated == cases, f"{migrated} case_migrated events for {cases} cases"
        ready = dict(s.execute(select(HumanTask.element_id, func.count()).where(HumanTask.state == "ready")
                               .group_by(HumanTask.element_id)).all())
        assert sum(ready.values()) == cases and set(ready) <= {"triage", "work"}, ready
        started = time.perf_counter()
        verified = audit.verify(s)
        assert verified.ok, verified.reason
        took = time.perf_counter() - started
    sample = []
    with factory.begin() as s:  # copied cases (the highest ids) at Work move on in version 2
        erin = users.get_user(s, "erin")
        tasks = s.scalars(select(HumanTask).where(HumanTask.element_id == "work", HumanTask.state == "ready")
                          .order_by(HumanTask.case_id.desc()).limit(3)).all()
        for task in tasks:
            case = services.complete_task(s, task.id, {"work_note": "bench"}, actor=erin)
            now_ready = s.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case.id,
                                                                     HumanTask.state == "ready")).all()
            assert now_ready == ["review"], (case.key, now_ready)
            sample.append(case.key)
        assert audit.verify(s, queries.find_case(s, sample[0])).ok
    return (f"checked: {cases:,} cases on version 2 with {migrated:,} case_migrated events and one ready task each "
            f"({', '.join(f'{k} {v:,}' for k, v in sorted(ready.items()))}); all audit chains verify "
            f"({verified.checked:,} events, {took:.1f} s); Work completed on {', '.join(sample)}: Review ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL URL (its public schema is dropped)")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=30, help="cases opened through the engine; the rest are copies")
    parser.add_argument("--batch", type=int, default=migrations.BATCH)
    args = parser.parse_args()
    engine = db.make_engine(args.database_url)
    if engine.dialect.name != "postgresql":
        sys.exit("bench/migrate.py runs on PostgreSQL (it copies cases with PostgreSQL's sequences)")
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        server = conn.execute(text("SHOW server_version")).scalar_one()
    db.upgrade(engine)
    factory = db.make_sessionmaker(engine, EngineConfig.from_environ())
    with factory.begin() as s:
        owner_id = users.create_user(s, "olga", ["process_owner"], actor=None).id
        users.create_user(s, "rick", [], actor=None)
        users.create_user(s, "sam", ["service_desk"], actor=None)
        users.create_user(s, "erin", ["engineer"], actor=None)
        deployment.deploy(s, [("mig.bpmn", (DATA / "migrate_v1.bpmn").read_bytes())], actor=None)
    started = time.perf_counter()
    seeds = min(args.seeds, args.cases)
    open_seeds(factory, seeds)
    seeded = time.perf_counter() - started
    copied = copy_cases(engine, args.cases)
    opened = time.perf_counter() - started
    print(f"PostgreSQL {server.split()[0]}, database {engine.url.database}: {args.cases:,} open cases "
          f"({seeds} through the engine in {seeded:.1f} s, {copied:,} copies; {opened:.1f} s in all)")
    print(f"before: {counts(engine)}")
    with factory.begin() as s:
        deployment.deploy(s, [("mig.bpmn", (DATA / "migrate_v2.bpmn").read_bytes())], actor=None)
        v2_id = s.scalars(select(ProcessDefinition.id).where(ProcessDefinition.key == "mig",
                                                             ProcessDefinition.version == 2)).one()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    dry = migrations.run_migration(factory, "mig", to_version=2, dry_run=True, actor_id=owner_id, batch=args.batch)
    t1 = time.perf_counter()
    load_between = os.getloadavg()
    moved = migrations.run_migration(factory, "mig", to_version=2, actor_id=owner_id, batch=args.batch)
    t2 = time.perf_counter()
    load_after = os.getloadavg()
    assert dry.count("can_move") == args.cases, dry.count("can_move")
    assert moved.count("moved") == args.cases, (moved.count("moved"), moved.count("skipped"))
    print(f"after:  {counts(engine)}")
    print(f"batch {args.batch}; each case moved in its own transaction")
    print(f"dry run:   {t1 - t0:7.1f} s  {args.cases / (t1 - t0):8.0f} cases/s   "
          f"load average {load_before[0]:.2f} -> {load_between[0]:.2f}")
    print(f"migration: {t2 - t1:7.1f} s  {args.cases / (t2 - t1):8.0f} cases/s   "
          f"load average {load_between[0]:.2f} -> {load_after[0]:.2f}")
    print(f"load average at the end: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (2 cores, shared)")
    print(check(factory, args.cases, v2_id))
    engine.dispose()


if __name__ == "__main__":
    main()
