"""The auditor's pages: search the audit trail, the filter choices, and verifying a chain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from engine.cases import queries
from engine.errors import NotAllowed, said
from engine.people import roles
from engine.processes import specs
from engine.records import audit
from models import AuditEvent, Case, ProcessDefinition, User


@dataclass
class AuditPage:
    items: list[AuditEvent]
    next_page: int | None
    # Each event's task (by event id) as its case's process version names it, in English and
    # Chinese, so that a page can name it in its reader's language; the name the event recorded
    # where the version does not name it (an event of no case keeps its recorded name).
    task_names: dict[int, tuple[str, str | None]] = field(default_factory=dict)


@dataclass
class AuditChoices:
    types: list[str]
    processes: list[ProcessDefinition]  # the latest version of each process key, by key


@dataclass
class ChainCheck:
    ok: bool
    checked: int
    first_bad: str | None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def audit_choices(session: Session) -> AuditChoices:
    """List the event types and processes there are, for the search form.

    The types are read by skipping through the (type, at) index, one probe per type there is
    ("loose index scan"): a few dozen index lookups whatever the number of events, where a
    DISTINCT over audit_event reads every event. Processes come from their (small) table: the
    latest version of every key, retired ones included (their cases keep their events), so that
    the form can name each process as its owner did."""
    latest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
              .group_by(ProcessDefinition.key).subquery())
    processes = session.scalars(select(ProcessDefinition).join(
        latest, (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.version))
        .order_by(ProcessDefinition.key))
    return AuditChoices(event_types(session), list(processes))


def event_types(session: Session) -> list[str]:
    """Return the audit event types there are, in order, one index probe per type."""
    found = select(func.min(AuditEvent.type).label("type")).cte("found", recursive=True)
    following = select(func.min(AuditEvent.type)).where(AuditEvent.type > found.c.type).scalar_subquery()
    found = found.union_all(select(following).where(found.c.type.is_not(None)))
    return [t for t in session.scalars(select(found.c.type)) if t is not None]


def search_audit(session: Session, *, actor: User, page: int = 1, per_page: int = 100,
                 date_from: dt.date | None = None, date_to: dt.date | None = None, actor_name: str | None = None,
                 type: str | None = None, process: str | None = None, case: str | None = None) -> AuditPage:
    """Search audit events by period, actor, type, process and case (auditors and admins)."""
    if not actor.group_names & roles.READ_ALL:
        raise NotAllowed(said("role: searching the audit trail needs one of the groups auditor, admin"))
    query = select(AuditEvent)
    if date_from:
        query = query.where(AuditEvent.at >= dt.datetime.combine(date_from, dt.time(), dt.timezone.utc))
    if date_to:
        query = query.where(AuditEvent.at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(),
                                                                dt.timezone.utc))
    if actor_name:
        query = query.where(AuditEvent.actor == actor_name.strip())
    if type:
        query = query.where(AuditEvent.type == type)
    if process:
        # Correlated on the event's case (its primary key): a newest-first walk of the `at`
        # index stops after a page, and a rare process goes through its cases' events instead.
        query = query.where(exists().where(Case.id == AuditEvent.case_id, Case.process_key == process))
    if case:
        query = query.where(AuditEvent.chain == case.strip().upper())
    page = max(1, page)
    rows = list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                .offset((page - 1) * per_page).limit(per_page + 1)))
    items = rows[:per_page]
    case_ids = {e.case_id for e in items if e.case_id is not None}
    versions: dict[int, int] = {}  # case id -> its process version's row id
    if case_ids:
        for case_id, definition_id in session.execute(select(Case.id, Case.definition_id)
                                                      .where(Case.id.in_(case_ids))):
            versions[case_id] = definition_id
    names: dict[int, tuple[str, str | None]] = {}
    for event in items:
        recorded = event.data.get("name") if isinstance(event.data, dict) else None
        version = versions.get(event.case_id) if event.case_id is not None else None
        if event.task and version is not None:
            names[event.id] = specs.load_by_id(session, version).manifest.element_names(event.task, recorded)
        else:
            names[event.id] = (recorded or event.task or "", None)
    return AuditPage(items, page + 1 if len(rows) > per_page else None, names)


def verify_chain(session: Session, *, case: str | None, actor: User) -> ChainCheck:
    """Recompute the audit chain of one case or of everything (auditors and admins)."""
    if not actor.group_names & roles.READ_ALL:
        raise NotAllowed(said("role: verifying the audit chain needs one of the groups auditor, admin"))
    target = queries.get_case(session, case, actor=actor) if case else None
    result = audit.verify(session, target)
    bad = None
    if result.first_bad is not None:
        bad = f"{result.first_bad.chain} #{result.first_bad.seq} ({result.first_bad.type})"
    return ChainCheck(result.ok, result.checked, bad, result.reason)
