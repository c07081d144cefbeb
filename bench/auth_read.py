"""Benchmark: the API token's check (engine.people.tokens.authenticate, an ORM query) against
the same read done with Core and made into the session's objects (engine.cases.action_read.held),
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
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import Table, bindparam, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import db
from engine.cases.action_read import held
from engine.people import tokens, users
from models import ApiToken, Group, User, user_group

_token, _user, _group = (cast(Table, c.__table__) for c in (ApiToken, User, Group))


def _keys(cls: type, table: Table) -> tuple[str, ...]:
    return tuple(inspect(cls).get_property_by_column(c).key for c in table.c)


TOKEN_KEYS, USER_KEYS, GROUP_KEYS = _keys(ApiToken, _token), _keys(User, _user), _keys(Group, _group)
USER_AT, GROUP_AT = len(TOKEN_KEYS), len(TOKEN_KEYS) + len(USER_KEYS)
CORE_LOOKUP = (select(_token, _user, _group)
               .join_from(_token, _user, _user.c.id == _token.c.user_id)
               .outerjoin(user_group, user_group.c.user_id == _user.c.id)
               .outerjoin(_group, _group.c.id == user_group.c.group_id)
               .where(_token.c.token_hash == bindparam("digest"))
               .order_by(_group.c.name))


def core_rows(session: Session, token: str) -> Any:
    return session.connection().execute(CORE_LOOKUP, {"digest": tokens._token_digest(token)}).all()


def core_authenticate(session: Session, token: str) -> ApiToken | None:
    """The Core read made into the session's objects, as the ORM query makes them."""
    rows = core_rows(session, token)
    if not rows:
        return None
    first = rows[0]
    row = held(session, ApiToken, TOKEN_KEYS, first[:USER_AT])  # type: ignore[type-var]
    user = held(session, User, USER_KEYS, first[USER_AT:GROUP_AT])  # type: ignore[type-var]
    if "groups" in inspect(user).unloaded:
        set_committed_value(user, "groups", [held(session, Group, GROUP_KEYS, r[GROUP_AT:])  # type: ignore[type-var]
                                             for r in rows if r[GROUP_AT] is not None])
    if "user" in inspect(row).unloaded:
        set_committed_value(row, "user", user)
    if row.revoked_at is not None or not row.user.active:
        return None
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    url = args.postgres or f"sqlite:///{tempfile.mkdtemp(prefix='opsgate-bench-auth-')}/auth.db"
    engine = db.make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    maker = db.make_sessionmaker(engine)
    groups = ["requester", "engineer", "change_manager"]  # an engineer who also approves changes
    with maker.begin() as s:
        users.create_user(s, "caller", groups, actor=None)
        token = tokens.create_token(s, "caller", actor=None)
    sides: dict[str, Callable[[Session, str], Any]] = {
        "orm": tokens.authenticate, "core": core_authenticate, "core_statement_only": core_rows}
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
