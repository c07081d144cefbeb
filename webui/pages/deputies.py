"""Deputies: name someone to act for you while you are away, see who stands in for whom, end a
delegation early (engine.people.delegations). Managers and admins may name a deputy for someone else."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidData
from engine.people import delegations
from webui.db import get_session
from webui.i18n import display_zone

bp = Blueprint("deputies", __name__)


def _moment(name: str) -> dt.datetime | None:
    """Read a datetime-local input in the pages' time zone."""
    raw = (request.form.get(name) or "").strip()
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=display_zone()).astimezone(dt.timezone.utc)
    except ValueError:
        return None


@bp.get("/deputies")
@login_required
def index() -> str:
    """The delegations that concern the user (all of them for managers and admins), and the form."""
    rows = delegations.list_delegations(get_session(), actor=current_user)
    return render_template("deputies/index.html", rows=rows, manager=bool(current_user.group_names & delegations.MANAGERS),
                           errors={}, form=request.form)


@bp.post("/deputies")
@login_required
def create() -> Response | tuple[str, int]:
    """Name a deputy for a period."""
    session = get_session()
    starts, ends = _moment("starts_at"), _moment("ends_at")
    try:
        if starts is None or ends is None:
            missing = {k: [_("Give a date and time.")] for k, v in (("starts_at", starts), ("ends_at", ends)) if v is None}
            raise InvalidData("Some fields are not valid", missing)
        delegations.name_deputy(session, actor=current_user, deputy=request.form.get("deputy", ""),
                                user=request.form.get("user") or None, starts_at=starts, ends_at=ends,
                                note=request.form.get("note", ""))
    except InvalidData as err:
        session.rollback()
        rows = delegations.list_delegations(session, actor=current_user)
        return render_template("deputies/index.html", rows=rows, errors=err.details or {}, form=request.form,
                               manager=bool(current_user.group_names & delegations.MANAGERS)), 422
    session.commit()
    flash(_("Deputy named."), "success")
    return redirect(url_for("deputies.index"))


@bp.post("/deputies/<int:delegation_id>/end")
@login_required
def end(delegation_id: int) -> Response:
    """End a delegation now."""
    session = get_session()
    delegations.end_delegation(session, delegation_id, actor=current_user)
    session.commit()
    flash(_("The delegation has ended."), "success")
    return redirect(url_for("deputies.index"))
