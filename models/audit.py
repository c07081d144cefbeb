"""The append-only, hash-chained audit trail."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, json_data, timestamp

# The events that answer a case (its first response, engine.processes.case_facts); the partial
# index below holds only these, so a case's first response is one index-only probe of its chain.
RESPONSE_EVENT_TYPES = ("task_claimed", "task_completed", "gate_approved", "gate_rejected", "gate_reworked")
_RESPONSES = text("type IN ({})".format(", ".join(f"'{t}'" for t in RESPONSE_EVENT_TYPES)))


class AuditEvent(Base):
    """One state change. Each chain (a case's key, or "system") is hash-linked by seq."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_event_type_at", "type", "at"),
        # The auditor's search: newest first and by date range (at), by process (case_id).
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_case_id", "case_id"),
        Index("ix_audit_event_response", "chain", "at", sqlite_where=_RESPONSES, postgresql_where=_RESPONSES),
    )

    id: Mapped[intpk]
    chain: Mapped[str] = mapped_column(String(40))
    # A case's events are found by their chain (the case key), in seq order; the case_id
    # index serves the auditor's search by process.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    seq: Mapped[int]
    at: Mapped[timestamp]
    actor: Mapped[str] = mapped_column(String(120), index=True)
    type: Mapped[str] = mapped_column(String(40))
    task: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[json_data]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """The head of a chain that is not a case's (cases keep their head on the case row)."""

    __tablename__ = "audit_chain"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    head: Mapped[str] = mapped_column(String(64), default="")
