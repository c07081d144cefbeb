"""Outbound webhooks: which events go where, the rows written in the case's transaction, the
bodies (generic JSON or a chat preset), the signature, and the encrypted signing secrets.

Like e-mail, a webhook never runs inside case work: `emit()` writes one `pending`
webhook_delivery row per subscription in the case's transaction (so a rolled-back action sends
nothing), and the worker delivers after commit (engine.jobs.webhooks), retrying with the
outbox's backoff.

An installation with no subscriptions pays nothing on the hot path: each process keeps the set
of subscribed event types per database for `REFRESH_SECONDS` and skips `emit` without a query
when the event is not in it. Changing a subscription refreshes that process at once; other
processes (more web workers, `opsgate worker`) see a new subscription within
`REFRESH_SECONDS`, and events in between are not sent to it. Which subscriptions get a row is
always decided by the database, never by the cache.

Events: `case.opened`, `case.escalated`, `case.closed`, `task.ready`, `sla.warning`.

Generic body (UTF-8 JSON; the same shape for every event, `task` and `sla` only where they apply)::

    {"id": "<uuid, the same on every retry>", "event": "case.closed", "occurred_at": "<ISO 8601 UTC>",
     "case": {"key", "title", "process", "status", "outcome", "priority", "requester", "url"},
     "task": {"id", "name", "candidate_groups", "due_at"}, "sla": {"timer", "name", "due_at"}}

Signature: with a secret set, each request carries `X-Opsgate-Timestamp` (Unix seconds) and
`X-Opsgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body bytes>" under the secret>`;
a receiver recomputes it and refuses old timestamps (replays). `X-Opsgate-Event` and
`X-Opsgate-Delivery` (the event id) are always sent.

Presets reshape the body for chat tools' incoming webhooks: `wecom` (企业微信 群机器人,
markdown), `dingtalk` (钉钉 自定义机器人, markdown; with a secret the URL is signed the way
DingTalk's "加签" wants, timestamp and sign parameters) and `slack` (Slack, Mattermost,
Rocket.Chat and Teams' Slack-compatible hooks: `{"text": ...}`).

Secrets are stored encrypted (Fernet, AES-128-CBC with HMAC-SHA256) under a key derived with
HKDF from the installation's secret key (OPSGATE_SECRET_KEY): opsgate must read a secret back to
sign each body, which a hash would not allow. Changing the secret key makes stored webhook
secrets unreadable; their deliveries then fail with a message that says to set the secret again.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, Table, select
from sqlalchemy.orm import Session

from engine import prepared
from engine.config import settings
from engine.errors import InvalidData, said
from engine.timing import clock
from models import Case, WebhookDelivery, WebhookSubscription

EVENTS = ("case.opened", "case.escalated", "case.closed", "task.ready", "sla.warning")
PRESETS = ("generic", "wecom", "dingtalk", "slack")
REFRESH_SECONDS = 10.0


class _Subscribed:
    """The event types with at least one active subscription, per database, refreshed now and then."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_db: weakref.WeakKeyDictionary[Engine, tuple[float, frozenset[str]]] = weakref.WeakKeyDictionary()

    def events(self, session: Session) -> frozenset[str]:
        engine = session.get_bind().engine
        now = time.monotonic()
        with self._lock:
            found = self._by_db.get(engine)
        if found is not None and now - found[0] < REFRESH_SECONDS:
            return found[1]
        rows = session.scalars(select(WebhookSubscription.events).where(WebhookSubscription.active)).all()
        events = frozenset(e for row in rows for e in (row or ()))
        with self._lock:
            self._by_db[engine] = (now, events)
        return events

    def forget(self, session: Session | None = None) -> None:
        with self._lock:
            if session is None:
                self._by_db.clear()
            else:
                self._by_db.pop(session.get_bind().engine, None)


subscribed = _Subscribed()


_INSERT = prepared.insert(cast(Table, WebhookDelivery.__table__), (
    "subscription_id", "event", "event_id", "case_key", "payload", "status", "attempts", "next_attempt_at",
    "last_status", "last_error", "created_at", "sent_at"), order=prepared.DELIVERIES)


