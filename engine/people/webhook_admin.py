"""Administering webhook subscriptions (admin role, audited in the system chain) and reading
their delivery log. The events, bodies and secrets are engine.notifications.webhooks'."""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotFound, said
from engine.notifications import webhooks
from engine.people import roles
from engine.records import audit
from engine.timing import clock
from models import User, WebhookDelivery, WebhookSubscription

MIN_SECRET = 16


def _check_admin(actor: User) -> None:
    roles.check_role(actor, "admin", action=said("Webhook administration"))


def _checked(name: str, url: str, events: Iterable[str], preset: str, secret: str) -> tuple[str, str, list[str]]:
    problems: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 120:
        problems["name"] = [said("give the webhook a name of at most %(n)s characters", n=120)]
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        problems["url"] = [said("an http:// or https:// address of at most 2,000 characters, with a host")]
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in webhooks.EVENTS]
    if unknown or not chosen:
        events = ", ".join(webhooks.EVENTS)
        problems["events"] = [said("choose one or more of %(events)s (not %(unknown)s)", events=events,
                                   unknown=", ".join(unknown)) if unknown else
                              said("choose one or more of %(events)s", events=events)]
    if preset not in webhooks.PRESETS:
        problems["preset"] = [said("one of %(choices)s", choices=", ".join(webhooks.PRESETS))]
    if preset == "generic" and len(secret) < MIN_SECRET:
        problems["secret"] = [said("a generic webhook is signed: give a secret of at least %(n)s characters",
                                   n=MIN_SECRET)]
    elif secret and len(secret) < MIN_SECRET:
        problems["secret"] = [said("at least %(n)s characters, or none", n=MIN_SECRET)]
    if len(secret) > 500:
        problems["secret"] = [said("at most %(n)s characters", n=500)]
    if problems:
        raise InvalidData(said("the webhook was not saved"), problems)
    return name, url, chosen


def create_subscription(session: Session, *, name: str, url: str, events: Iterable[str], preset: str = "generic",
                        secret: str = "", actor: User) -> WebhookSubscription:
    """Subscribe a URL to some event types; the secret is stored encrypted."""
    _check_admin(actor)
    name, url, chosen = _checked(name, url, events, preset, secret)
    if session.scalars(select(WebhookSubscription.id).where(WebhookSubscription.name == name)).first():
        raise InvalidData(said("the webhook was not saved"),
                          {"name": [said("a webhook named %(name)s exists already", name=repr(name))]})
    sub = WebhookSubscription(name=name, url=url, events=chosen, preset=preset,
                              secret_encrypted=webhooks.encrypt_secret(session, secret), active=True,
                              created_by=actor.name, created_at=clock.now())
    session.add(sub)
    session.flush()
    webhooks.subscribed.forget(session)
    audit.append_system(session, actor=actor, type="webhook_created",
                        data={"webhook": name, "url": _redacted(url), "events": chosen, "preset": preset,
                              "signed": bool(secret)})
    return sub


def _redacted(url: str) -> str:
    # Chat hooks carry their key in the query string (?key=..., ?access_token=...): keep it out of the audit trail.
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.hostname or "", parts.path, "…" if parts.query else "", ""))


def get_subscription(session: Session, sub_id: int) -> WebhookSubscription:
    """Return a subscription by id or raise NotFound."""
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise NotFound(said("no webhook #%(webhook)s", webhook=sub_id))
    return sub


def set_active(session: Session, sub_id: int, active: bool, *, actor: User) -> WebhookSubscription:
    """Pause or resume a subscription (paused ones get no new deliveries)."""
    _check_admin(actor)
    sub = get_subscription(session, sub_id)
    if sub.active != active:
        sub.active = active
        session.flush()
        webhooks.subscribed.forget(session)
        audit.append_system(session, actor=actor, type="webhook_resumed" if active else "webhook_paused",
                            data={"webhook": sub.name})
    return sub


def delete_subscription(session: Session, sub_id: int, *, actor: User) -> None:
    """Remove a subscription and its delivery log."""
    _check_admin(actor)
    sub = get_subscription(session, sub_id)
    name = sub.name
    session.delete(sub)
    session.flush()
    webhooks.subscribed.forget(session)
    audit.append_system(session, actor=actor, type="webhook_deleted", data={"webhook": name})


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every subscription by name."""
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name)))


def list_deliveries(session: Session, *, actor: User, subscription_id: int | None = None, status: str | None = None,
                    limit: int = 200) -> list[tuple[WebhookDelivery, str]]:
    """The newest deliveries (with their subscription's name) for the admin's delivery log."""
    _check_admin(actor)
    query: Any = (select(WebhookDelivery, WebhookSubscription.name)
                  .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                  .order_by(WebhookDelivery.id.desc()).limit(max(1, min(limit, 1000))))
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return [(d, n) for d, n in session.execute(query)]
