"""A user's in-app notices (the `app` rows of the notification table): list, count, mark read.

The worker and the timer firing write them (engine.notifications.outbox); people read them on the notices
page and through `/api/v1/notices`.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, CursorResult, exists, func, or_, select, update
from sqlalchemy.orm import Session

from engine.errors import NotFound, said
from engine.timing import clock
from models import Case, HumanTask, HumanTaskBar, Notification, User

PAGE_SIZE = 100


def _mine(actor: User) -> tuple[ColumnElement[bool], ...]:
    return (Notification.user_id == actor.id, Notification.channel == "app")


def _current(actor: User) -> ColumnElement[bool]:
    """A notice about a task lasts while the task is ready and the actor is not barred from it:
    once someone completes it (or the case moves on), it is gone from the list and the count."""
    live = exists().where(HumanTask.id == Notification.task_id, HumanTask.state == "ready",
                          ~exists().where(HumanTaskBar.task_id == HumanTask.id, HumanTaskBar.user_id == actor.id))
    return or_(Notification.task_id.is_(None), live)


def list_notices(session: Session, *, actor: User, unread: bool = False,
                 limit: int = PAGE_SIZE, offset: int = 0) -> list[Notification]:
    """Return a page of the actor's in-app notices, newest first (LIMIT and OFFSET in SQL,
    through the (user_id, channel, id) index)."""
    query = select(Notification).where(*_mine(actor), _current(actor))
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit).offset(max(0, offset))))


def case_keys(session: Session, notices: list[Notification]) -> dict[int, str]:
    """Return the key of each case the notices are about, by case id."""
    ids = {n.case_id for n in notices if n.case_id is not None}
    if not ids:
        return {}
    return {case_id: key for case_id, key in session.execute(select(Case.id, Case.key).where(Case.id.in_(ids)))}  # noqa: C416 - rows, not pairs


UNREAD_CAP = 100


def count_unread(session: Session, *, actor: User, cap: int = UNREAD_CAP) -> int:
    """Return how many of the actor's in-app notices are unread, counting no further than `cap`
    (the menu shows "99+" from there), so that every page's badge costs at most `cap` index
    entries however many notices someone has left unread."""
    unread = (select(Notification.id).where(*_mine(actor), Notification.read_at.is_(None), _current(actor))
              .limit(cap).subquery())
    count: int | None = session.scalar(select(func.count()).select_from(unread))
    return int(count or 0)


def mark_read(session: Session, notice_id: int | None = None, *, actor: User) -> int:
    """Mark one of the actor's notices (or all of them) read; return how many changed."""
    query = update(Notification).where(*_mine(actor), Notification.read_at.is_(None)).values(read_at=clock.now())
    if notice_id is not None:
        row = session.get(Notification, notice_id)
        if row is None or row.user_id != actor.id or row.channel != "app":
            raise NotFound(said("no notice %(notice)s", notice=notice_id))
        query = query.where(Notification.id == notice_id)
    result = session.execute(query, execution_options={"synchronize_session": False})
    changed = result.rowcount if isinstance(result, CursorResult) else 0
    session.flush()
    return int(changed or 0)
