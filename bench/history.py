"""Benchmark: the pages people live in as history grows, 10,000 -> 100,000 -> 1,000,000 cases
(PostgreSQL).

    python bench/history.py --postgres postgresql+psycopg://postgres@127.0.0.1/DB \
        [--seed 500] [--sizes 10000,100000,1000000] [--runs 40]

How the history is built
  1. `opsgate demo`'s people, provider and cases, then `--seed` real cases opened and worked
     through the engine's own use cases as the demo's people (incidents, service requests,
     changes, onboarding; each walked a random number of steps; some SLA timers fired), over
     the last 30 days. These are real: their chains verify, their instances restore.
  2. Multiplication in SQL up to each size: copy number c of every seed case gets id
     `id + c * stride`, key `PREFIX-<that id>`, and all its times moved `c * 4.38 hours` back,
     so that 1,000,000 cases span a year at a constant rate (a month holds about as many
     cases at 100 k as at 1 M: the second year of the same organisation). Copies less than
     14 days old keep their seed's state (open cases, ready tasks with their group rows,
     separation-of-duties bars and timers); older copies are closed, their ready tasks
     completed. Audit events are copied with the copy's chain name.
     Multiplied rows are for latency only: a copy's audit hashes are its seed's (its chain
     does not verify) and its serialized instance names its seed's task ids (do not act on
     it). The probes that verify or restore use seed cases.

What is measured
  Each probe is a request through Flask's test client, in-process (the server's time: routing,
  queries, rendering; no network), signed in as a demo user (a page) or with an API token; one
  warm-up, then `--runs` requests: p50, p95, p99 in milliseconds. The load average is printed
  beside each size (the machine is shared). Results print as a Markdown table at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import Engine, text

from engine import db
from engine.cases import queries, services
from engine.errors import EngineError
from engine.jobs import firing
from engine.people import tokens, users
from engine.processes import case_facts
from engine.timing import clock
from models import Base
from webui import create_app
from webui.cli.demo_data import fill, seed_demo, walk

PASSWORD = "bench-password-1"
SHIFT_HOURS = 4.38  # 2,000 copies of 500 seeds: one year
OPEN_DAYS = 14

# process, share of the seed, start-form values
MIX = [
    ("incident", 0.5, lambda r: {"source": r.choice(["phone", "portal", "monitoring"]),
                                  "system": r.choice(["erp", "mail", "network", "hr"]),
                                  "impact": r.choice(["low", "medium", "high"]),
                                  "urgency": r.choice(["low", "medium", "high"])}),
    ("service_request", 0.25, lambda r: {"system": r.choice(["erp", "mail", "network", "hr"])}),
    ("change_request", 0.15, lambda r: {"change_type": r.choice(["standard", "normal"]),
                                        "system": r.choice(["erp", "mail", "network", "hr"]), "finance_system": "no"}),
    ("account_onboarding", 0.10, lambda r: {}),
]


def _pick(rng: random.Random):
    pick, total = rng.random(), 0.0
    for key, share, values in MIX:
        total += share
        if pick <= total:
            return key, values
    return MIX[0][0], MIX[0][2]


def build_seed(url: str, count: int) -> None:
    """Open `count` cases through the engine over the last 30 days, each walked some steps."""
    engine = db.make_engine(url)
    make = db.make_sessionmaker(engine)
    rng = random.Random(14)
    now = clock.now()
    started = time.perf_counter()
    with make() as session:
        people = {name: users.get_user(session, name) for name in
                  ("rita", "mona", "desk", "eric", "emma", "carl", "cathy", "fred", "sam")}
        opened = 0
        for i in range(count):
            key, values = _pick(rng)
            at = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 30))
            try:
                with session.begin_nested(), clock.frozen(at):
                    form = queries.start_form(session, key)
                    case = services.start_case(session, key, fill(form.fields, values(rng)),
                                               actor=rng.choice([people["rita"], people["desk"]]),
                                               title=f"Seed {key} {i}")
                    walk(session, case, people, limit=rng.choice([0, 0, 1, 1, 2, 3, 4, 8, 40]))
                opened += 1
            except EngineError as exc:
                print(f"  seed case {i} ({key}) stopped: {exc.message}", flush=True)
            if i % 100 == 99:
                session.commit()
        firing.fire_due_timers(session, now=now)
        session.commit()
    engine.dispose()
    print(f"seed: {opened} cases through the engine in {time.perf_counter() - started:.0f} s", flush=True)


def _columns(engine: Engine, table: str) -> list[str]:
    return [c.name for c in Base.metadata.tables[table].columns]


def _select_list(columns: list[str], overrides: dict[str, str], alias: str = "s") -> tuple[str, str]:
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(overrides.get(c, f'{alias}."{c}"') for c in columns)
    return names, values


def multiply(engine: Engine, first: int, last: int, stride: int, seed_max: int) -> None:
    """Add copies first..last-1 of every seed case (ids 1..seed_max), in SQL."""
    shift = f"make_interval(secs => c * {SHIFT_HOURS * 3600})"
    is_open = f"c * {SHIFT_HOURS} < {OPEN_DAYS * 24}"
    new_id = f"s.id + c * {stride}"
    case_cols = _columns(engine, "case")
    names, values = _select_list(case_cols, {
        "id": new_id,
        "key": f"split_part(s.key, '-', 1) || '-' || lpad(({new_id})::text, 7, '0')",
        "status": f"CASE WHEN {is_open} OR s.status <> 'open' THEN s.status ELSE 'closed' END",
        "outcome": f"CASE WHEN {is_open} OR s.status <> 'open' THEN s.outcome ELSE 'resolved' END",
        "created_at": f"s.created_at - {shift}", "updated_at": f"s.updated_at - {shift}",
        "closed_at": f"CASE WHEN {is_open} OR s.status <> 'open' THEN s.closed_at - {shift} "
                     f"ELSE s.updated_at - {shift} + interval '2 hours' END",
        "sla_paused_at": f"CASE WHEN {is_open} THEN s.sla_paused_at - {shift} END",
        "dedup_key": "NULL",
    })
    series = f"generate_series({first}, {last - 1}) AS c"
    task_cols = _columns(engine, "human_task")
    task_id = "md5(h.id || ':' || c)::uuid::text"
    t_names, t_values = _select_list(task_cols, {
        "id": task_id, "case_id": f"h.case_id + c * {stride}",
        "state": f"CASE WHEN {is_open} OR h.state <> 'ready' THEN h.state ELSE 'completed' END",
        "created_at": f"h.created_at - {shift}", "due_at": f"h.due_at - {shift}",
        "claimed_at": f"h.claimed_at - {shift}",
        "ended_at": f"CASE WHEN {is_open} OR h.state <> 'ready' THEN h.ended_at - {shift} "
                    f"ELSE h.created_at - {shift} + interval '1 hour' END",
        "announced_at": f"h.announced_at - {shift}",
    }, alias="h")
    event_cols = [c for c in _columns(engine, "audit_event") if c != "id"]
    e_names, e_values = _select_list(event_cols, {
        "chain": f"split_part(s.key, '-', 1) || '-' || lpad(({new_id})::text, 7, '0')",
        "case_id": new_id, "at": f"e.at - {shift}",
    }, alias="e")
    timer_cols = [c for c in _columns(engine, "timer") if c != "id"]
    m_names, m_values = _select_list(timer_cols, {
        "case_id": f"m.case_id + c * {stride}", "due_at": f"m.due_at - {shift}",
        "task_id": "CASE WHEN m.task_id IS NULL THEN NULL ELSE md5(m.task_id || ':' || c)::uuid::text END",
    }, alias="m")
    seed = f"s.id <= {seed_max}"
    with engine.begin() as conn:
        conn.execute(text(f'INSERT INTO "case" ({names}) SELECT {values} FROM "case" s, {series} WHERE {seed}'))
        conn.execute(text(f"INSERT INTO human_task ({t_names}) SELECT {t_values} FROM human_task h "
                          f"JOIN \"case\" s ON s.id = h.case_id, {series} WHERE {seed}"))
        conn.execute(text(f"INSERT INTO human_task_group (task_id, \"group\") SELECT {task_id}, g.\"group\" "
                          f"FROM human_task_group g JOIN human_task h ON h.id = g.task_id "
                          f"JOIN \"case\" s ON s.id = h.case_id, {series} WHERE {seed} AND {is_open}"))
        conn.execute(text(f"INSERT INTO human_task_bar (task_id, user_id) SELECT {task_id}, b.user_id "
                          f"FROM human_task_bar b JOIN human_task h ON h.id = b.task_id "
                          f"JOIN \"case\" s ON s.id = h.case_id, {series} WHERE {seed} AND {is_open}"))
        conn.execute(text(f"INSERT INTO audit_event ({e_names}) SELECT {e_values} FROM audit_event e "
                          f"JOIN \"case\" s ON s.key = e.chain, {series} WHERE {seed}"))
        conn.execute(text(f"INSERT INTO timer ({m_names}) SELECT {m_values} FROM timer m "
                          f"JOIN \"case\" s ON s.id = m.case_id, {series} WHERE {seed} AND {is_open} "
                          f"AND s.status = 'open'"))


def grow(engine: Engine, target: int, state: dict) -> None:
    """Multiply the seed up to `target` cases, in batches of copies (one transaction each)."""
    seed_count, stride, seed_max = state["seed_count"], state["stride"], state["seed_max"]
    copies = math.ceil(target / seed_count)
    started = time.perf_counter()
    step = max(1, 50_000 // seed_count)
    c = state["copies"]
    while c < copies:
        last = min(copies, c + step)
        multiply(engine, c, last, stride, seed_max)
        c = last
        print(f"  {c * seed_count:>9} cases ({time.perf_counter() - started:.0f} s)", flush=True)
    state["copies"] = copies
    with engine.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), (SELECT max(id) FROM \"case\"))"))
        conn.execute(text("UPDATE case_counter SET last = (SELECT max(id) FROM \"case\")"))
    # Copies were written in SQL: their evaluation facts are written as `opsgate init` writes them.
    facts_started = time.perf_counter()
    with db.make_sessionmaker(engine)() as session:
        case_facts.rebuild(session)
        session.commit()
    print(f"  evaluation facts rebuilt in {time.perf_counter() - facts_started:.0f} s", flush=True)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print(f"grew to {copies * seed_count} cases in {time.perf_counter() - started:.0f} s", flush=True)


def counts(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM \"case\"), (SELECT count(*) FROM human_task), "
            "(SELECT count(*) FROM audit_event), (SELECT count(*) FROM human_task WHERE state = 'ready'), "
            "(SELECT count(*) FROM human_task_group)")).one()
    return "cases {:,} / tasks {:,} / audit events {:,} / ready tasks {:,} / group rows {:,}".format(*row)


def percentiles(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return statistics.median(ordered), at(0.95), at(0.99)


def probes(url: str, engine: Engine) -> list[tuple[str, str, str]]:
    """(label, who, path): a seed case for the case page and verify (its chain is real)."""
    with engine.connect() as conn:
        seed_case = conn.execute(text("SELECT key FROM \"case\" WHERE process_key = 'incident' AND audit_seq > 3 "
                                      "ORDER BY id LIMIT 1")).scalar_one()
        month = conn.execute(text("SELECT to_char(max(created_at), 'YYYY-MM') FROM \"case\"")).scalar_one()
        # The middle of the case list: a deep page by number, and the same page by key (?before=).
        middle = conn.execute(text("SELECT count(*) / 2 FROM \"case\"")).scalar_one()
        before = conn.execute(text("SELECT id + 1 FROM \"case\" ORDER BY id DESC OFFSET :n LIMIT 1"),
                              {"n": middle}).scalar_one()
    return [
        ("inbox, API (engineer, 200 per page)", "api:eric", "/api/v1/tasks"),
        ("inbox, API (engineer, 50 per page)", "api:eric", "/api/v1/tasks?per_page=50"),
        ("inbox page (engineer)", "eric", "/tasks"),
        ("inbox page (finance, few tasks)", "fred", "/tasks"),
        ("home page (engineer)", "eric", "/"),
        ("API /cases, 50 per page (auditor)", "api:aude", "/api/v1/cases"),
        ("API /cases, middle page by number", "api:aude", f"/api/v1/cases?page={middle // 50 + 1}"),
        ("API /cases, middle page by before=", "api:aude", f"/api/v1/cases?before={before}"),
        ("case list page (auditor)", "aude", "/cases"),
        ("case list page, open incidents", "aude", "/cases?process=incident&status=open"),
        ("case list page (requester)", "rita", "/cases"),
        ("auditor search, no filter", "aude", "/audit"),
        ("auditor search, by case", "aude", f"/audit?case={seed_case}"),
        ("auditor search, by process", "aude", "/audit?process_key=change_request"),
        ("auditor search, by type", "aude", "/audit?type=case_escalated"),
        ("case page", "aude", f"/cases/{seed_case}"),
        ("one case, API", "api:aude", f"/api/v1/cases/{seed_case}"),
        ("verify one case, API", "api:aude", f"/api/v1/audit/verify?case={seed_case}"),
        ("reports month", "suzy", f"/reports/?period={month}"),
        ("reports trend.json", "suzy", f"/reports/trend.json?period={month}"),
    ]


def measure(url: str, engine: Engine, runs: int, only: set[str] | None = None) -> dict[str, tuple[float, ...]]:
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "START_WORKER": False,
                      "WTF_CSRF_ENABLED": False})
    make = db.make_sessionmaker(engine)
    with make() as session:
        bearer = {name: tokens.create_token(session, name, actor=None, name="bench") for name in ("eric", "aude")}
        session.commit()
    results: dict[str, tuple[float, ...]] = {}
    clients = {}
    for label, who, path in probes(url, engine):
        if only and not any(o in label for o in only):
            continue
        headers = {}
        if who.startswith("api:"):
            client = app.test_client()
            headers = {"Authorization": f"Bearer {bearer[who[4:]]}"}
        else:
            client = clients.get(who)
            if client is None:
                client = clients[who] = app.test_client()
                client.post("/login", data={"name": who, "password": PASSWORD})
        first = client.get(path, headers=headers)
        assert first.status_code == 200, (path, first.status_code, first.get_data(as_text=True)[:300])
        times, cpu = [], []
        for _ in range(min(runs, 5) if "trend" in label else runs):  # the year's trend: seconds a request
            wall, proc = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            times.append((time.perf_counter() - wall) * 1000)
            cpu.append((time.process_time() - proc) * 1000)
            assert response.status_code == 200
        p50, p95, p99 = percentiles(times)
        results[label] = (p50, p95, p99, statistics.median(cpu), len(first.get_data()) / 1024)
        print(f"  {label:<40} p50 {p50:8.1f}  p95 {p95:8.1f}  p99 {p99:8.1f} ms   app CPU p50 "
              f"{statistics.median(cpu):6.1f} ms  {len(first.get_data()) / 1024:6.0f} KB", flush=True)
    app.extensions["opsgate_engine"].dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, help="a PostgreSQL URL (the database is wiped)")
    parser.add_argument("--seed", type=int, default=500)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="reuse the database as a previous run left it")
    parser.add_argument("--only", help="comma-separated words: measure only the probes whose label has one")
    args = parser.parse_args()
    url = args.postgres
    os.environ.pop("OPSGATE_DATABASE_URL", None)
    engine = db.make_engine(url)
    if not args.keep:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        seed_demo(url, password=PASSWORD)
        build_seed(url, args.seed)
    with engine.connect() as conn:  # seeds have 6-digit keys (the engine's), copies 7 digits
        seed_max, seed_count, total = conn.execute(text(
            "SELECT max(id) FILTER (WHERE length(split_part(key, '-', 2)) = 6), "
            "count(*) FILTER (WHERE length(split_part(key, '-', 2)) = 6), count(*) FROM \"case\"")).one()
    stride = 10 ** len(str(seed_max))
    state = {"seed_count": seed_count, "seed_max": seed_max, "stride": stride, "copies": total // seed_count}
    table: dict[int, dict[str, tuple[float, ...]]] = {}
    loads: dict[int, str] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        if size > state["copies"] * seed_count:
            grow(engine, size, state)
        print(f"\n== {counts(engine)}; load average {os.getloadavg()[0]:.2f}", flush=True)
        before = os.getloadavg()
        table[size] = measure(url, engine, args.runs, set(args.only.split(",")) if args.only else None)
        after = os.getloadavg()
        loads[size] = f"{before[0]:.1f}→{after[0]:.1f}"
    sizes = sorted(table)
    print(f"\n{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, PostgreSQL, p95 ms (p50 in brackets); "
          "load average (1 min) before→after each size: " + ", ".join(f"{s:,}: {loads[s]}" for s in sizes))
    print("| probe | " + " | ".join(f"{s:,} cases" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for label in table[sizes[0]]:
        print(f"| {label} | " + " | ".join(
            f"{table[s][label][1]:.0f} ({table[s][label][0]:.0f})" if label in table[s] else "—" for s in sizes) + " |")
    engine.dispose()


if __name__ == "__main__":
    main()
