"""Benchmark: opsgate's complete-task step against the raw SpiffWorkflow floor, side by side.

    python bench/engine.py [--cases 300] [--postgres postgresql+psycopg://...]

Both sides drive the same 4-user-task process (tests/data/four_steps.bpmn) case by case:

* floor: per step, one SQLite read of the serialized instance, deserialize (spec kept apart),
  complete the ready task, do_engine_steps, serialize, one SQLite write, commit; the same
  restricted script engine and the same SQLite pragmas (WAL, synchronous=NORMAL) as opsgate.
* floor_postgres (with --postgres): the same floor on PostgreSQL through psycopg with no
  SQLAlchemy in between: one SELECT, one UPDATE, one COMMIT per step. It pays what any
  PostgreSQL write pays (round trips, the WAL flush at commit), so opsgate on PostgreSQL is
  compared with it as well as with the SQLite floor.
* floor_rows: the floor plus the rows opsgate's step writes, on opsgate's own schema (its
  tables, indexes and foreign keys, made by its migrations) with sqlite3 alone: the same read of
  the task with its case, the same Spiff work as the floor (restore, complete, step, serialize),
  then the audit event with its hash, the completed task's row ended and the new tasks' rows
  with their groups and separation-of-duties bars, and the case row (state, data snapshot,
  actors, audit head, version) in the statements opsgate sends, and the commit. No SQLAlchemy,
  no ORM, no checks or form validation: what any implementation keeping opsgate's records pays
  in SQLite and SpiffWorkflow, so that opsgate's own Python is the gap between it and opsgate.
* floor_rows_cached: the same, keeping each case's instance between steps (reused while the
  stored state is the one it wrote), as opsgate's instance cache does: the side to hold opsgate's
  own (cached) step against, to see what its Python and SQLAlchemy add.
* opsgate: per step, `services.complete_task(...)` and the commit, as a request would do it
  (authorization, form validation, task projection, task-ready notices, audit event), with
  the engine's instance cache on as it runs by default: the process that saved a case last
  reuses its instance instead of deserializing it (engine.cases.instance_cache).
* opsgate_..._uncached: the same with the instance cache off, so every step deserializes the
  case from its row like the floor does: what an action costs in a process that did not
  save the case last (another web worker, after a restart).

The sides alternate step by step in one process, their order reversed every other case (the
side that runs second runs some 20 us faster by position alone), so machine noise hits them
alike; the ratio
of medians is what to compare across machines. Each step is timed twice: wall time, and the
CPU time of the thread (`time.thread_time`, about 2 us to read here). On a shared, loaded
machine the CPU figures are the steadier ones; PostgreSQL's own CPU is not in them (it runs
in the server), so for PostgreSQL read the wall figures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
# This file is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Engine, select, text

from engine import db
from engine.cases import serializer, services, stepping
from engine.config import EngineConfig
from engine.people import users
from engine.processes import catalog, deployment, scripting, specs
from engine.records import audit
from models import HumanTask

BPMN = ROOT / "tests" / "data" / "four_steps.bpmn"
STEPS = [("triage", {"category": "software"}, "desk"), ("diagnose", {"diagnosis": "d"}, "eng"),
         ("approve_fix", {"decision": "approve"}, "cm"), ("implement", {"result": "done"}, "eng2")]


def fresh_engine(url: str) -> Engine:
    """An engine on an empty database migrated to the current schema (on PostgreSQL the database's
    public schema is dropped first: point it only at a database made for the benchmark)."""
    engine = db.make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    return engine


class Floor:
    """Raw SpiffWorkflow with one SQLite read and one write (and a commit) per step."""

    def __init__(self, loaded: specs.Loaded, path: str) -> None:
        self.loaded = loaded
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS instance (id INTEGER PRIMARY KEY, state TEXT)")
        self.next_id = 0

    def start(self) -> int:
        self.next_id += 1
        self.conn.execute("INSERT INTO instance VALUES (?, ?)", (self.next_id, _started(self.loaded)))
        return self.next_id

    def step(self, case_id: int, data: dict) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        self.conn.execute("BEGIN")
        (state,) = self.conn.execute("SELECT state FROM instance WHERE id = ?", (case_id,)).fetchone()
        self.conn.execute("UPDATE instance SET state = ? WHERE id = ?", (_advance(self.loaded, state, data), case_id))
        self.conn.execute("COMMIT")
        return time.perf_counter() - t0, time.thread_time() - c0


def _started(loaded: specs.Loaded) -> str:
    """A new instance of the process, stepped to its first user task, serialized."""
    wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=scripting.script_engine())
    wf.task_tree.data.update({"title": "t", "urgent": True, "system": "erp"})
    wf.do_engine_steps()
    return serializer.dump(wf)


def _advance(loaded: specs.Loaded, state: str, data: dict) -> str:
    """The floor's SpiffWorkflow work: restore, complete the ready task, step, serialize."""
    wf = serializer.restore(state, loaded)
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update(data)
    task.run()
    wf.do_engine_steps()
    return serializer.dump(wf)


