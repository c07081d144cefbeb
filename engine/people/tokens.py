"""API tokens: created for a person, shown once, stored as a digest, their last use stamped.

Checking a token is one indexed read: the token row by its digest's unique index, joined with
its user and the user's groups (`authenticate`). Nothing is cached between requests, so a
revoked token or a deactivated user is refused by the very next request, in every process.
Checks on the token row (revocation, and any that join them) belong to that one read.

Its last use is stamped at most once per TOKEN_USE_RESOLUTION: the read brings the stamp back,
and only a stamp older than that is written (`record_use`), so a busy integration costs one
UPDATE a minute, not one per call.

A token may expire (`expires_at`; None: never) and has a scope: "all" (whatever its user may
do) or "read" (GET requests only: a monitoring dashboard). Tokens are for the JSON API only;
the HTML pages take browser sessions only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Table, bindparam, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine.errors import InvalidData, said
from engine.people.users import get_user
from engine.records import audit
from engine.rows import column_keys, held
from engine.timing import clock
from models import ApiToken, Group, User, user_group


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SCOPES = ("all", "read")
MAX_DAYS = 3650


def create_token(session: Session, user_name: str, *, actor: User | None, name: str = "",
                 expires_in_days: int | None = None, scope: str = "all") -> str:
    """Create an API token for a user; return it (shown once, stored only as a hash)."""
    user = get_user(session, user_name)
    if scope not in SCOPES:
        raise InvalidData(said("scope must be one of %(scopes)s", scopes=", ".join(SCOPES)),
                          {"scope": [said("one of %(choices)s", choices=", ".join(SCOPES))]})
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidData(said("a token lasts 1 to %(days)s days", days=MAX_DAYS),
                          {"expires_in_days": [said("1 to %(days)s", days=MAX_DAYS)]})
    token = "og_" + secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + dt.timedelta(days=expires_in_days) if expires_in_days else None
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_digest(token), created_at=now,
                         expires_at=expires_at, scope=scope))
    session.flush()
    audit.append_system(session, actor=actor, type="token_created",
                        data={"user": user.name, "name": name, "scope": scope,
                              "expires_at": expires_at.isoformat() if expires_at else None})
    return token


# The token, its user and the user's groups in one Core statement (the groups as the
# relationship orders them: by name), made the session's objects (engine.rows), so that nothing
# about the caller is loaded later in the request. The same read as an ORM query
# (`select(ApiToken).join(...).options(contains_eager(...))`) built the ORM's loading machinery
# for three entities on every request: alone (bench/auth_read.py) that is only 5% more CPU, but
# inside the API's request it cost 0.06 of the HTTP/service ratio of bench/throughput.py
# (docs/performance.md, "The API's per-request overhead").
_token = cast(Table, ApiToken.__table__)
_user = cast(Table, User.__table__)
_group = cast(Table, Group.__table__)
_TOKEN_KEYS, _USER_KEYS, _GROUP_KEYS = column_keys(ApiToken), column_keys(User), column_keys(Group)
_USER_AT, _GROUP_AT = len(_TOKEN_KEYS), len(_TOKEN_KEYS) + len(_USER_KEYS)
_LOOKUP = (select(_token, _user, _group)
           .join_from(_token, _user, _user.c.id == _token.c.user_id)
           .outerjoin(user_group, user_group.c.user_id == _user.c.id)
           .outerjoin(_group, _group.c.id == user_group.c.group_id)
           .where(_token.c.token_hash == bindparam("digest"))
           .order_by(_group.c.name))


def authenticate(session: Session, token: str, *, now: dt.datetime | None = None) -> ApiToken | None:
    """Return a live API token (not revoked, not expired) with its active user and the user's
    groups (one read), or None."""
    if not token or len(token) > 200:
        return None
    rows = session.connection().execute(_LOOKUP, {"digest": _token_digest(token)}).all()
    if not rows:
        return None
    row = _held_token(session, rows)
    if row.revoked_at is not None or not row.user.active:
        return None
    if row.expires_at is not None and row.expires_at <= (now or clock.now()):
        return None
    return row


def _held_token(session: Session, rows: Sequence[Row[Any]]) -> ApiToken:
    """The session's token, user and groups for the lookup's rows (one per group), as the ORM
    query gave them: an object the session holds keeps its values and its loaded collections,
    what it has not loaded (a fresh object, or one expired by a commit) is filled in."""
    first = rows[0]
    token_row = held(session, ApiToken, _TOKEN_KEYS, first[:_USER_AT])
    user = held(session, User, _USER_KEYS, first[_USER_AT:_GROUP_AT])
    if "groups" in inspect(user).unloaded:
        set_committed_value(user, "groups", [held(session, Group, _GROUP_KEYS, r[_GROUP_AT:])
                                             for r in rows if r[_GROUP_AT] is not None])
    if "user" in inspect(token_row).unloaded:
        set_committed_value(token_row, "user", user)
    return token_row


# How fresh a token's last-use stamp is kept: a busy integration writes it once a minute, not
# on every call.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


def use_is_stale(row: ApiToken, *, now: dt.datetime | None = None) -> bool:
    """Say whether a token's last-use stamp, as read with it, is due to be written again."""
    now = now or clock.now()
    return row.last_used_at is None or row.last_used_at < now - TOKEN_USE_RESOLUTION


def record_token_use(session: Session, token: str, *, now: dt.datetime | None = None) -> bool:
    """Stamp an API token's last use (at most once per TOKEN_USE_RESOLUTION); return whether
    the row changed (the caller commits)."""
    now = now or clock.now()
    result = cast(CursorResult[Any], session.execute(  # an UPDATE's result is a CursorResult
        update(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None),
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_USE_RESOLUTION))
        .values(last_used_at=now), execution_options={"synchronize_session": False}))
    return result.rowcount == 1
