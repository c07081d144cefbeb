"""Delivering the outbox after the case work committed: send each due e-mail, retry with backoff,
give up after MAX_ATTEMPTS."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import settings as engine_settings
from engine.errors import InvalidData
from engine.notifications.mail import SmtpSettings, send_mail
from engine.timing import clock
from models import Notification

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


@dataclass
class Delivery:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int) -> dt.timedelta:
    """Return the wait before the next try after `attempts` failed ones."""
    return dt.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def deliver_pending(session: Session, *, limit: int = 50, settings: SmtpSettings | None = None) -> Delivery:
    """Send due outbox e-mails, recording success, retry or failure (caller commits).

    Rows are claimed with FOR UPDATE SKIP LOCKED, so several workers never send one twice
    within a transaction; a worker killed after sending but before its commit may resend.
    """
    result = Delivery()
    problem = None
    if settings is None:
        try:
            settings = SmtpSettings.from_env(dict(engine_settings(session).smtp))
        except InvalidData as err:
            problem = f"{err.message}: {err.details}"
    now = clock.now()
    rows = session.scalars(
        select(Notification)
        .where(Notification.channel == "email", Notification.status == "pending",
               Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.attempts += 1
        try:
            if settings is None:
                raise RuntimeError(problem or "OPSGATE_SMTP_HOST is not set")
            send_mail(settings, row.address or "", row.subject, row.body)
        except (OSError, smtplib.SMTPException, RuntimeError, ValueError) as exc:
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status, row.next_attempt_at = "failed", None
                result.failed += 1
                log.error("e-mail %s to %s failed for good: %s", row.id, row.address, row.last_error)
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                result.retried += 1
                log.warning("e-mail %s to %s failed (try %s): %s", row.id, row.address, row.attempts, row.last_error)
        else:
            row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", now, None, None
            result.sent += 1
    session.flush()
    return result
