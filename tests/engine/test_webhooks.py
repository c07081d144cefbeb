"""Outbound webhooks delivered to a real HTTP receiver on 127.0.0.1 that checks the signature,
fails once with 500 and gets the retry; presets, secrets at rest, and what stays unsent."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from engine.cases import queries, services
from engine.errors import InvalidData
from engine.jobs import worker
from engine.notifications import webhooks
from engine.people import webhook_admin
from engine.people.groups import group_titles
from models import WebhookDelivery, WebhookSubscription
from tests.engine.timer_helpers import UTC, World, migrated_copy

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
SECRET = "a-receiver-secret-0123456789"


class Receiver:
    """A webhook receiver: checks each request's signature, answers from a script of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers.get("X-Opsgate-Timestamp", "")
                mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(self.headers.get("X-Opsgate-Signature", ""), f"sha256={mac}")
                outer.received.append({"body": json.loads(body), "valid": valid, "path": self.path,
                                       "event": self.headers.get("X-Opsgate-Event"),
                                       "delivery": self.headers.get("X-Opsgate-Delivery")})
                status = outer.statuses.pop(0) if outer.statuses else 200
                status = status if valid else 401
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status < 300 else b"receiver broke")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])
    yield r
    r.close()


@pytest.fixture
def world(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key in ("OPSGATE_CALENDAR", "OPSGATE_SMTP_HOST", "OPSGATE_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPSGATE_SECRET_KEY", "installation-secret-for-tests")
    engine = migrated_copy(template, tmp_path / "opsgate.db")
    w = World(engine)
    w.setup(T0 - H, "timer_kinds.bpmn")
    webhooks.subscribed.forget()
    yield w
    webhooks.subscribed.forget()
    engine.dispose()


def subscribe(world: World, url: str, events: list[str], preset: str = "generic", secret: str = SECRET) -> None:
    with world.tx(T0 - H) as s:
        webhook_admin.create_subscription(s, name=f"hook-{preset}", url=url, events=events, preset=preset,
                                          secret=secret, actor=world.user(s, "admin"))


def deliveries(world: World) -> list[WebhookDelivery]:
    with world.tx() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_signed_webhook_fails_once_with_500_and_the_retry_delivers(world, receiver):
    subscribe(world, receiver.url, ["case.opened", "case.escalated", "case.closed"])
    key = world.start(T0, "timer_kinds")
    first = worker.run_once(world.factory, now=T0 + S)
    assert (first.webhooks.sent, first.webhooks.retried) == (0, 1)
    [row] = deliveries(world)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
    assert row.last_error == "HTTP 500 Internal Server Error: receiver broke"
    assert row.next_attempt_at == T0 + S + dt.timedelta(minutes=1)  # the outbox's backoff

    too_soon = worker.run_once(world.factory, now=T0 + 30 * S)
    assert too_soon.webhooks.sent == too_soon.webhooks.retried == 0
    again = worker.run_once(world.factory, now=T0 + 2 * dt.timedelta(minutes=1))
    assert again.webhooks.sent == 1
    [row] = deliveries(world)
    assert (row.status, row.attempts, row.last_status, row.last_error) == ("sent", 2, 200, None)

    assert [r["valid"] for r in receiver.received] == [True, True]
    first_try, retry = receiver.received
    assert first_try["delivery"] == retry["delivery"] == row.event_id  # one event, tried twice
    body = retry["body"]
    assert body["event"] == "case.opened" and retry["event"] == "case.opened"
    assert body["case"]["key"] == key and body["case"]["process"] == "timer_kinds"
    assert body["case"]["status"] == "open" and body["case"]["requester"] == "rick"

    # The SLA runs out: escalated; then the manager finishes: closed. Two more signed deliveries.
    worker.run_once(world.factory, now=T0 + 4 * H + S)
    world.complete(T0 + 5 * H, key, "escalated", "mona")
    worker.run_once(world.factory, now=T0 + 5 * H + S)
    events = [(r["body"]["event"], r["valid"]) for r in receiver.received[2:]]
    assert events == [("case.escalated", True), ("case.closed", True)]
    escalated = receiver.received[2]["body"]
    assert escalated["sla"]["timer"] == "work_sla" and escalated["sla"]["name"] == "Work SLA"
    assert receiver.received[3]["body"]["case"]["status"] == "closed"


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(world, receiver):
    receiver.statuses = []
    subscribe(world, receiver.url, ["case.opened"], secret="not-the-receivers-secret")
    world.start(T0, "timer_kinds")
    result = worker.run_once(world.factory, now=T0 + S)
    assert result.webhooks.retried == 1
    [row] = deliveries(world)
    assert row.last_status == 401 and row.status == "pending"


def test_nothing_is_written_or_read_for_events_nobody_wants(world, receiver):
    subscribe(world, receiver.url, ["case.closed"])
    key = world.start(T0, "timer_kinds")  # case.opened: nobody wants it
    assert deliveries(world) == []
    statements: list[str] = []
    with world.tx(T0) as s:
        case = queries.find_case(s, key)
        webhooks.subscribed.events(s)  # warm, as in a running process
        event.listen(s.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert webhooks.emit(s, "case.opened", case) == 0
    assert statements == []  # not one query: the event is not subscribed


def test_a_paused_subscription_gets_no_new_rows_and_a_rolled_back_action_sends_nothing(world, receiver):
    subscribe(world, receiver.url, ["case.opened"])
    with world.tx(T0) as s:
        sub = s.scalars(select(WebhookSubscription)).one()
        webhook_admin.set_active(s, sub.id, False, actor=world.user(s, "admin"))
    world.start(T0, "timer_kinds")
    assert deliveries(world) == []
    with world.tx(T0) as s:
        webhook_admin.set_active(s, sub.id, True, actor=world.user(s, "admin"))
    with pytest.raises(RuntimeError), world.tx(T0) as s:
        services.start_case(s, "timer_kinds", {}, actor=world.user(s, "rick"))
        raise RuntimeError("the request failed after the case was opened")
    assert deliveries(world) == []


def test_secrets_are_stored_encrypted_and_unreadable_under_another_key(world, receiver, monkeypatch):
    subscribe(world, receiver.url, ["case.opened"])
    with world.tx() as s:
        stored = s.scalars(select(WebhookSubscription.secret_encrypted)).one()
        assert SECRET not in stored and stored
        assert webhooks.decrypt_secret(s, stored) == SECRET
    monkeypatch.setenv("OPSGATE_SECRET_KEY", "a-different-installation-secret")
    world.start(T0, "timer_kinds")
    worker.run_once(world.factory, now=T0 + S)
    [row] = deliveries(world)
    assert row.status == "pending" and "set the secret again" in row.last_error
    assert receiver.received == []


@pytest.mark.parametrize(("preset", "check"), [
    # WeCom and DingTalk groups read Chinese; names, not keys (the status "open" is 处理中)
    ("wecom", lambda b: b["msgtype"] == "markdown" and b["markdown"]["content"].startswith("**工单已创建：TMK-")  # noqa: RUF001
     and "> 流程：Timer kinds\n> 状态：处理中" in b["markdown"]["content"]),  # noqa: RUF001
    ("dingtalk", lambda b: b["msgtype"] == "markdown" and b["markdown"]["title"].startswith("工单已创建：TMK-")  # noqa: RUF001
     and "状态：处理中" in b["markdown"]["text"]),  # noqa: RUF001
    ("slack", lambda b: b["text"].startswith("*Case opened: TMK-") and "\nProcess: Timer kinds\nStatus: open" in b["text"]),
])
def test_chat_presets_shape_the_body(world, preset, check):
    r = Receiver([])
    try:
        subscribe(world, r.url, ["case.opened"], preset=preset)
        world.start(T0, "timer_kinds")
        assert worker.run_once(world.factory, now=T0 + S).webhooks.sent == 1
        [got] = r.received
        assert check(got["body"]), got["body"]
        if preset == "dingtalk":  # DingTalk's own signature rides on the URL
            assert "timestamp=" in got["path"] and "sign=" in got["path"]
    finally:
        r.close()


def test_a_chat_message_names_the_task_its_groups_and_due_time_in_the_chat_language(world):
    r = Receiver([])
    try:
        subscribe(world, r.url, ["task.ready"], preset="wecom")
        world.start(T0, "timer_kinds")
        assert worker.run_once(world.factory, now=T0 + S).webhooks.sent == 1
        [got] = r.received
        content = got["body"]["markdown"]["content"]
        with world.tx() as s:
            engineer = group_titles(s)["engineer"]
        assert content.startswith("**任务待办：TMK-")  # noqa: RUF001
        assert f"> 任务：Work ({engineer.name_zh or engineer.name})" in content  # noqa: RUF001
        assert "engineer" not in content  # the group's name, not its key
        assert re.search(r"> 到期时间：\d{4}-\d\d-\d\d \d\d:\d\d UTC", content), content  # not an ISO stamp  # noqa: RUF001
    finally:
        r.close()


def test_a_wecom_errcode_counts_as_a_failure(world):
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"errcode": 93000, "errmsg": "invalid webhook url"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subscribe(world, f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=k", ["case.opened"],
                  preset="wecom", secret="")
        world.start(T0, "timer_kinds")
        assert worker.run_once(world.factory, now=T0 + S).webhooks.retried == 1
        [row] = deliveries(world)
        assert "errcode 93000" in row.last_error
    finally:
        server.shutdown()
        server.server_close()


def test_bad_subscriptions_are_refused_naming_the_field(world):
    with world.tx() as s:
        admin = world.user(s, "admin")
        with pytest.raises(InvalidData) as caught:
            webhook_admin.create_subscription(s, name="x", url="ftp://example.org/", events=["case.opened", "nope"],
                                              preset="teams", secret="short", actor=admin)
        assert set(caught.value.details) == {"url", "events", "preset", "secret"}
        assert "nope" in caught.value.details["events"][0]
        with pytest.raises(InvalidData) as unsigned:
            webhook_admin.create_subscription(s, name="x", url="https://example.org/h", events=["case.opened"],
                                              actor=admin)
        assert "signed" in unsigned.value.details["secret"][0]
        assert s.scalars(select(WebhookSubscription)).all() == []
