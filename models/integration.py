"""What opsgate tells other systems: webhook subscriptions and their deliveries; and which
workers are alive (their heartbeat, for /readyz and /metrics)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, timestamp


class WebhookSubscription(Base):
    """One URL that wants some event types (case opened/escalated/closed, task ready, SLA warning).

    The signing secret is kept encrypted (`secret_encrypted`, Fernet under a key derived from the
    installation's secret key): opsgate must read it back to sign each body, so a hash would not do.
    """

    __tablename__ = "webhook_subscription"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(JSON)
    preset: Mapped[str] = mapped_column(String(20), default="generic")  # generic | wecom | dingtalk | slack
    secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[timestamp]


class WebhookDelivery(Base):
    """One event for one subscription: written `pending` in the case's transaction, sent by the
    worker after commit (`sent`), retried with backoff, `failed` after the last try."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "next_attempt_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
    )

    id: Mapped[intpk]
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(36))
    case_key: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[timestamp | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[timestamp]
    sent_at: Mapped[timestamp | None]


class WorkerHeartbeat(Base):
    """The last time each worker (host:pid, or the web process's own thread) finished a pass."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[timestamp]
    started_at: Mapped[timestamp]
