"""Logging in and out as audited events, and a person's language choice.

Every login is recorded in the system audit chain (`user_logged_in`); failures are counted by
engine.people.throttle, which audits the first per name and window (`user_login_failed` with
the name that was tried, never the password, and where from) and each lock.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from engine.errors import InvalidData, said
from engine.people import throttle, users
from engine.records import audit
from models import User

LOCALES = ("en", "zh_Hans")


def log_in(session: Session, name: str, password: str, *, source: str = "") -> User | None:
    """Check a name and password; audit the attempt; return the user or None."""
    user = users.authenticate(session, name, password)
    if user is None:
        throttle.record_failure(session, name, source)
        return None
    throttle.record_success(session, name)
    audit.append_system(session, actor=user, type="user_logged_in", data={"from": source})
    return user


def log_out(session: Session, user: User, *, source: str = "") -> None:
    """Log a person out of every browser session they have (the epoch moves on); audit it."""
    users.end_sessions(user)
    session.flush()
    audit.append_system(session, actor=user, type="user_logged_out", data={"from": source})


def set_locale(session: Session, user: User, locale: str) -> None:
    """Remember a person's language (en or zh_Hans)."""
    if locale not in LOCALES:
        raise InvalidData(said("unknown language %(locale)s", locale=repr(locale)),
                          {"locale": [said("must be one of %(choices)s", choices=", ".join(LOCALES))]})
    user.locale = locale
    session.flush()
