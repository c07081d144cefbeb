"""Audit: search events by period, actor, event type, process or case; verify the chain.
For auditors and admins; nothing here changes anything except recording the check itself."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from engine.cases import audit_views
from webui.auth import role_required
from webui.db import get_session
from webui.hardening import page_arg
from webui.i18n import localized
from webui.pages import forms
from webui.pages.common import event_label, process_name

bp = Blueprint("audit", __name__, url_prefix="/audit")

AUDITORS = ("auditor", "admin")


def _search_page(verify=None, verify_case: str | None = None, status: int = 200):
    session = get_session()
    form = forms.AuditSearchForm(request.args)
    known = audit_views.audit_choices(session)
    form.type.choices = forms.choices([("", "—")] + sorted(((t, event_label(t)) for t in known.types),
                                                           key=lambda pair: pair[1]))
    form.process_key.choices = forms.choices([("", "—")] + sorted(((d.key, process_name(d)) for d in known.processes),
                                                                  key=lambda pair: pair[1]))
    page = page_arg()
    if not form.validate():
        # A search that cannot be read (a date like 2026-13-45) finds nothing: listing every event
        # under it would read as its result. The form says what to correct, by its field.
        return render_template("audit/search.html", form=form, events=[], next_page=None, page=page, args={},
                               verify=verify, verify_case=verify_case, unreadable=True), 422
    criteria = {k: v for k, v in form.data.items() if v not in (None, "")}
    if "actor" in criteria:
        criteria["actor_name"] = criteria.pop("actor")
    if "process_key" in criteria:
        criteria["process"] = criteria.pop("process_key")
    result = audit_views.search_audit(session, actor=current_user, page=page, **criteria)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("audit/search.html", form=form, events=result.items, next_page=result.next_page,
                           page=page, args=args, verify=verify, verify_case=verify_case,
                           task_names={k: localized(*v) for k, v in result.task_names.items()}), status


@bp.get("")
@role_required(*AUDITORS)
def search():
    """Search the audit trail."""
    return _search_page()


@bp.post("/verify")
@role_required(*AUDITORS)
def verify():
    """Recompute the hash chain (one case's, or all) and show the result."""
    session = get_session()
    case = request.form.get("case") or None
    result = audit_views.verify_chain(session, case=case, actor=current_user)
    session.commit()
    return _search_page(verify=result, verify_case=case)
