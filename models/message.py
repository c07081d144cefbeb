"""What cases wait to hear (messages and signals), and the answers given to idempotent sends (#16)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, timestamp


class EventWait(Base):
    """A message or signal an open case is waiting for: one row per (case, kind, name, element),
    rewritten with the case's other projections when it is saved."""

    __tablename__ = "event_wait"
    __table_args__ = (Index("ix_event_wait_kind_name", "kind", "name", "case_id"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # message | signal
    name: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))


class MessageReceipt(Base):
    """The answer to a message sent with an idempotency key: a repeat gets it again, and nothing is delivered twice."""

    __tablename__ = "message_receipt"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    case_key: Mapped[str] = mapped_column(String(40))
    started: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[timestamp]
