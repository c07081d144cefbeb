"""Benchmark: a monthly provider evaluation over N incidents on PostgreSQL or SQLite.

    python bench/evaluation.py --url postgresql+psycopg://postgres@127.0.0.1/opsgate_bench \
        [--sizes 10000,25000,50000,100000] [--layout spread|month|both]
    python bench/evaluation.py --url sqlite:////tmp/opsgate_bench.db ...

For each size the schema is recreated and N incidents (5 providers, four priorities, every
source, audit events for response, resolution, some escalations and reopens, ratings and
required records) are bulk-loaded, plus change, offboarding and drill cases at a tenth of
that. `spread` spreads the incidents over a year (the evaluated month holds a twelfth);
`month` puts all of them in the evaluated month (the worst case). The cases are loaded by hand,
so their evaluation facts and the month summary are then written as `opsgate init` writes them
after the migration (`case_facts.rebuild` and `provider_measures.keep_summary`, timed together).
It then times `engine.evaluation.scorecards.monthly_scorecards` for that month (every provider;
median of 5 runs after one warm-up) as the application reads it, from the month summary and the
open cases ("eval"), and, alternating with it, from the month's fact rows as before the summary
("rows", the same call with the summary marked unkept), and from the cases' events as before the
facts existed ("events", the facts marked incomplete); checks all three give the same figures, and
prints the growth. The database given is wiped.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/engine.py would shadow
# the engine package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import create_engine, insert, text, update
from sqlalchemy.orm import Session

from engine.evaluation import provider_measures, scorecards
from engine.evaluation.config import load_config
from engine.processes import case_facts
from models import AuditEvent, Base, Case, CaseFactState, ProcessDefinition, Provider

UTC = dt.timezone.utc
PROVIDERS = ["Acme", "Bolt", "Cirrus", "Delta", "Echo"]
SOURCES = ["phone", "portal", "monitoring", "inspection"]
REQUIRED = {"incident": ["diagnosis_report", "fault_record"],
            "change_request": ["change_plan", "test_record"],
            "account_offboarding": [], "backup_restore_drill": ["drill_report"]}
MONTH = "2026-06"


def load(session: Session, n: int, layout: str, rng: random.Random) -> int:
    """Bulk-load n incidents (and n/10 other cases); return the number of audit events."""
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    session.add_all(Provider(name=p, created_at=now) for p in PROVIDERS)
    defs = {k: ProcessDefinition(key=k, version=1, name=k, filename=f"{k}.bpmn", bpmn="<d/>",
                                 extra_files=[], sha256=k.ljust(64, "0"),
                                 manifest={"process": {"key": k, "required_records": v}}, dependencies={},
                                 deployed_by="bench", deployed_at=now)
            for k, v in REQUIRED.items()}
    session.add_all(defs.values())
    session.flush()
    cases: list[dict] = []
    events: list[dict] = []
    case_id = 0
    for i in range(n + n // 10):
        case_id += 1
        process = "incident" if i < n else rng.choice(list(REQUIRED)[1:])
        if layout == "month":
            created = dt.datetime(2026, 6, 1, tzinfo=UTC) + dt.timedelta(
                seconds=rng.randrange(0, 29 * 86400))
        else:
            created = now + dt.timedelta(seconds=rng.randrange(0, 365 * 86400))
        priority = rng.choice(["P1", "P2", "P3", "P4"]) if process == "incident" else None
        resolve_h = rng.uniform(0.5, 80)
        open_case = rng.random() < 0.05
        closed = None if open_case else created + dt.timedelta(hours=resolve_h + 1)
        data = {"provider": rng.choice(PROVIDERS), "source": rng.choice(SOURCES),
                "rating": rng.randint(1, 5)}
        for field in REQUIRED[process]:
            data[field] = "" if rng.random() < 0.03 else "written"
        key = f"B-{case_id:07d}"
        cases.append(dict(id=case_id, key=key, process_key=process,
                          definition_id=defs[process].id, title=key,
                          status="open" if open_case else "closed",
                          outcome=None if open_case else ("resolved" if process == "incident"
                                                          else "implemented"),
                          priority=priority, provider=data["provider"],
                          system=rng.choice(["erp", "mail", "hr", "crm", "web"]), data=data,
                          actors={}, state="{}", serializer_version="1", created_at=created,
                          updated_at=closed or created, closed_at=closed, version_id=1,
                          audit_seq=0, audit_head=""))
        seq = 0
        def event(hours: float, kind: str, task: str | None = None) -> None:
            nonlocal seq
            seq += 1
            events.append(dict(chain=key, case_id=case_id, seq=seq,
                               at=created + dt.timedelta(hours=hours), actor="bench", type=kind,
                               task=task, data={}, prev_hash="", hash=f"{case_id}-{seq}"))
        event(0, "case_started")
        event(rng.uniform(0.05, 4), "task_claimed", "diagnose")
        if rng.random() < 0.1:
            event(resolve_h * 0.9, "case_escalated", "resolve")
        if not open_case:
            event(resolve_h, "task_completed", "resolve")
            if rng.random() < 0.05:
                event(resolve_h + 0.5, "case_reopened", "confirm")
            event(resolve_h + 1, "case_closed")
        if len(cases) >= 5000:
            session.execute(insert(Case), cases)
            session.execute(insert(AuditEvent), events)
            cases.clear()
            events.clear()
    if cases:
        session.execute(insert(Case), cases)
        session.execute(insert(AuditEvent), events)
    session.commit()
    return session.scalar(text("select count(*) from audit_event")) or 0


def time_month(session: Session, runs: int = 5) -> tuple[float, float, float]:
    """Median seconds for the month's scorecards of every provider: from the summary, from the fact
    rows, from the events."""
    config = load_config()
    modes = ("summary", "rows", "events")
    timings: dict[str, list[float]] = {mode: [] for mode in modes}
    figures = {}
    for run in range(runs + 1):
        for mode in modes:
            # In this transaction only: the scorecards read the fact rows, or the events.
            if mode == "rows":
                session.execute(update(CaseFactState).values(summarized=False))
            elif mode == "events":
                session.execute(update(CaseFactState).values(complete=False))
            start = time.perf_counter()
            cards = scorecards.monthly_scorecards(session, MONTH, config=config)
            if run:  # the first run warms up
                timings[mode].append(time.perf_counter() - start)
            session.rollback()
            assert len(cards) == len(PROVIDERS) and all(c.total is not None for c in cards)
            figures[mode] = {c.provider: round(c.total or 0, 9) for c in cards}
    assert figures["summary"] == figures["rows"] == figures["events"], figures
    return (statistics.median(timings["summary"]), statistics.median(timings["rows"]),
            statistics.median(timings["events"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("OPSGATE_BENCH_POSTGRES_URL")
                        or os.environ.get("OPSGATE_TEST_POSTGRES_URL"))
    parser.add_argument("--sizes", default="10000,25000,50000,100000")
    parser.add_argument("--layout", choices=["spread", "month", "both"], default="both")
    args = parser.parse_args()
    if not args.url or not args.url.startswith(("postgresql", "sqlite")):
        parser.error("give a PostgreSQL or SQLite URL (--url or OPSGATE_BENCH_POSTGRES_URL)")
    engine = create_engine(args.url)
    layouts = ["spread", "month"] if args.layout == "both" else [args.layout]
    print(f"monthly evaluation of {MONTH}, {len(PROVIDERS)} providers, {engine.dialect.name}")
    print(f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"{'layout':8} {'incidents':>10} {'in month':>9} {'events':>9} {'load s':>7} {'facts s':>7} "
          f"{'eval s':>7} {'rows s':>7} {'events s':>8}")
    for layout in layouts:
        baseline = None
        for size in [int(s) for s in args.sizes.split(",")]:
            Base.metadata.drop_all(engine)
            Base.metadata.create_all(engine)
            with Session(engine) as session:
                started = time.perf_counter()
                n_events = load(session, size, layout, random.Random(size))
                loaded = time.perf_counter() - started
                started = time.perf_counter()
                case_facts.rebuild(session)
                provider_measures.keep_summary(session, load_config())
                session.commit()
                facts_built = time.perf_counter() - started
                with engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
                in_month = session.scalar(text(
                    "select count(*) from \"case\" where process_key = 'incident' and "
                    "created_at >= '2026-06-01' and created_at < '2026-07-01'"))
                seconds, rows, direct = time_month(session)
            baseline = baseline or seconds
            print(f"{layout:8} {size:>10} {in_month:>9} {n_events:>9} {loaded:>7.1f} {facts_built:>7.1f} "
                  f"{seconds:>7.3f} {rows:>7.3f} {direct:>8.3f}  (x{seconds / baseline:.1f} of the smallest; "
                  f"load average {os.getloadavg()[0]:.1f})", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
