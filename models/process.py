"""Deployed process definition versions: immutable once written."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, json_data, timestamp


class ProcessDefinition(Base):
    __tablename__ = "process_definition"
    # AUTOINCREMENT: a committed id is never reused on SQLite.
    __table_args__ = (UniqueConstraint("key", "version"), {"sqlite_autoincrement": True})

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    # The sources load only when read (parsing a version, a download): lists and lookups skip them.
    bpmn: Mapped[str] = mapped_column(Text, deferred=True)
    # Companion DMN files deployed with this BPMN: [{"filename": ..., "source": ...}].
    extra_files: Mapped[json_data] = mapped_column(deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # What the engine reads besides the spec: forms, candidate groups, SoD, outcomes, prefix.
    manifest: Mapped[json_data]
    # Called processes resolved at deploy time: {process key: version}.
    dependencies: Mapped[json_data]
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    deployed_by: Mapped[str] = mapped_column(String(120))
    deployed_at: Mapped[timestamp]
    # Four-eyes on process changes (engine.cases.proposals): `live` versions run cases; a process
    # owner's deploy is `proposed` until another process owner approves it (or `rejected`).
    status: Mapped[str] = mapped_column(String(20), default="live", server_default="live")
    # Why the author changed the process (optional), and the review: who, when, with what comment.
    change_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[timestamp | None]
    review_comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The process_change case that reviews it; `emergency` when an admin put it live without one.
    review_case: Mapped[str | None] = mapped_column(String(40))
    emergency: Mapped[bool] = mapped_column(default=False, server_default=false())

    def __repr__(self) -> str:
        return f"<ProcessDefinition {self.key} v{self.version}>"
