"""Jobs for outside workers: Camunda's external tasks (#16)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, intpk, timestamp


class ExternalTask(Base):
    """An external service task an open case waits on: one row per waiting SpiffWorkflow task,
    written when the case is saved and deleted when the task is left (completed, or cancelled by a
    boundary event or the end of the case).

    `locked_until` is the instant before which no worker may fetch the job: the end of a worker's
    lock (`worker_id`, `worker_user_id` hold it), or, after a reported failure, the end of its retry
    timeout. `retries` is unknown (None) until a worker reports a failure; 0 means the job needs
    attention (`error_message` says why) and no worker gets it until a process owner retries it.
    """

    __tablename__ = "external_task"
    __table_args__ = (Index("ix_external_task_topic_locked", "topic", "locked_until"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)  # the SpiffWorkflow task (UUID)
    element_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[timestamp]
    worker_id: Mapped[str | None] = mapped_column(String(200))
    worker_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retries: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