class PostgresFloor:
    """The floor on PostgreSQL, through psycopg alone: one SELECT, one UPDATE, one COMMIT a step."""

    def __init__(self, loaded: specs.Loaded, url: str) -> None:
        import psycopg

        self.loaded = loaded
        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        self.conn.execute("CREATE TABLE IF NOT EXISTS bench_floor_instance (id INTEGER PRIMARY KEY, state TEXT)")
        self.conn.execute("TRUNCATE bench_floor_instance")
        self.conn.commit()
        self.next_id = 0

    def start(self) -> int:
        self.next_id += 1
        self.conn.execute("INSERT INTO bench_floor_instance VALUES (%s, %s)", (self.next_id, _started(self.loaded)))
        self.conn.commit()
        return self.next_id

    def step(self, case_id: int, data: dict) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        row = self.conn.execute("SELECT state FROM bench_floor_instance WHERE id = %s", (case_id,)).fetchone()
        assert row is not None
        self.conn.execute("UPDATE bench_floor_instance SET state = %s WHERE id = %s",
                          (_advance(self.loaded, row[0], data), case_id))
        self.conn.commit()
        return time.perf_counter() - t0, time.thread_time() - c0


class Opsgate:
    """The same steps through services.complete_task, one transaction each, as a request does."""

    def __init__(self, url: str, *, cached: bool = True) -> None:
        self.cached = cached
        engine = fresh_engine(url)
        # The uncached side's sessions carry instance_cache=0 (EngineConfig), so every step restores.
        self.maker = db.make_sessionmaker(engine, EngineConfig(database_url=url, instance_cache=256 if cached else 0))
        with self.maker.begin() as s:
            deployment.deploy(s, [(BPMN.name, BPMN.read_bytes())], actor=None)
            for name, groups in (("req", []), ("desk", ["service_desk"]), ("eng", ["engineer"]),
                                 ("eng2", ["engineer"]), ("cm", ["change_manager"])):
                users.create_user(s, name, groups, actor=None)
        with self.maker() as s:
            self.people = {u: users.get_user(s, u) for u in ("req", "desk", "eng", "eng2", "cm")}
            s.expunge_all()

    def start(self) -> int:
        with self.maker.begin() as s:
            case = services.start_case(s, "four_steps", {"title": "t", "urgent": True, "system": "erp"},
                                       actor=self.people["req"])
            return case.id

    def ready_task(self, case_id: int) -> str:
        with self.maker() as s:
            return s.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id, HumanTask.state == "ready"))

    def step(self, task_id: str, data: dict, who: str) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        s = self.maker()
        # The engine only reads the actor (id, name, groups): a loaded user object serves as it is.
        services.complete_task(s, task_id, data, actor=self.people[who])
        s.commit()
        s.close()
        return time.perf_counter() - t0, time.thread_time() - c0


