"""Notifications: in-app notices and the e-mail outbox, written in the case's transaction."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, timestamp


class Notification(Base):
    """One message to one person on one channel ("app" notice or "email" outbox row).

    E-mail rows start `pending` and the worker moves them to `sent`, or to `failed` after its
    last retry; `attempts`, `next_attempt_at` and `last_error` record the retries. App rows
    are `sent` when written (the table is the inbox); `read_at` marks them read.
    """

    __tablename__ = "notification"
    __table_args__ = (
        # Only pending e-mails are in the outbox index (in-app notices never are).
        Index("ix_notification_outbox", "next_attempt_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_notification_inbox", "user_id", "channel", "read_at"),
        # A person's notices, newest first, a page at a time.
        Index("ix_notification_listed", "user_id", "channel", "id"),
    )

    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(String(10))  # app | email
    kind: Mapped[str] = mapped_column(String(40))  # task_assigned | sla_warning | case_escalated
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    address: Mapped[str | None] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[timestamp | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[timestamp]
    sent_at: Mapped[timestamp | None]
    read_at: Mapped[timestamp | None]
