"""Delivering webhooks after the case work committed: POST each due delivery, record the answer,
retry with the outbox's backoff (1, 2, 4 ... minutes, at most an hour apart), give up after
`delivery.MAX_ATTEMPTS` tries.

A 2xx answer is success; for the WeCom and DingTalk presets the answer's `errcode` must also be
0 (those services answer 200 with an error code). Redirects are not followed: a webhook URL
must name the receiver itself. HTTP(S) proxies are taken from the environment (`https_proxy`,
`no_proxy`), as organisations that reach chat services through a proxy need.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import logcontext
from engine.cases import readable
from engine.config import settings
from engine.jobs.delivery import MAX_ATTEMPTS, Delivery, backoff
from engine.notifications import webhooks
from engine.people.groups import GroupTitle, group_titles
from engine.processes import specs
from engine.timing import clock
from models import Case, HumanTask, WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None  # the 3xx answer surfaces as an HTTPError: a failed try that names the status


_OPENER = urllib.request.build_opener(_NoRedirect())


class Refused(Exception):
    """The receiver answered, but not with success."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


def post(request: webhooks.Request, *, timeout: float, preset: str) -> int:
    """Send one request; return the HTTP status, or raise Refused / OSError."""
    req = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")
    try:
        with _OPENER.open(req, timeout=timeout) as answer:
            status = answer.status
            text = answer.read(64 * 1024)
    except urllib.error.HTTPError as err:
        detail = err.read(500).decode("utf-8", "replace").strip()
        err.close()
        raise Refused(err.code, f"HTTP {err.code} {err.reason}" + (f": {detail}" if detail else "")) from None
    if preset in ("wecom", "dingtalk"):
        try:
            code = json.loads(text or b"{}").get("errcode", 0)
        except (ValueError, AttributeError):
            code = 0
        if code:
            raise Refused(status, f"the service answered errcode {code}: {text[:300].decode('utf-8', 'replace')}")
    return status


def chat_names(session: Session, payload: dict[str, Any], titles: dict[str, GroupTitle]) -> webhooks.ChatNames:
    """Look up the names a chat message shows for a delivery's payload (the payload holds keys:
    process, outcome, task id, group keys, timer element); what is gone keeps its key.
    `titles` are the groups' names, read once per worker pass."""
    case = session.scalars(select(Case).where(Case.key == str((payload.get("case") or {}).get("key")))).first()
    if case is None:
        return webhooks.ChatNames()
    manifest = specs.manifest_of(case.definition)
    outcome = (payload.get("case") or {}).get("outcome")
    task: webhooks.Pair | None = None
    groups: tuple[webhooks.Pair, ...] = ()
    if payload.get("task"):
        row = session.get(HumanTask, str(payload["task"].get("id")))
        if row is not None:
            task = manifest.element_names(row.element_id)
        groups = tuple((titles[g].name, titles[g].name_zh) if g in titles else (str(g), None)
                       for g in payload["task"].get("candidate_groups") or ())
    sla = manifest.element_names(str(payload["sla"].get("timer"))) if payload.get("sla") else None
    return webhooks.ChatNames(process=(manifest.process.name, manifest.process.name_zh),
                              outcome=readable.outcome_names(manifest, str(outcome)) if outcome else None,
                              task=task, groups=groups, sla=sla)


def deliver_webhooks(session: Session, *, limit: int = 50) -> Delivery:
    """POST due webhook deliveries, recording success, retry or failure (the caller commits).

    Rows are claimed with FOR UPDATE SKIP LOCKED, so two workers never send one delivery in
    the same pass; a worker killed after sending but before its commit sends it again (the
    event id in `X-Opsgate-Delivery` lets a receiver drop the duplicate)."""
    result = Delivery()
    now = clock.now()
    rows = session.execute(
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    timeout = settings(session).webhook_timeout
    titles: dict[str, GroupTitle] | None = None  # read at the first chat delivery of the pass
    for row, sub in rows:
        row.attempts += 1
        started = time.perf_counter()
        with logcontext.scope(case=row.case_key):
            try:
                if not sub.active:
                    raise Refused(None, "the webhook is paused")
                secret = webhooks.decrypt_secret(session, sub.secret_encrypted)
                names = None
                if sub.preset in webhooks.CHAT_LANGUAGE:
                    titles = titles if titles is not None else group_titles(session)
                    names = chat_names(session, row.payload or {}, titles)
                request = webhooks.build_request(sub, row, secret, now=clock.now(), names=names)
                row.last_status = post(request, timeout=timeout, preset=sub.preset)
            except (Refused, OSError, ValueError) as exc:
                row.last_status = getattr(exc, "status", None)
                row.last_error = (str(exc) if isinstance(exc, Refused) else f"{type(exc).__name__}: {exc}")[:2000]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status, row.next_attempt_at = "failed", None
                    result.failed += 1
                    log.error("webhook %s (%s) of %s failed for good: %s", sub.name, row.event, row.case_key,
                              row.last_error)
                else:
                    row.next_attempt_at = now + backoff(row.attempts)
                    result.retried += 1
                    log.warning("webhook %s (%s) of %s failed (try %s): %s", sub.name, row.event, row.case_key,
                                row.attempts, row.last_error)
            else:
                row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", clock.now(), None, None
                result.sent += 1
                log.info("webhook %s (%s) of %s delivered in %.0f ms", sub.name, row.event, row.case_key,
                         (time.perf_counter() - started) * 1000)
    session.flush()
    return result
