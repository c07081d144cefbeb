"""Applying a closed process_change review to the version it reviewed (engine.cases.proposals
opens the reviews; engine.cases.services calls `settle` when a task completes)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.processes.schedule import schedule_start_timers
from engine.records import audit
from engine.timing import clock
from models import Case, ProcessDefinition, User

PROCESS = "process_change"


def settle(session: Session, case: Case, *, actor: User | None) -> None:
    """Apply a closed review: put the version live, or mark it rejected (called when a task completes)."""
    if case.process_key != PROCESS or case.status != "closed":
        return
    data = case.data or {}
    definition = session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == str(data.get("process_key", "")),
        ProcessDefinition.version == int(data.get("version") or 0))).first()
    if definition is None or definition.review_case != case.key or definition.status != "proposed":
        return  # a review opened by hand names no proposal of its own: nothing to apply
    approved = case.outcome == "approved"
    definition.status = "live" if approved else "rejected"
    definition.reviewed_by = audit.actor_name(actor)
    definition.reviewed_at = clock.now()
    definition.review_comment = str(data.get("comment") or "")
    session.flush()
    audit.append_system(session, actor=actor, type="process_approved" if approved else "process_rejected", data={
        "key": definition.key, "version": definition.version, "sha256": definition.sha256,
        "case": case.key, "comment": definition.review_comment})
    if approved:
        schedule_start_timers(session, definition)


