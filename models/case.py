"""Cases: one running BPMN instance plus what people need to find it."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, intpk, json_data, timestamp
from .process import ProcessDefinition
from .user import User


class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        # Case lists, newest first, filtered by process and/or status: each filter's index ends
        # with the id, so a page is read in order and stops, whatever the number of cases.
        Index("ix_case_process_status", "process_key", "status", "id"),
        Index("ix_case_process_id", "process_key", "id"),
        Index("ix_case_status_id", "status", "id"),
        # Reports and evaluation read a period's cases: those opened or closed in it.
        Index("ix_case_created_at", "created_at"),
        Index("ix_case_closed_at", "closed_at"),
        Index("ix_case_provider_created", "provider", "created_at"),
        # One open case per (process, dedup_key): an alert storm folds into it (engine/intake).
        Index("uq_case_open_dedup", "process_key", "dedup_key", unique=True,
              sqlite_where=text("status = 'open' AND dedup_key IS NOT NULL"),
              postgresql_where=text("status = 'open' AND dedup_key IS NOT NULL")),
        # The open cases of a month, which the evaluation reads live (ended ones are case_fact rows).
        Index("ix_case_open_created_at", "created_at", sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
        # The inbox's requester arm: the open cases someone requested (engine.cases.queries.list_tasks).
        Index("ix_case_open_requester", "requester_id", sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
    )

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(40), unique=True)
    process_key: Mapped[str] = mapped_column(String(120))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(10))
    provider: Mapped[str | None] = mapped_column(String(120))
    system: Mapped[str | None] = mapped_column(String(120))
    # A JSON snapshot of the instance's current data, for display and metrics.
    data: Mapped[json_data]
    # Who completed which user task (element id -> user names), for separation of duties.
    actors: Mapped[json_data]
    # The serialized SpiffWorkflow instance, without its spec.
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    version_id: Mapped[int] = mapped_column(default=1)
    # Head of this case's audit hash chain.
    audit_seq: Mapped[int] = mapped_column(default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    closed_at: Mapped[timestamp | None]
    # Pending time: while the case waits on its requester its SLA clocks stop (engine.timing.timers).
    sla_paused_at: Mapped[timestamp | None]
    sla_paused_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    # Alert deduplication: the key a monitoring system posted, and how many posts it folded.
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    occurrences: Mapped[int] = mapped_column(default=1, server_default="1")

    definition: Mapped[ProcessDefinition] = relationship()
    requester: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Case {self.key}>"


class CaseCounter(Base):
    """The last number handed out per case-key prefix (INC, CHG, ...)."""

    __tablename__ = "case_counter"

    prefix: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
