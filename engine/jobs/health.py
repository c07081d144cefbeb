"""Is opsgate well: worker heartbeats, readiness (/readyz) and the operational figures that
/metrics exposes (read from the database at scrape time, so they are the same whichever web
process answers, and count what every worker on every machine did).

The figures are counts the database already keeps (cases by process and outcome, ready tasks by
candidate group, SLA warnings and escalations from the audit trail's (type, at) index, the
oldest due timer, the outboxes' pending rows); nothing is counted in a process's memory, so a
restart or a second machine loses nothing.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import db
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, HumanTaskGroup, Notification, Timer, WebhookDelivery, WorkerHeartbeat

# A heartbeat older than this is forgotten (a worker that stopped for good).
FORGET_AFTER = dt.timedelta(days=1)


def worker_name() -> str:
    """This process's worker name: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat(session: Session, name: str, *, started_at: dt.datetime, at: dt.datetime | None = None) -> None:
    """Record that worker `name` finished a pass at `at` (default: now); the caller commits."""
    now = at or clock.now()
    touched = cast(CursorResult[Any], session.execute(  # an UPDATE's result is a CursorResult
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(seen_at=now),
        execution_options={"synchronize_session": False})).rowcount
    if not touched:
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_AFTER))
        # An upsert: two threads of one process share a name, and may both find no row.
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(WorkerHeartbeat).values(name=name, seen_at=now, started_at=started_at)
                        .on_conflict_do_update(index_elements=[WorkerHeartbeat.name], set_={"seen_at": now}))


@dataclass
class Readiness:
    """What /readyz checks, each with a sentence when it fails."""

    database: str = "ok"
    migrations: str = "ok"
    worker: str = "ok"

    @property
    def ready(self) -> bool:
        return self.database == self.migrations == self.worker == "ok"


def readiness(session: Session, *, worker_within: dt.timedelta) -> Readiness:
    """Check the database answers, its schema is at the newest migration, and a worker finished a
    pass within `worker_within`."""
    result = Readiness()
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"
        result.database = f"the database does not answer: {type(exc).__name__}"
        result.migrations = result.worker = "not checked"
        return result
    current, head = db.schema_revisions(session.connection())
    if current != head:
        result.migrations = (f"the schema is at {', '.join(sorted(current)) or 'nothing'}, the code expects "
                             f"{', '.join(sorted(head))}: run `opsgate init`")
        result.worker = "not checked"  # its table may not exist yet
        return result
    seen = session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
    now = clock.now()
    if seen is None:
        result.worker = "no worker has run yet: start `opsgate worker`"
    elif now - seen > worker_within:
        result.worker = f"no worker seen for {int((now - seen).total_seconds())} s: is `opsgate worker` running?"
    return result


@dataclass
class Figures:
    """The operational figures of one scrape."""

    opened: dict[str, int] = field(default_factory=dict)  # process -> cases ever opened
    closed: dict[tuple[str, str], int] = field(default_factory=dict)  # (process, outcome) -> closed cases
    open_cases: dict[str, int] = field(default_factory=dict)  # process -> open cases
    open_tasks: dict[str, int] = field(default_factory=dict)  # candidate group -> ready tasks
    overdue_tasks: dict[str, int] = field(default_factory=dict)  # candidate group -> ready tasks past due
    sla_warnings: dict[str, int] = field(default_factory=dict)  # process -> sla_warning events
    escalations: dict[str, int] = field(default_factory=dict)  # process -> case_escalated events
    timer_lag: float = 0.0  # seconds: now minus the oldest due, unfired timer (0: none due)
    timers_due: int = 0
    workers: dict[str, float] = field(default_factory=dict)  # worker -> last pass, Unix seconds
    outbox: dict[str, int] = field(default_factory=dict)  # channel -> pending rows


def figures(session: Session) -> Figures:
    """Read every figure /metrics shows."""
    now = clock.now()
    out = Figures()
    for process, count in session.execute(select(Case.process_key, func.count()).group_by(Case.process_key)):
        out.opened[process] = count
    for process, status, outcome, count in session.execute(
            select(Case.process_key, Case.status, Case.outcome, func.count())
            .group_by(Case.process_key, Case.status, Case.outcome)):
        if status == "open":
            out.open_cases[process] = out.open_cases.get(process, 0) + count
        else:
            key = (process, outcome or status)
            out.closed[key] = out.closed.get(key, 0) + count
    ready = (select(HumanTaskGroup.group, func.count()).join(HumanTask, HumanTask.id == HumanTaskGroup.task_id)
             .where(HumanTask.state == "ready").group_by(HumanTaskGroup.group))
    out.open_tasks = dict(iter(session.execute(ready)))  # a Result has keys(): dict() would take it for a mapping
    out.overdue_tasks = dict(iter(session.execute(ready.where(HumanTask.due_at < now))))
    for process, type_, count in session.execute(
            select(Case.process_key, AuditEvent.type, func.count()).join(Case, Case.id == AuditEvent.case_id)
            .where(AuditEvent.type.in_(("sla_warning", "case_escalated")))
            .group_by(Case.process_key, AuditEvent.type)):
        (out.sla_warnings if type_ == "sla_warning" else out.escalations)[process] = count
    oldest, due = session.execute(select(func.min(Timer.due_at), func.count()).where(Timer.due_at <= now)).one()
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite's aggregate loses the column type's conversion
            oldest = oldest.replace(tzinfo=dt.timezone.utc)
        out.timer_lag = max(0.0, (now - oldest).total_seconds())
    out.timers_due = due
    for name, seen in session.execute(select(WorkerHeartbeat.name, WorkerHeartbeat.seen_at)):
        out.workers[name] = seen.timestamp()
    out.outbox["email"] = session.scalar(select(func.count()).select_from(Notification).where(
        Notification.status == "pending", Notification.channel == "email")) or 0
    out.outbox["webhook"] = session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.status == "pending")) or 0
    return out