class RowsFloor:
    """The floor plus the rows opsgate's step writes, with sqlite3 alone on opsgate's schema.

    Cases are opened through opsgate (untimed) in a database of their own; each step then does,
    in one transaction on a raw sqlite3 connection with opsgate's pragmas: the read of the task
    with its case (opsgate's statement), the floor's Spiff work, and opsgate's writes for that
    step in the statements opsgate sends (captured with SQLAlchemy's `echo`)."""

    def __init__(self, path: str, *, cached: bool = False) -> None:
        # cached: keep each case's workflow after a step and reuse it while the stored state is
        # the one it wrote, as opsgate's instance cache does (the floor restores every step).
        self.kept: dict[int, tuple[str, BpmnWorkflow]] | None = {} if cached else None
        self.side = Opsgate(f"sqlite:///{path}")
        with self.side.maker() as s:
            self.loaded = specs.load(s, catalog.get_definition(s, "four_steps"))
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
            self.conn.execute(f"PRAGMA {pragma}")

    def start(self) -> int:
        return self.side.start()

    def ready_task(self, case_id: int) -> str:
        return self.side.ready_task(case_id)

    def step(self, task_id: str, data: dict, who: str) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        conn, manifest = self.conn, self.loaded.manifest
        conn.execute("BEGIN")
        (element, case_id, key, actors, state, version, seq, head,
         requester_id) = conn.execute(_ROWS_READ, (task_id,)).fetchone()
        kept = self.kept.pop(case_id, None) if self.kept is not None else None
        wf = kept[1] if kept is not None and kept[0] == state else serializer.restore(state, self.loaded)
        task = wf.get_task_from_id(UUID(task_id))
        kind, values = "task_completed", data
        if manifest.task(element).form.is_gate:  # an approval gate: its decision on record, as opsgate keeps it
            kind = {"approve": "gate_approved", "reject": "gate_rejected", "rework": "gate_reworked"}[data["decision"]]
            values = {**data, f"{element}_decision": data["decision"], f"{element}_by": who}
        task.data.update(values)
        task.run()
        wf.do_engine_steps()
        now = dt.datetime.now(dt.timezone.utc)
        stored = now.replace(tzinfo=None).isoformat(" ", timespec="microseconds")
        user_id = self.side.people[who].id
        payload = {"task_id": task_id, "name": task.task_spec.bpmn_name, "data": data}
        digest = audit.event_hash(key, seq + 1, audit.stamp(now), who, kind, element, payload, head or audit.GENESIS)
        conn.execute(_ROWS_AUDIT, (key, case_id, seq + 1, stored, who, kind, element,
                                   json.dumps(payload), head or audit.GENESIS, digest))
        actors = json.loads(actors)
        actors[element] = sorted(set(actors.get(element, [])) | {who})
        live = stepping.live_tasks(wf)
        new = [t for t in live if t.state == TaskState.READY and t.task_spec.manual]
        # The completed task's row (its end columns written on conflict), then the new tasks' rows.
        rows: list[tuple[Any, ...]] = [(task_id, case_id, element, task.task_spec.bpmn_name, None, "[]", user_id,
                                        "completed", stored, None, stored, stored, user_id, None, "ready", "ready")]
        groups: list[tuple[str, str]] = []
        bars: list[tuple[str, int]] = []
        for ready in new:
            rules = manifest.task(ready.task_spec.bpmn_id)
            rows.append((str(ready.id), case_id, ready.task_spec.bpmn_id, ready.task_spec.bpmn_name,
                         ready.task_spec.lane, json.dumps(list(rules.candidate_groups)), None, "ready", stored,
                         None, None, None, None, None, "ready", "ready"))
            groups += [(str(ready.id), g) for g in rules.candidate_groups]
            names = {n for other in rules.sod_not_actor_of for n in actors.get(other, ())}
            if rules.sod_not_requester or names:
                ids = {i for (i,) in conn.execute(
                    f"SELECT id FROM user WHERE name IN ({', '.join('?' * len(names))})", sorted(names))}
                bars += [(str(ready.id), i) for i in sorted(ids | ({requester_id} if rules.sod_not_requester else set()))]
        conn.executemany(_ROWS_TASKS, rows)
        if groups:
            conn.executemany('INSERT INTO human_task_group (task_id, "group") VALUES (?, ?)', groups)
        if bars:
            conn.executemany("INSERT INTO human_task_bar (task_id, user_id) VALUES (?, ?)", bars)
        snapshot = json.dumps(stepping.current_data(wf, live), default=str)
        state = serializer.dump(wf)
        conn.execute(_ROWS_CASE, (snapshot, json.dumps(actors), state, version + 1, seq + 1, digest,
                                  stored, case_id, version))
        conn.execute("COMMIT")
        if self.kept is not None and new:
            self.kept[case_id] = (state, wf)
        return time.perf_counter() - t0, time.thread_time() - c0


