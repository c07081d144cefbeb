"""Who may read a case: the rule behind every case page, attachment and evidence pack.

Auditors and admins read every case. Anyone else reads a case they requested, acted on
(they appear in its audit trail), or may act on now (an open task for one of their
groups, or claimed by them). A case you may not read answers NotAllowed, naming the rule.
"""

from __future__ import annotations

from sqlalchemy import String, cast, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import AuditEvent, Case, HumanTask, User

from .errors import NotAllowed, NotFound

READ_ALL = frozenset({"auditor", "admin"})


def reads_everything(actor: User) -> bool:
    """Tell whether the actor's role lets them read every case."""
    return bool(actor.group_names & READ_ALL)


def readable_filter(actor: User) -> ColumnElement[bool] | None:
    """SQL condition selecting the cases the actor may read (None: all of them)."""
    if reads_everything(actor):
        return None
    acted = exists().where(AuditEvent.case_id == Case.id, AuditEvent.actor == actor.name)
    claimed = exists().where(HumanTask.case_id == Case.id, HumanTask.assignee_id == actor.id)
    conditions: list[ColumnElement[bool]] = [Case.requester_id == actor.id, acted, claimed]
    groups = sorted(actor.group_names)
    if groups:
        # Candidate groups are a JSON list; the lane is a plain column and covers the common case.
        conditions.append(exists().where(HumanTask.case_id == Case.id, HumanTask.lane.in_(groups)))
        for group in groups:
            conditions.append(exists().where(HumanTask.case_id == Case.id,
                                             cast(HumanTask.candidate_groups, String).like(f'%"{group}"%')))
    return or_(*conditions)


def may_read(session: Session, case: Case, actor: User) -> bool:
    """Tell whether the actor may read this case."""
    if reads_everything(actor) or case.requester_id == actor.id:
        return True
    return _participates(session, case, actor)


def _participates(session: Session, case: Case, actor: User) -> bool:
    groups = actor.group_names
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)):
        if task.assignee_id == actor.id or groups & set(task.candidate_groups or [task.lane]):
            return True
    acted = session.scalar(select(AuditEvent.id).where(AuditEvent.case_id == case.id,
                                                        AuditEvent.actor == actor.name).limit(1))
    return acted is not None


def may_attach(session: Session, case: Case, actor: User) -> bool:
    """Tell whether the actor may attach files: the requester and the people working on it."""
    if case.requester_id == actor.id or "admin" in actor.group_names:
        return True
    return _participates(session, case, actor)


def find_case(session: Session, ref: str) -> Case:
    """Return the case with this key (or numeric id), or raise NotFound."""
    case = session.scalar(select(Case).where(Case.key == ref))
    if case is None and ref.isdigit():
        case = session.get(Case, int(ref))
    if case is None:
        raise NotFound(f"no case {ref}")
    return case


def readable_case(session: Session, ref: str, *, actor: User) -> Case:
    """Return the case if the actor may read it, else raise NotAllowed naming the rule."""
    case = find_case(session, ref)
    if not may_read(session, case, actor):
        raise NotAllowed(f"role: {case.key} is readable by its requester, the people working on it, "
                         "auditors and admins")
    return case
