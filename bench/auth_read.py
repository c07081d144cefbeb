"""Benchmark: the API token's check (engine.people.tokens.authenticate: one Core SELECT made into
the session's objects, engine.rows) against the ORM query it replaced (contains_eager),
as a request runs it: a fresh session (its connection checked out beforehand: any first
statement pays for that), the read, the session closed.

    python bench/auth_read.py [--rounds 3000] [--postgres URL]

Both sides read the token row with its user and the user's three groups (one statement each) and
give the same objects; they alternate call by call in one thread over one database, and each
call's CPU (`time.thread_time`) is kept. Printed: the median and p90 CPU per call of each side
and of the Core statement alone (no objects made), in microseconds, and the ratio orm/core.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, contains_eager

from engine import db
from engine.people import tokens, users
from models import ApiToken, Group, User

_SPEC = importlib.util.spec_from_file_location("bench_engine", Path(__file__).with_name("engine.py"))
assert _SPEC is not None and _SPEC.loader is not None
bench_engine = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_engine)

# The query engine.people.tokens ran before 2026-11-30: the ORM loading three entities.
ORM_LOOKUP = (select(ApiToken).join(ApiToken.user).outerjoin(User.groups)
              .options(contains_eager(ApiToken.user).contains_eager(User.groups))
              .where(ApiToken.token_hash == bindparam("digest"))
              .order_by(Group.name))


def orm_authenticate(session: Session, token: str) -> ApiToken | None:
    row = session.scalars(ORM_LOOKUP, {"digest": tokens._token_digest(token)}).unique().one_or_none()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row


def core_statement_only(session: Session, token: str) -> Any:
    return session.connection().execute(tokens._LOOKUP, {"digest": tokens._token_digest(token)}).all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    url = args.postgres or f"sqlite:///{tempfile.mkdtemp(prefix='opsgate-bench-auth-')}/auth.db"
    engine = bench_engine.fresh_engine(url)
    maker = db.make_sessionmaker(engine)
    groups = ["requester", "engineer", "change_manager"]  # an engineer who also approves changes
    with maker.begin() as s:
        users.create_user(s, "caller", groups, actor=None)
        token = tokens.create_token(s, "caller", actor=None)
    sides: dict[str, Callable[[Session, str], Any]] = {
        "orm": orm_authenticate, "core": tokens.authenticate, "core_statement_only": core_statement_only}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for i in range(args.rounds + 200):
        for name in order if i % 2 else reversed(order):
            with maker() as s:
                s.connection()  # the pool's checkout and BEGIN: any request's first statement pays them
                c0 = time.thread_time()
                found = sides[name](s, token)
                spent = time.thread_time() - c0
                assert found
                s.rollback()
            if i >= 200:  # warm-up
                cpu[name].append(spent)
    engine.dispose()
    result: dict[str, Any] = {
        name: {"median_us": round(statistics.median(v) * 1e6, 1),
               "p90_us": round(statistics.quantiles(v, n=10)[8] * 1e6, 1)} for name, v in cpu.items()}
    result["orm_to_core"] = round(statistics.median(cpu["orm"]) / statistics.median(cpu["core"]), 2)
    result["load"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
