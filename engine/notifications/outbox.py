"""Notifications: in-app notices and e-mail, through an outbox so mail never blocks case work.

`notify()` writes rows in the caller's transaction: one in-app notice per recipient and,
when SMTP is configured and the recipient has an address, one `pending` e-mail row. Nothing
is sent there. After the transaction commits, the worker calls `deliver_pending()`, which
sends each due e-mail and marks it `sent`, or records the error and retries with
exponential backoff (1, 2, 4, ... minutes, at most an hour apart) until `MAX_ATTEMPTS`,
then marks it `failed`. A dead mail server therefore costs the worker a timeout per row,
never a rolled-back approval.

SMTP settings come from the environment:

=====================  ===================================================  ===============
variable               meaning                                              default
=====================  ===================================================  ===============
OPSGATE_SMTP_HOST      mail server; unset means no e-mail is queued         (unset)
OPSGATE_SMTP_PORT      port                                                 465 for ssl, 587 for starttls, else 25
OPSGATE_SMTP_TLS       none, starttls or ssl                                starttls if a user is set, else none
OPSGATE_SMTP_USER      login user (optional)
OPSGATE_SMTP_PASSWORD  login password
OPSGATE_SMTP_FROM      From address                                         opsgate@localhost
OPSGATE_SMTP_TIMEOUT   seconds per connection                               10
=====================  ===================================================  ===============
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    insert,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from engine.config import settings
from engine.notifications import webhooks
from engine.timing import clock
from models import (
    Case,
    Delegation,
    Group,
    HumanTask,
    HumanTaskBar,
    HumanTaskGroup,
    Notification,
    User,
    user_group,
)
from models.base import UTCDateTime

log = logging.getLogger(__name__)


_NOTICE_COLUMNS = ("channel", "kind", "user_id", "address", "case_id", "task_id", "subject", "body", "status",
                   "attempts", "next_attempt_at", "last_error", "created_at", "sent_at", "read_at")


_INSERT = insert(Notification)


def notify(session: Session, *, kind: str, recipients: Iterable[User], subject: str, body: str = "",
           case_id: int | None = None, task_id: str | None = None) -> int:
    """Queue an in-app notice, and an e-mail where possible, for each recipient; return the rows written."""
    now = clock.now()
    mail = settings(session).mail_wanted
    rows: list[dict[str, object]] = []
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        common = dict(kind=kind, user_id=user.id, case_id=case_id, task_id=task_id, subject=subject[:300],
                      body=body, created_at=now, attempts=0, last_error=None, read_at=None)
        rows.append({**common, "channel": "app", "status": "sent", "sent_at": now, "address": None,
                     "next_attempt_at": None})
        if mail and user.email:
            rows.append({**common, "channel": "email", "status": "pending", "sent_at": None,
                         "address": user.email, "next_attempt_at": now})
    if rows:
        session.connection().execute(_INSERT, rows)
    return len(rows)


# Only what a notice needs (id, e-mail, active), in one statement: SLA warnings and
# escalations tell everyone on a case, which must not load whole users with their groups.
_MEMBERS = (select(User.id, User.email, User.active).distinct()
            .join(user_group, user_group.c.user_id == User.id).join(Group, Group.id == user_group.c.group_id)
            .where(Group.name.in_(bindparam("groups", expanding=True)), User.active).order_by(User.id))


_ONE = select(User.id, User.email, User.active).where(User.id == bindparam("uid"))


def _members(session: Session, groups: Iterable[str]) -> list[Any]:
    names = sorted(set(groups))
    if not names:
        return []
    return list(session.execute(_MEMBERS, {"groups": names}))


def group_members(session: Session, groups: Iterable[str]) -> list[Any]:
    """The active members of the groups (id, e-mail, active): recipients for `notify`."""
    return _members(session, groups)


def _people(session: Session, case: Case, assignee: User | None, candidate_groups: Iterable[str]) -> list[Any]:
    if assignee is not None:
        return [assignee]
    groups = set(candidate_groups or ())
    people = list(session.execute(_ONE, {"uid": case.requester_id})) \
        if "requester" in groups and case.requester_id is not None else []
    return people + _members(session, groups - {"requester"})


def task_people(session: Session, case: Case, task: HumanTask) -> list[User]:
    """Who a ready task concerns: its assignee, else its candidate groups (the requester for theirs)."""
    return _people(session, case, task.assignee, task.candidate_groups or ())


def _link(session: Session, case: Case) -> str:
    base = settings(session).base_url
    return f"\n\n{base}/cases/{case.key}" if base else ""


# A newly ready task's notices in one INSERT ... SELECT per channel: the recipients (active
# members of the task's candidate groups as human_task_group lists them, plus the case's
# requester for a `requester` task) are chosen by the database, so readying a task costs one
# statement, not a read and a write.


_now = bindparam("now", type_=UTCDateTime())


_GROUP_MEMBERS = (select(user_group.c.user_id).join(Group, Group.id == user_group.c.group_id)
                  .join(HumanTaskGroup, HumanTaskGroup.group == Group.name)
                  .where(HumanTaskGroup.task_id == bindparam("task_id", type_=String),
                         HumanTaskGroup.group != literal_column("'requester'")))


_RECIPIENTS = and_(User.active, or_(
    User.id.in_(_GROUP_MEMBERS),
    User.id == bindparam("requester_id", type_=Integer),
    # the deputies of members on leave (engine.people.delegations)
    User.id.in_(select(Delegation.deputy_id).where(Delegation.user_id.in_(_GROUP_MEMBERS), Delegation.in_force(_now)))),
    # nobody separation of duties bars from the task (engine.cases.persistence writes the bars)
    User.id.not_in(select(HumanTaskBar.user_id).where(HumanTaskBar.task_id == bindparam("task_id", type_=String))))


_no_time = null().cast(UTCDateTime())


def _notice_select(channel: str) -> Any:
    mail = channel == "email"
    values: tuple[Any, ...] = (literal_column(f"'{channel}'"), bindparam("kind", type_=String), User.id,
              User.email if mail else null(), bindparam("case_id", type_=Integer),
              bindparam("task_id", type_=String), bindparam("subject", type_=String),
              bindparam("body", type_=String), literal_column("'pending'" if mail else "'sent'"),
              literal_column("0"), _now if mail else _no_time, null(), _now, _no_time if mail else _now,
              _no_time)
    query = select(*values).where(_RECIPIENTS)
    if mail:
        query = query.where(User.email.is_not(None), User.email != literal_column("''"))
    return insert(Notification).inline().from_select(_NOTICE_COLUMNS, query.order_by(User.id))


_INSERT_APP_NOTICES = _notice_select("app")


_INSERT_MAIL_NOTICES = _notice_select("email")


def announce_ready_tasks(session: Session, *, limit: int = 200) -> int:
    """Tell the people of each task that became ready since the last pass; return how many
    tasks were announced (the caller commits). The queue is the ready tasks with no
    `announced_at`, read from the (state, due_at, announced_at) index.

    The worker does this after the case work has committed, a pass every few seconds, so a
    task action never pays for the fan-out to whole groups. A task that is no longer ready,
    or that someone claimed, by then is not announced: nobody is sent a stale notice. Each
    tasks are taken with one UPDATE that only unannounced rows match, so two workers never
    announce one task twice; on PostgreSQL the queue skips the rows another worker is taking
    (FOR UPDATE SKIP LOCKED), so workers that finish together take different tasks instead of
    waiting on each other's to end up with none. The notices of all the group tasks go in one
    executemany per channel."""
    now = clock.now()
    # A CTE, evaluated once: as an IN subquery PostgreSQL may run it again for each row, and a
    # rerun skips the rows the UPDATE has just changed and takes the next ones, past the limit.
    queued = (select(HumanTask.id).where(HumanTask.state == "ready", HumanTask.announced_at.is_(None)).limit(limit)
              .with_for_update(skip_locked=True).cte("queued"))
    taken = session.scalars(update(HumanTask)
                            .where(HumanTask.id == queued.c.id, HumanTask.announced_at.is_(None))
                            .values(announced_at=now).returning(HumanTask.id)
                            .execution_options(synchronize_session=False)).all()
    if not taken:
        return 0
    # Unclaimed tasks, and tasks that are someone's from the start (a vote: assigned, never claimed).
    ready = session.execute(select(HumanTask, Case).join(Case, Case.id == HumanTask.case_id)
                            .where(HumanTask.id.in_(taken), HumanTask.state == "ready",
                                   or_(HumanTask.assignee_id.is_(None), HumanTask.claimed_at.is_(None)))
                            .order_by(HumanTask.created_at)).all()
    notices = []
    for task, case in ready:
        if task.assignee_id is not None:
            _tell_holder(session, case, task, now)
            continue
        notices.append(_ready_notice(session, case, task_id=task.id, name=task.name,
                                     candidate_groups=task.candidate_groups or (), due_at=task.due_at))
        webhooks.emit(session, "task.ready", case, task={"id": task.id, "name": task.name, "due_at": task.due_at,
                                                         "candidate_groups": sorted(task.candidate_groups or ())})
    if notices:
        connection = session.connection()
        connection.execute(_INSERT_APP_NOTICES, notices)
        if settings(session).mail_wanted:
            connection.execute(_INSERT_MAIL_NOTICES, notices)
    return len(ready)


def _tell_holder(session: Session, case: Case, task: HumanTask, now: dt.datetime) -> None:
    """Tell the person a ready task is assigned to (their vote), and their deputies."""
    deputies = select(Delegation.deputy_id).where(Delegation.user_id == task.assignee_id, Delegation.in_force(now))
    people = session.scalars(select(User).where(or_(User.id == task.assignee_id, User.id.in_(deputies)))
                             .order_by(User.id)).all()
    due = f"\nDue: {task.due_at:%Y-%m-%d %H:%M} UTC" if task.due_at else ""
    notify(session, kind="task_assigned", recipients=people, subject=f"{case.key}: {task.name}"[:300],
           body=f"{task.name} is waiting for you on {case.key} ({case.title}).{due}{_link(session, case)}",
           case_id=case.id, task_id=task.id)


def _ready_notice(session: Session, case: Case, *, task_id: str, name: str, candidate_groups: Iterable[str],
                  due_at: dt.datetime | None) -> dict[str, Any]:
    """The parameters that tell the people who may act on a ready task (`_INSERT_APP_NOTICES`,
    `_INSERT_MAIL_NOTICES`: the task's human_task_group rows name the groups)."""
    due = f"\nDue: {due_at:%Y-%m-%d %H:%M} UTC" if due_at else ""
    return {"requester_id": case.requester_id if "requester" in (candidate_groups or ()) else None,
            "kind": "task_assigned", "case_id": case.id, "task_id": task_id, "subject": f"{case.key}: {name}"[:300],
            "body": f"{name} is waiting for you on {case.key} ({case.title}).{due}{_link(session, case)}",
            "now": clock.now()}


def case_people(session: Session, case: Case) -> list[User]:
    """Who works on a case now: the people of each of its ready tasks."""
    tasks = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready"))
    return [person for task in tasks for person in task_people(session, case, task)]


def case_notice(session: Session, case: Case, *, kind: str, subject: str, body: str) -> int:
    """Tell the people working on a case (SLA warning, escalation)."""
    return notify(session, kind=kind, recipients=case_people(session, case), subject=f"{case.key}: {subject}",
                  body=f"{body}\n\n{case.key}: {case.title}{_link(session, case)}", case_id=case.id)