_ROWS_READ = ('SELECT human_task.element_id, "case".id, "case"."key", "case".actors, "case".state, "case".version_id, '
              '"case".audit_seq, "case".audit_head, "case".requester_id '
              'FROM human_task JOIN "case" ON "case".id = human_task.case_id WHERE human_task.id = ?')
_ROWS_AUDIT = ("INSERT INTO audit_event (chain, case_id, seq, at, actor, type, task, data, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_ROWS_TASKS = ("INSERT INTO human_task (id, case_id, element_id, name, lane, candidate_groups, assignee_id, state, "
               "created_at, due_at, claimed_at, ended_at, completed_by_id, announced_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
               "assignee_id = excluded.assignee_id, state = excluded.state, claimed_at = excluded.claimed_at, "
               "ended_at = excluded.ended_at, completed_by_id = excluded.completed_by_id "
               "WHERE human_task.state = ? AND excluded.state != ?")
_ROWS_CASE = ('UPDATE "case" SET data=?, actors=?, state=?, version_id=?, audit_seq=?, audit_head=?, updated_at=? '
              'WHERE "case".id = ? AND "case".version_id = ?')


def run(floors: dict[str, Floor | PostgresFloor], sides: dict[str, Opsgate | RowsFloor],
        cases: int) -> dict[str, list[tuple[float, float]]]:
    """Alternate step by step between the floors and each side, in reverse order every other case;
    (wall, CPU) seconds per step."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in (*floors, *sides)}
    order = [*floors, *sides]
    for number in range(cases):
        ids = {**{name: floor.start() for name, floor in floors.items()},
               **{name: side.start() for name, side in sides.items()}}
        for _element, data, who in STEPS:
            for name in (order if number % 2 == 0 else reversed(order)):
                if name in floors:
                    times[name].append(floors[name].step(ids[name], data))
                else:
                    side = sides[name]
                    times[name].append(side.step(side.ready_task(ids[name]), data, who))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--postgres", default=None, help="also run the floor and opsgate on this PostgreSQL URL")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsgate-bench-"))
    sides: dict[str, Opsgate | RowsFloor] = {
        "floor_rows": RowsFloor(str(tmp / "rows.db")),
        "floor_rows_cached": RowsFloor(str(tmp / "rows_cached.db"), cached=True),
        "opsgate_sqlite": Opsgate(f"sqlite:///{tmp}/opsgate.db"),
        "opsgate_sqlite_uncached": Opsgate(f"sqlite:///{tmp}/uncached.db", cached=False)}
    if args.postgres:
        sides["opsgate_postgres"] = Opsgate(args.postgres)
    opsgate = sides["opsgate_sqlite"]
    assert isinstance(opsgate, Opsgate)
    with opsgate.maker() as s:
        loaded = specs.load(s, catalog.get_definition(s, "four_steps"))
    floors: dict[str, Floor | PostgresFloor] = {"floor": Floor(loaded, str(tmp / "floor.db"))}
    if args.postgres:
        floors["floor_postgres"] = PostgresFloor(loaded, args.postgres)
    run(floors, sides, max(5, args.cases // 10))  # warm up caches and the JIT-less interpreter alike
    times = run(floors, sides, args.cases)
    load = os.getloadavg()
    result: dict[str, object] = {"cases": args.cases, "steps_per_side": len(times["floor"]),
                                 "load_average": [round(x, 2) for x in load]}
    medians = {name: (statistics.median(w for w, _c in ts), statistics.median(c for _w, c in ts))
               for name, ts in times.items()}
    for name, (wall, cpu) in medians.items():
        result[f"{name}_ms"] = {"wall": round(wall * 1000, 3), "cpu": round(cpu * 1000, 3)}
    for name in sides:
        against = {"opsgate_postgres": ["floor", "floor_postgres"], "floor_rows": ["floor"],
                   "floor_rows_cached": ["floor"]}.get(
            name, ["floor", "floor_rows", "floor_rows_cached"])
        for floor in against:
            result[f"{name}_ratio_to_{floor}"] = {
                "wall": round(medians[name][0] / medians[floor][0], 2),
                "cpu": round(medians[name][1] / medians[floor][1], 2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
