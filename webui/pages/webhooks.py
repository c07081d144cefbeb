"""Administration of outbound webhooks: subscriptions (create, pause, resume, delete) and the
delivery log, for admins."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.people import webhook_admin
from webui.auth import role_required
from webui.db import get_session
from webui.hardening import positive_int
from webui.pages import forms

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.route("/", methods=["GET", "POST"])
@role_required("admin")
def index():
    """List webhook subscriptions and add one."""
    session = get_session()
    form = forms.WebhookForm()
    if form.validate_on_submit():
        sub = webhook_admin.create_subscription(session, name=form.name.data, url=form.url.data,
                                                events=form.events.data, preset=form.preset.data,
                                                secret=form.secret.data or "", actor=current_user)
        session.commit()
        flash(_("Webhook %(name)s saved.", name=sub.name), "success")
        return redirect(url_for("webhooks.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/webhooks.html", subscriptions=webhook_admin.list_subscriptions(session),
                           form=form, labels=dict(forms.WEBHOOK_EVENTS), presets=dict(forms.WEBHOOK_PRESETS)), status


@bp.post("/<int:sub_id>/active")
@role_required("admin")
def set_active(sub_id: int):
    """Pause or resume a subscription."""
    session = get_session()
    sub = webhook_admin.set_active(session, sub_id, request.form.get("active") == "1", actor=current_user)
    session.commit()
    flash(_("Webhook %(name)s resumed.", name=sub.name) if sub.active else
          _("Webhook %(name)s paused.", name=sub.name), "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/<int:sub_id>/delete")
@role_required("admin")
def delete(sub_id: int):
    """Remove a subscription with its delivery log."""
    session = get_session()
    webhook_admin.delete_subscription(session, sub_id, actor=current_user)
    session.commit()
    flash(_("Webhook removed."), "success")
    return redirect(url_for("webhooks.index"))


@bp.get("/deliveries")
@role_required("admin")
def deliveries():
    """The delivery log: newest first, by subscription and status."""
    session = get_session()
    sub_id = positive_int(request.args.get("subscription"), "subscription")
    status = request.args.get("status") if request.args.get("status") in ("pending", "sent", "failed") else None
    rows = webhook_admin.list_deliveries(session, actor=current_user, subscription_id=sub_id, status=status)
    return render_template("admin/webhook_deliveries.html", rows=rows, status=status, sub_id=sub_id,
                           subscriptions=webhook_admin.list_subscriptions(session), labels=dict(forms.WEBHOOK_EVENTS))
