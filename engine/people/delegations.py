"""Deputies (out of office): a person names someone to act for them for a period.

While a delegation runs, the tasks offered to the person are offered to the deputy too (the
inbox and the task notices select them in SQL with `stands_in_for`), and what the deputy does
is recorded as done on the person's behalf (engine.cases.access decides, engine.cases.services
records). Separation of duties applies to the deputy as to the person: a deputy never acts on
their own request, nor on a task the person may not do.

A person names their own deputy; a manager or an admin may name one for someone else (the
person fell ill). Naming and ending are audited on the system chain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotAllowed, NotFound, said
from engine.people import roles, users
from engine.records import audit
from engine.timing import clock
from models import Delegation, User

MANAGERS = frozenset({"manager", "admin"})

MAX_DAYS = 366


def running(now: Any) -> ColumnElement[bool]:
    """The delegations in force at `now` (a value or a bind parameter)."""
    return Delegation.in_force(now)


def stands_in_for(deputy_id: Any, user_id: Any, now: Any) -> ColumnElement[bool]:
    """SQL: `deputy_id` is standing in for `user_id` at `now` (for an EXISTS)."""
    return and_(Delegation.deputy_id == deputy_id, Delegation.user_id == user_id, running(now))


def name_deputy(session: Session, *, actor: User, deputy: str, starts_at: dt.datetime, ends_at: dt.datetime,
                user: str | None = None, note: str = "") -> Delegation:
    """Name `deputy` to act for `user` (the actor by default) from `starts_at` until `ends_at`."""
    roles.check_may_write(actor)
    person = actor if not user or user == actor.name else users.get_user(session, user)
    if person.id != actor.id and not actor.group_names & MANAGERS:
        raise NotAllowed(said("Only a manager or an admin names a deputy for someone else (role rule)."))
    stand_in = users.find_user(session, (deputy or "").strip())
    errors: dict[str, list[str]] = {}
    if stand_in is None or not stand_in.active:
        errors["deputy"] = [said("no active user named %(name)s", name=repr(deputy))]
    elif stand_in.id == person.id:
        errors["deputy"] = [said("a person cannot be their own deputy")]
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        errors["starts_at"] = [said("give times with a time zone (UTC)")]
    elif ends_at <= starts_at:
        errors["ends_at"] = [said("must be after the start")]
    elif ends_at - starts_at > dt.timedelta(days=MAX_DAYS):
        errors["ends_at"] = [said("a deputy is named for at most %(days)s days", days=MAX_DAYS)]
    elif ends_at <= clock.now():
        errors["ends_at"] = [said("must be in the future")]
    if len(note) > 300:
        errors["note"] = [said("must be at most %(n)s characters", n=300)]
    if errors:
        raise InvalidData(said("Some fields are not valid: %(fields)s", fields=", ".join(sorted(errors))), errors)
    assert stand_in is not None
    row = Delegation(user_id=person.id, deputy_id=stand_in.id, starts_at=starts_at, ends_at=ends_at, note=note.strip(),
                     created_at=clock.now(), created_by_id=actor.id)
    session.add(row)
    session.flush()
    audit.append_system(session, actor=actor, type="delegation_created",
                        data={"id": row.id, "user": person.name, "deputy": stand_in.name,
                              "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "note": row.note})
    return row


def end_delegation(session: Session, delegation_id: int, *, actor: User) -> Delegation:
    """End a delegation now (the person, their deputy, a manager or an admin)."""
    roles.check_may_write(actor)
    row = session.get(Delegation, delegation_id)
    if row is None:
        raise NotFound(said("no delegation %(delegation)s", delegation=delegation_id))
    if actor.id not in (row.user_id, row.deputy_id) and not actor.group_names & MANAGERS:
        raise NotAllowed(said("Only the person, their deputy, a manager or an admin ends a delegation (role rule)."))
    now = clock.now()
    if row.ended_at is None or row.ended_at > now:
        row.ended_at = min(now, row.ends_at)
        session.flush()
        audit.append_system(session, actor=actor, type="delegation_ended",
                            data={"id": row.id, "user": row.user.name, "deputy": row.deputy.name})
    return row


def list_delegations(session: Session, *, actor: User) -> list[Delegation]:
    """The delegations that concern the actor (as the person or the deputy), not yet over, soonest first;
    managers and admins see everyone's."""
    now = clock.now()
    query = select(Delegation).where(Delegation.ends_at > now,
                                     or_(Delegation.ended_at.is_(None), Delegation.ended_at > now))
    if not actor.group_names & MANAGERS:
        query = query.where(or_(Delegation.user_id == actor.id, Delegation.deputy_id == actor.id))
    return list(session.scalars(query.order_by(Delegation.starts_at, Delegation.id)))


def principals(session: Session, deputy: User, *, now: dt.datetime | None = None) -> list[User]:
    """The people `deputy` stands in for now, by name."""
    moment = now or clock.now()
    return list(session.scalars(select(User).join(Delegation, Delegation.user_id == User.id)
                                .where(Delegation.deputy_id == deputy.id, running(moment), User.active)
                                .order_by(User.name).distinct()))


def stands_in(session: Session, deputy: User, person_id: int) -> bool:
    """Say whether `deputy` stands in for the user `person_id` now."""
    found = session.scalars(select(Delegation.id).where(stands_in_for(deputy.id, person_id, clock.now())).limit(1))
    return found.first() is not None
