"""Sign-in throttling and lockout, kept in the database (shared by every server process).

Failed sign-ins with a password (local or directory) are counted per account name and per
client address in the `login_throttle` table, the security log:

* ACCOUNT_LIMIT failures for one name within WINDOW lock that name; ADDRESS_LIMIT failures
  from one address lock that address (however many names it tries). A lock lasts
  LOCK_BASE, doubled for each lock in a row (backoff) up to LOCK_MAX. While locked, sign-in
  is refused before the password is even checked, the right password included.
* The audit chain gets the first failure per account name and window (`user_login_failed`)
  and each lock, once (`user_login_locked`, with the count). Further failures are only
  counted here, so an anonymous caller cannot grow the chain without bound: at most two
  events per name and window, and the per-address lock bounds the names one address tries.
* A successful sign-in clears its account's count (not the address's). Rows whose window and
  lock have been over for a day are pruned as new failures come in.

Everything is read from the engine clock (`clock.now()`), so tests and drills move time instead
of sleeping. Flask-Limiter (webui.auth) adds a plain request rate per address in front.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.records import audit
from engine.timing import clock
from models import LoginThrottle

ACCOUNT_LIMIT = 20
ADDRESS_LIMIT = 100
WINDOW = dt.timedelta(minutes=15)
LOCK_BASE = dt.timedelta(minutes=15)
LOCK_MAX = dt.timedelta(hours=24)
KEEP = dt.timedelta(days=1)


@dataclass(frozen=True)
class Lock:
    """Why sign-in is refused now, and until when."""

    key: str
    until: dt.datetime


def account_key(name: str) -> str:
    """The throttle key of an account name (case-folded: `Admin` and `admin` count together)."""
    return "account:" + (name or "").strip().casefold()[:150]


def address_key(source: str) -> str | None:
    """The throttle key of a client address, or None when unknown."""
    return "address:" + source[:150] if source else None


def _keys(name: str, source: str) -> list[str]:
    return [k for k in (account_key(name), address_key(source)) if k]


def locked(session: Session, name: str, source: str, *, now: dt.datetime | None = None) -> Lock | None:
    """Return the lock on this account name or address, if one holds now (one indexed read)."""
    now = now or clock.now()
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(_keys(name, source)),
                                                       LoginThrottle.locked_until > now)).all()
    if not rows:
        return None
    row = max(rows, key=lambda r: r.locked_until or now)
    assert row.locked_until is not None
    return Lock(row.key, row.locked_until)


def _row(session: Session, key: str, now: dt.datetime) -> LoginThrottle:
    values: dict[str, Any] = {"key": key, "window_start": now, "failures": 0, "locks": 0}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(LoginThrottle).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(LoginThrottle).values(**values).on_conflict_do_nothing())
    elif session.get(LoginThrottle, key) is None:
        session.add(LoginThrottle(**values))
        session.flush()
    row = session.scalars(select(LoginThrottle).where(LoginThrottle.key == key)
                          .with_for_update().execution_options(populate_existing=True)).one()
    return row


def _count(session: Session, key: str, limit: int, now: dt.datetime) -> tuple[LoginThrottle, bool]:
    """Count one failure under `key`; return the row and whether this failure locked it."""
    row = _row(session, key, now)
    lock_over = row.locked_until is None or row.locked_until <= now
    if lock_over and row.window_start + WINDOW <= now:
        if (row.locked_until or row.window_start) + KEEP <= now:
            row.locks = 0  # a quiet day forgets earlier locks
        row.window_start, row.failures = now, 0
    row.failures += 1
    if row.failures >= limit and lock_over:
        row.locks += 1
        row.locked_until = now + min(LOCK_BASE * 2 ** (row.locks - 1), LOCK_MAX)
        return row, True
    return row, False


def record_failure(session: Session, name: str, source: str, data: dict[str, Any] | None = None, *,
                   now: dt.datetime | None = None) -> Lock | None:
    """Count a refused sign-in for the name and the address; audit the first per window and a
    new lock. Return the lock this failure set, if any."""
    now = now or clock.now()
    name = (name or "").strip()
    account, account_locked = _count(session, account_key(name), ACCOUNT_LIMIT, now)
    if account.failures == 1:
        audit.append_system(session, actor=None, type="user_login_failed",
                            data={"user": name[:120], "from": source, **(data or {}),
                                  "note": "further failures in this window are counted, not audited"})
    new_lock: Lock | None = None
    if account_locked:
        assert account.locked_until is not None
        new_lock = Lock(account.key, account.locked_until)
        audit.append_system(session, actor=None, type="user_login_locked",
                            data={"user": name[:120], "from": source, "failures": account.failures,
                                  "until": account.locked_until.isoformat()})
    key = address_key(source)
    if key:
        address, address_locked = _count(session, key, ADDRESS_LIMIT, now)
        if address_locked:
            assert address.locked_until is not None
            new_lock = new_lock or Lock(address.key, address.locked_until)
            audit.append_system(session, actor=None, type="user_login_locked",
                                data={"from": source, "failures": address.failures,
                                      "until": address.locked_until.isoformat()})
    _prune(session, now)
    session.flush()
    return new_lock


def record_success(session: Session, name: str) -> None:
    """Forget an account's failures after it signed in (the address keeps its count)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(name)))


def _prune(session: Session, now: dt.datetime) -> None:
    old = now - KEEP
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.window_start < old,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < old)))