def emit(session: Session, event: str, case: Case, *, task: dict[str, Any] | None = None,
         sla: dict[str, Any] | None = None) -> int:
    """Queue `event` about `case` for every active subscription that wants it; return the rows written.

    Costs a set lookup when nothing subscribes to the event (the usual installation)."""
    if event not in subscribed.events(session):
        return 0
    targets = [sid for sid, events in session.execute(
        select(WebhookSubscription.id, WebhookSubscription.events).where(WebhookSubscription.active)
        .order_by(WebhookSubscription.id)) if event in (events or ())]
    if not targets:
        return 0
    now = clock.now()
    event_id = str(uuid.uuid4())
    payload = _payload(session, event, event_id, now, case, task, sla)
    _INSERT.run(session, [{"subscription_id": sid, "event": event, "event_id": event_id, "case_key": case.key,
                           "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now,
                           "last_status": None, "last_error": None, "created_at": now, "sent_at": None}
                          for sid in targets])
    return len(targets)


def _iso(value: Any) -> Any:
    return value.astimezone(dt.timezone.utc).isoformat() if isinstance(value, dt.datetime) else value


def _payload(session: Session, event: str, event_id: str, now: dt.datetime, case: Case,
             task: dict[str, Any] | None, sla: dict[str, Any] | None) -> dict[str, Any]:
    base = settings(session).base_url
    requester = (case.data or {}).get("requester") if isinstance(case.data, dict) else None
    body: dict[str, Any] = {
        "id": event_id, "event": event, "occurred_at": _iso(now),
        "case": {"key": case.key, "title": case.title, "process": case.process_key, "status": case.status,
                 "outcome": case.outcome, "priority": case.priority, "requester": requester,
                 "url": f"{base}/cases/{case.key}" if base else None},
    }
    if task is not None:
        body["task"] = {k: _iso(v) for k, v in task.items()}
    if sla is not None:
        body["sla"] = {k: _iso(v) for k, v in sla.items()}
    return body


# --- bodies and signatures (used by the delivering worker) -------------------------------------

Pair = tuple[str, str | None]


@dataclass(frozen=True)
class ChatNames:
    """What a chat message names, as people read it (name, Chinese name), looked up by the
    delivering worker: the process, the outcome, the task and its groups, the SLA clock."""

    process: Pair | None = None
    outcome: Pair | None = None
    task: Pair | None = None
    groups: tuple[Pair, ...] = ()
    sla: Pair | None = None


# The language of a chat preset's text: WeCom and DingTalk groups read Chinese, Slack-style
# hooks English (the generic preset sends the JSON payload, which holds keys, not text).
CHAT_LANGUAGE = {"wecom": "zh", "dingtalk": "zh", "slack": "en"}

_TEXT = {
    "en": {"case.opened": "Case opened", "case.escalated": "Case escalated", "case.closed": "Case closed",
           "task.ready": "Task ready", "sla.warning": "SLA warning", "process": "Process", "status": "Status",
           "outcome": "Outcome", "priority": "Priority", "task": "Task", "due": "Due", "sla": "SLA clock",
           "open": "open", "closed": "closed", "cancelled": "cancelled", "sep": ": ", "list": ", "},
    "zh": {"case.opened": "工单已创建", "case.escalated": "工单已升级", "case.closed": "工单已关闭",
           "task.ready": "任务待办", "sla.warning": "SLA 预警", "process": "流程", "status": "状态",
           "outcome": "结果", "priority": "优先级", "task": "任务", "due": "到期时间", "sla": "SLA 时限",
           "open": "处理中", "closed": "已关闭", "cancelled": "已取消", "sep": "\uff1a", "list": "\u3001"},
}


def _pick(pair: Pair | None, language: str, fallback: Any) -> str:
    if pair is None:
        return str(fallback or "")
    return (pair[1] or pair[0]) if language == "zh" else pair[0]


def _moment(value: Any) -> str:
    """"2027-01-15 20:00 UTC" from the payload's ISO 8601 instant."""
    try:
        return dt.datetime.fromisoformat(str(value)).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(value)


