"""Notices: the user's in-app notices (a task is waiting, an SLA is running out, a case was
escalated), newest first, marked read one by one or all at once."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.notifications import notices
from webui.db import get_session
from webui.hardening import page_arg

bp = Blueprint("notices", __name__)


@bp.get("/notices")
@login_required
def index() -> str:
    """List the user's notices, unread ones marked."""
    session = get_session()
    unread_only = request.args.get("unread") == "1"
    page = page_arg()
    rows = notices.list_notices(session, actor=current_user, unread=unread_only, limit=notices.PAGE_SIZE + 1,
                                offset=(page - 1) * notices.PAGE_SIZE)
    shown = rows[:notices.PAGE_SIZE]
    return render_template("notices/index.html", notices=shown, case_keys=notices.case_keys(session, shown),
                           unread_only=unread_only, page=page,
                           next_page=page + 1 if len(rows) > notices.PAGE_SIZE else None,
                           args={"unread": 1} if unread_only else {})


@bp.post("/notices/read")
@login_required
def read_all() -> Response:
    """Mark all of the user's notices read."""
    session = get_session()
    notices.mark_read(session, actor=current_user)
    session.commit()
    return redirect(url_for("notices.index"))


@bp.post("/notices/<int:notice_id>/read")
@login_required
def read_one(notice_id: int) -> Response:
    """Mark one notice read and go to its case (or back to the notices)."""
    session = get_session()
    notices.mark_read(session, notice_id, actor=current_user)
    session.commit()
    case = request.form.get("case", "")
    return redirect(url_for("cases.detail", ref=case) if case else url_for("notices.index"))
