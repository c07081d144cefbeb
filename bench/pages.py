"""Benchmark: the reports page and a case page, over the demo data and over a database with
10,000 more cases.

    python bench/pages.py [--cases 10000] [--runs 15] [--postgres postgresql+psycopg://postgres@127.0.0.1/DB]

Each page is requested in-process with Flask's test client as a logged-in user (the supervisor
for /reports/, the auditor for /cases/KEY), so the figure is the server's time for the page:
routing, the queries, rendering; no network. One warm-up request, then the median and the
slowest of `--runs`. First over `opsgate demo`'s data, then after adding `--cases` incidents
(opened over the last 60 days through the engine's own start_case, a third of them diagnosed),
so that the reports' month and the case list have real volume. SQLite in a temporary folder by
default; with --postgres, that database (it is wiped) instead.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import text

from engine import db
from engine.cases import queries, services
from engine.people import users
from engine.timing import clock
from webui import create_app
from webui.cli.demo_data import fill, seed_demo

PASSWORD = "bench-password-1"


def timed(client, path: str, runs: int) -> tuple[float, float]:
    """Median and slowest milliseconds of GET path (after one warm-up)."""
    first = client.get(path)
    assert first.status_code == 200, (path, first.status_code)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(times), max(times)


def measure(url: str, runs: int, label: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "START_WORKER": False,
                      "WTF_CSRF_ENABLED": False})
    pages = [("suzy", "/reports/"), ("suzy", f"/reports/trend.json?period={clock.now():%Y-%m}"),
             ("aude", "/cases/CHG-000002"), ("aude", "/cases/INC-000001"), ("carl", "/tasks"), ("aude", "/cases")]
    for who, path in pages:
        client = app.test_client()
        client.post("/login", data={"name": who, "password": PASSWORD})
        median, slowest = timed(client, path, runs)
        print(f"{label:>14}  {path:<34} median {median:7.1f} ms   slowest {slowest:7.1f} ms", flush=True)
    app.extensions["opsgate_engine"].dispose()


def add_cases(url: str, count: int) -> None:
    """Open `count` incidents over the last 60 days as the demo's people, a third diagnosed."""
    engine = db.make_engine(url)
    make = db.make_sessionmaker(engine)
    rng = random.Random(15)
    now = clock.now()
    start = time.perf_counter()
    with make() as session:
        rita, desk, eric = (users.get_user(session, n) for n in ("rita", "desk", "eric"))
        form = queries.start_form(session, "incident")
        for i in range(count):
            at = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 60))
            with clock.frozen(at):
                data = fill(form.fields, {"source": rng.choice(["phone", "portal", "monitoring"]),
                                          "system": rng.choice(["erp", "mail", "network", "hr"]),
                                          "impact": rng.choice(["low", "medium", "high"]),
                                          "urgency": rng.choice(["low", "medium", "high"])})
                case = services.start_case(session, "incident", data, actor=rng.choice([rita, desk]),
                                           title=f"Bench incident {i}")
                if i % 3 == 0:
                    task = queries.open_tasks(session, case)[0]
                    task_form = queries.task_form(session, task)
                    services.complete_task(session, task.id, fill(task_form.fields), actor=eric)
            if i % 500 == 499:
                session.commit()
        session.commit()
    engine.dispose()
    print(f"added {count} incidents in {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--postgres", help="a PostgreSQL URL to use (wiped) instead of a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite:///{Path(folder) / 'bench.db'}"
        if args.postgres:
            engine = db.make_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        os.environ.pop("OPSGATE_DATABASE_URL", None)
        seed_demo(url, password=PASSWORD)
        print(f"load average {os.getloadavg()[0]:.2f}; {'PostgreSQL' if args.postgres else 'SQLite'}", flush=True)
        measure(url, args.runs, "demo")
        add_cases(url, args.cases)
        measure(url, args.runs, f"+{args.cases} cases")
        print(f"load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