def _summary(payload: dict[str, Any], names: ChatNames, language: str) -> tuple[str, list[str]]:
    text = _TEXT[language]
    sep = text["sep"]
    case = payload.get("case") or {}
    event = str(payload.get("event") or "")
    title = f"{text.get(event, event)}{sep}{case.get('key')} {case.get('title')}"
    lines = [f"{text['process']}{sep}{_pick(names.process, language, case.get('process'))}",
             f"{text['status']}{sep}{text.get(str(case.get('status')), case.get('status'))}"]
    if case.get("outcome"):
        lines.append(f"{text['outcome']}{sep}{_pick(names.outcome, language, case['outcome'])}")
    if case.get("priority"):
        lines.append(f"{text['priority']}{sep}{case['priority']}")
    task = payload.get("task")
    if task:
        groups = text["list"].join(_pick(g, language, "") for g in names.groups) or \
            text["list"].join(task.get("candidate_groups") or [])
        lines.append(f"{text['task']}{sep}{_pick(names.task, language, task.get('name'))}" +
                     (f" ({groups})" if groups else ""))
        if task.get("due_at"):
            lines.append(f"{text['due']}{sep}{_moment(task['due_at'])}")
    sla = payload.get("sla")
    if sla:
        lines.append(f"{text['sla']}{sep}{_pick(names.sla, language, sla.get('name'))}" +
                     (f" ({text['due']}{sep}{_moment(sla['due_at'])})" if sla.get("due_at") else ""))
    if case.get("url"):
        lines.append(str(case["url"]))
    return title, lines


def render(preset: str, payload: dict[str, Any], names: ChatNames | None = None) -> bytes:
    """The request body for a subscription's preset: the payload itself (generic), or a chat
    message in the preset's language (CHAT_LANGUAGE) naming things as people read them."""
    if preset not in CHAT_LANGUAGE:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    title, lines = _summary(payload, names or ChatNames(), CHAT_LANGUAGE[preset])
    if preset == "wecom":
        body: dict[str, Any] = {"msgtype": "markdown",
                                "markdown": {"content": f"**{title}**\n" + "\n".join(f"> {line}" for line in lines)}}
    elif preset == "dingtalk":
        body = {"msgtype": "markdown",
                "markdown": {"title": title[:60], "text": f"### {title}\n\n" + "\n\n".join(lines)}}
    else:
        body = {"text": f"*{title}*\n" + "\n".join(lines)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def dingtalk_url(url: str, secret: str, now_ms: int) -> str:
    """DingTalk's signed URL ("加签"): timestamp and the base64 HMAC-SHA256 of `timestamp\\nsecret`."""
    mac = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(mac).decode())
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={now_ms}&sign={sign}"


@dataclass(frozen=True)
class Request:
    """One HTTP request to make for a delivery."""

    url: str
    body: bytes
    headers: dict[str, str]


def build_request(subscription: WebhookSubscription, delivery: WebhookDelivery, secret: str, *,
                  now: dt.datetime, names: ChatNames | None = None) -> Request:
    """The URL, body and headers of one delivery attempt (signed when the subscription has a secret)."""
    body = render(subscription.preset, delivery.payload or {}, names)
    stamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "opsgate-webhook/1",
               "X-Opsgate-Event": delivery.event, "X-Opsgate-Delivery": delivery.event_id,
               "X-Opsgate-Timestamp": stamp}
    url = subscription.url
    if secret:
        headers["X-Opsgate-Signature"] = signature(secret, stamp, body)
        if subscription.preset == "dingtalk":
            url = dingtalk_url(url, secret, int(now.timestamp() * 1000))
    return Request(url, body, headers)


# --- secrets ------------------------------------------------------------------------------------

def _fernet(session: Session) -> Fernet:
    secret = settings(session).secret_key
    if not secret:
        raise InvalidData(said("webhook secrets need the installation's secret key"),
                          {"secret": [said("set OPSGATE_SECRET_KEY (or let opsgate keep one in its instance folder)")]})
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"opsgate webhook secrets").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(session: Session, secret: str) -> str:
    """Encrypt a signing secret for storage ("" stays "")."""
    return _fernet(session).encrypt(secret.encode()).decode() if secret else ""


def decrypt_secret(session: Session, stored: str) -> str:
    """The signing secret in clear; a ValueError that says what to do when it cannot be read."""
    if not stored:
        return ""
    try:
        return _fernet(session).decrypt(stored.encode()).decode()
    except (InvalidToken, InvalidData):
        raise ValueError("the webhook's secret cannot be decrypted with this installation's secret key "
                         "(was OPSGATE_SECRET_KEY changed?); set the secret again on the webhooks page") from None
