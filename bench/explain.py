"""The query plans behind bench/history.py's probes: EXPLAIN (ANALYZE, BUFFERS) of the slowest
statements each probe runs, on the database bench/history.py built.

    python bench/explain.py --postgres postgresql+psycopg://postgres@127.0.0.1/DB [--top 1] [--only inbox]

Each probe's request runs once to warm up and once with every statement timed (SQLAlchemy's
before/after_cursor_execute events); the `--top` slowest are then explained with their own
parameters. The output is Markdown, ready for docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import event

from engine import db
from engine.people import tokens
from webui import create_app

sys.path.insert(0, str(_HERE))
from history import PASSWORD, counts, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--top", type=int, default=1)
    parser.add_argument("--only", action="append", help="probes whose label contains this (repeatable)")
    args = parser.parse_args()
    os.environ.pop("OPSGATE_DATABASE_URL", None)
    engine = db.make_engine(args.postgres)
    app = create_app({"TESTING": True, "DATABASE_URL": args.postgres, "SECRET_KEY": "bench", "START_WORKER": False,
                      "WTF_CSRF_ENABLED": False})
    app_engine = app.extensions["opsgate_engine"]
    with db.make_sessionmaker(engine)() as session:
        bearer = {name: tokens.create_token(session, name, actor=None, name="explain") for name in ("eric", "aude")}
        session.commit()
    seen: list[tuple[float, str, Any]] = []

    @event.listens_for(app_engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    @event.listens_for(app_engine, "after_cursor_execute")
    def _end(conn, cursor, statement, parameters, context, executemany):
        seen.append(((time.perf_counter() - conn.info.pop("started")) * 1000, statement, parameters))

    print(f"{counts(engine)}; load average {os.getloadavg()[0]:.2f}\n")
    clients: dict[str, Any] = {}
    for label, who, path in probes(args.postgres, engine):
        if args.only and not any(o in label for o in args.only):
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
        client.get(path, headers=headers)
        seen.clear()
        assert client.get(path, headers=headers).status_code == 200
        ranked = sorted((s for s in seen if s[1].lstrip().upper().startswith(("SELECT", "WITH"))
                         and not s[1].lstrip().startswith("SELECT set_config(")),
                        key=lambda s: -s[0])
        print(f"### {label}: `GET {path}`\n\n{len(seen)} statements, {sum(s[0] for s in seen):.1f} ms in the database "
              f"driver; the slowest {args.top}:\n")
        # Settings the request made for its transaction (engine.db.for_one_aggregate) hold for the plans too.
        settings = [(s[1], s[2]) for s in seen if s[1].lstrip().startswith("SELECT set_config(")]
        for _ms, statement, parameters in ranked[:args.top]:
            with engine.connect() as conn:
                for setting, values in settings:
                    conn.exec_driver_sql(setting, values)
                plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).scalars().all()
            print(f"```sql\n{statement.strip()}\n```\n\n```\n" + "\n".join(plan) + "\n```\n")
    app_engine.dispose()
    engine.dispose()


if __name__ == "__main__":
    main()
