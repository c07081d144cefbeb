"""Webhook deliveries on PostgreSQL: two workers racing for the same pending rows send each
event once (FOR UPDATE SKIP LOCKED), and /metrics' figures read right there too."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from engine import db
from engine.cases import services
from engine.config import EngineConfig
from engine.jobs import health, worker
from engine.notifications import webhooks
from engine.people import users, webhook_admin
from engine.processes import deployment
from engine.timing import clock
from models import WebhookDelivery
from tests.conftest import DATA, PG_URL
from tests.engine.test_webhooks import SECRET, Receiver

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)


def test_two_workers_send_each_event_once(pg_clean):
    config = EngineConfig(database_url=PG_URL or "", secret_key="pg-installation-secret")
    maker = db.make_sessionmaker(pg_clean, config)
    receiver = Receiver([])
    webhooks.subscribed.forget()
    try:
        with maker.begin() as s, clock.frozen(T0):
            deployment.deploy(s, [("four_steps.bpmn", (DATA / "four_steps.bpmn").read_bytes())], actor=None)
            admin = users.create_user(s, "admin", ["admin"], actor=None)
            requester = users.create_user(s, "req", [], actor=None)
            webhook_admin.create_subscription(s, name="siem", url=receiver.url, events=["case.opened"], secret=SECRET,
                                              actor=admin)
            for n in range(30):
                services.start_case(s, "four_steps", {"title": f"case {n}", "urgent": True}, actor=requester)
        results: list[worker.PassResult] = []
        threads = [threading.Thread(target=lambda: results.append(worker.run_once(maker, now=T0 + dt.timedelta(seconds=5))))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sum(r.webhooks.sent for r in results) == 30
        ids = [r["delivery"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 30 and all(r["valid"] for r in receiver.received)
        with maker() as s:
            assert s.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "sent")) == 30
            with clock.frozen(T0 + dt.timedelta(seconds=6)):
                figures = health.figures(s)
            assert figures.opened == {"four_steps": 30} and figures.outbox["webhook"] == 0
            assert sum(figures.open_tasks.values()) >= 30  # one ready task per case, by its groups
            assert health.readiness(s, worker_within=dt.timedelta(minutes=5)).ready
    finally:
        receiver.close()
        webhooks.subscribed.forget()
