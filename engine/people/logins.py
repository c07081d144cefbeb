"""Logging in and out as audited events, and a person's language choice.

Every login attempt is recorded in the system audit chain: `user_logged_in`, or
`user_login_failed` with the name that was tried (never the password) and where from.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from engine.errors import InvalidData
from engine.people import users
from engine.records import audit
from models import User

LOCALES = ("en", "zh_Hans")


def log_in(session: Session, name: str, password: str, *, source: str = "") -> User | None:
    """Check a name and password; audit the attempt; return the user or None."""
    user = users.authenticate(session, name, password)
    if user is None:
        audit.append_system(session, actor=None, type="user_login_failed",
                            data={"user": (name or "").strip()[:120], "from": source})
        return None
    audit.append_system(session, actor=user, type="user_logged_in", data={"from": source})
    return user


def log_out(session: Session, user: User, *, source: str = "") -> None:
    """Audit a logout."""
    audit.append_system(session, actor=user, type="user_logged_out", data={"from": source})


def set_locale(session: Session, user: User, locale: str) -> None:
    """Remember a person's language (en or zh_Hans)."""
    if locale not in LOCALES:
        raise InvalidData(f"unknown language {locale!r}", {"locale": [f"must be one of {', '.join(LOCALES)}"]})
    user.locale = locale
    session.flush()
