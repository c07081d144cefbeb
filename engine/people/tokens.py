"""API tokens: created for a person, shown once, stored as a digest, their last use stamped."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from engine.people.users import get_user
from engine.records import audit
from engine.timing import clock
from models import ApiToken, User


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_name: str, *, actor: User | None, name: str = "") -> str:
    """Create an API token for a user; return it (shown once, stored only as a hash)."""
    user = get_user(session, user_name)
    token = "og_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_digest(token), created_at=clock.now()))
    session.flush()
    audit.append_system(session, actor=actor, type="token_created", data={"user": user.name, "name": name})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """Return the active user an API token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_digest(token))).first()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row.user


# How fresh a token's last-use stamp is kept: a busy integration writes it once a minute, not
# on every call.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


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
