"""The admin's webhook pages: subscribe, see the form's and the engine's refusals, pause, read
the delivery log; nobody else gets in."""
from __future__ import annotations

from sqlalchemy import select

from engine.cases import services
from engine.notifications import webhooks
from models import WebhookDelivery, WebhookSubscription


def test_admin_subscribes_pauses_and_reads_the_delivery_log(login, people, session, deploy):
    webhooks.subscribed.forget()
    admin = login(people["admin"])
    assert "No webhooks." in admin.get("/admin/webhooks/").get_data(as_text=True)
    saved = admin.post("/admin/webhooks/", data={"name": "ops-chat", "url": "https://chat.example.org/hook?key=k",
                                                 "events": ["case.opened", "case.closed"], "preset": "slack"})
    assert saved.status_code == 302
    page = admin.get("/admin/webhooks/").get_data(as_text=True)
    assert "ops-chat" in page and "Case opened, Case closed" in page and "Slack-compatible" in page

    deploy("camunda_approval.bpmn")
    case = services.start_case(session, "purchase_approval", {"item": "Laptop", "amount": 1200},
                               actor=people["requester"])
    session.commit()
    log = admin.get("/admin/webhooks/deliveries").get_data(as_text=True)
    assert case.key in log and "Case opened" in log and "pending" in log

    sub = session.scalars(select(WebhookSubscription)).one()
    assert admin.post(f"/admin/webhooks/{sub.id}/active", data={"active": "0"}).status_code == 302
    assert "paused" in admin.get("/admin/webhooks/").get_data(as_text=True)
    session.expire_all()
    assert session.get(WebhookSubscription, sub.id).active is False
    assert admin.post(f"/admin/webhooks/{sub.id}/delete").status_code == 302
    session.expire_all()
    assert session.scalars(select(WebhookDelivery)).all() == []  # the log goes with it
    webhooks.subscribed.forget()


def test_a_generic_webhook_without_a_secret_is_refused_with_the_reason(login, people, session):
    admin = login(people["admin"])
    refused = admin.post("/admin/webhooks/", data={"name": "siem", "url": "https://siem.example.org/in",
                                                   "events": ["case.escalated"], "preset": "generic"})
    assert refused.status_code == 422
    assert "signed" in refused.get_data(as_text=True)
    assert session.scalars(select(WebhookSubscription)).all() == []


def test_only_admins_see_webhooks(login, people):
    for role in ("engineer", "auditor", "supervisor"):
        client = login(people[role])
        assert client.get("/admin/webhooks/").status_code == 403
        assert client.get("/admin/webhooks/deliveries").status_code == 403


def test_the_webhook_form_offers_its_events_in_the_readers_language(login, people):
    """The form's options are declared once, at import: their labels must still be read in the
    language of whoever opens the page (they were English for everyone)."""
    admin = login(people["admin"])
    admin.post("/language", data={"locale": "zh_Hans", "next": "/"})
    page = admin.get("/admin/webhooks/").get_data(as_text=True)
    assert '<option value="case.opened">工单已创建</option>' in page
    assert '<option value="task.ready">任务待办</option>' in page and "通用 JSON（带签名）" in page  # noqa: RUF001
    admin.post("/language", data={"locale": "en", "next": "/"})
    page = admin.get("/admin/webhooks/").get_data(as_text=True)
    assert '<option value="case.opened">Case opened</option>' in page
