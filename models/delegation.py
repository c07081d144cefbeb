"""Deputies: a person names someone to act for them for a period (out of office)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, and_, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, intpk, timestamp
from .user import User


class Delegation(Base):
    """While `starts_at <= now < ends_at` (and not ended early), tasks offered to `user` are
    offered to `deputy` too, who acts on their behalf (engine.people.delegations)."""

    __tablename__ = "delegation"
    __table_args__ = (
        # The inbox asks "whom does this person stand in for now?": by deputy, then period.
        Index("ix_delegation_deputy", "deputy_id", "ends_at"),
        Index("ix_delegation_user", "user_id", "ends_at"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    deputy_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    starts_at: Mapped[timestamp]
    ends_at: Mapped[timestamp]
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[timestamp]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # Set when someone ends the delegation before `ends_at`.
    ended_at: Mapped[timestamp | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    deputy: Mapped[User] = relationship(foreign_keys=[deputy_id])

    @classmethod
    def in_force(cls, now: Any) -> ColumnElement[bool]:
        """SQL: the delegation is in force at `now` (a value or a bind parameter)."""
        return and_(cls.starts_at <= now, cls.ends_at > now, or_(cls.ended_at.is_(None), cls.ended_at > now))
