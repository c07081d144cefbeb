"""Template helpers shared by the pages: navigation per role, labels, dates, badges."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import Flask, current_app, flash, jsonify, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from engine.cases import attachments
from engine.errors import NotAllowed
from engine.jobs import external_tasks
from engine.notifications import notices
from engine.people import roles
from engine.processes import specs
from engine.timing import clock
from models import ProcessDefinition
from webui.auth import is_bearer_request
from webui.db import get_session
from webui.errors import Refusal
from webui.i18n import localized

DUE_SOON = dt.timedelta(hours=4)

STATUS_LABELS = {"open": _l("open"), "closed": _l("closed"), "cancelled": _l("cancelled")}
EVENT_LABELS = {
    "case_started": _l("Case opened"),
    "task_claimed": _l("Task claimed"),
    "task_released": _l("Task released"),
    "task_completed": _l("Task completed"),
    "gate_approved": _l("Approved"),
    "gate_rejected": _l("Rejected"),
    "gate_reworked": _l("Sent back for rework"),
    "timer_fired": _l("Timer fired"),
    "case_escalated": _l("Escalated"),
    "case_closed": _l("Case closed"),
    "case_cancelled": _l("Case cancelled"),
    "attachment_added": _l("File attached"),
    "process_deployed": _l("Process deployed"),
    "user_logged_in": _l("Logged in"),
    "user_login_failed": _l("Failed login"),
    "audit_verified": _l("Chain verified"),
    "sla_warning": _l("SLA warning"),
    "sla_paused": _l("SLA clocks paused"),
    "sla_resumed": _l("SLA clocks resumed"),
    "occurrence_added": _l("Reported again"),
    "follow_up_opened": _l("Follow-up case opened"),
    "user_created": _l("User created"),
    "user_changed": _l("User changed"),
    "user_logged_out": _l("Logged out"),
    "token_created": _l("API token created"),
    "token_revoked": _l("API token revoked"),
    "group_created": _l("Group created"),
    "group_renamed": _l("Group renamed"),
    "provider_added": _l("Provider added"),
    "evaluation_input_recorded": _l("Evaluation input recorded"),
    "evaluation_config_recorded": _l("Evaluation configuration recorded"),
    "evaluation_published": _l("Evaluation published"),
    "vote_cast": _l("Vote cast"),
    "vote_closed": _l("Vote closed at its deadline"),
    "task_reassigned": _l("Task reassigned"),
    "delegation_created": _l("Deputy named"),
    "delegation_ended": _l("Deputy ended"),
    "gate_reminder": _l("Reminder sent"),
    "case_migrated": _l("Moved to another process version"),
    "cases_migrated": _l("Open cases moved to another version"),
    "external_task_completed": _l("Automated step completed"),
    "external_task_failed": _l("Automated step failed"),
    "external_task_error": _l("Automated step reported an error"),
    "external_task_retried": _l("Automated step retried"),
    "message_received": _l("Message received"),
    "signal_received": _l("Signal received"),
    "process_proposed": _l("New process version proposed"),
    "process_approved": _l("Process version approved"),
    "process_rejected": _l("Process version rejected"),
    "process_put_live": _l("Process version put live"),
    "model_uploaded": _l("Model uploaded"),
    "setting_changed": _l("Setting changed"),
    "user_deactivated": _l("User deactivated"),
    "user_login_locked": _l("Sign-in locked after failed attempts"),
    "webhook_created": _l("Webhook added"),
    "webhook_deleted": _l("Webhook deleted"),
    "webhook_paused": _l("Webhook paused"),
    "webhook_resumed": _l("Webhook resumed"),
}
DECISION_LABELS = {"approve": _l("Approve"), "reject": _l("Reject"), "rework": _l("Send back for rework")}


ERROR_TITLES = {400: _l("Bad request"), 403: _l("Not allowed"), 404: _l("Not found"),
                409: _l("Someone else got there first"), 413: _l("Too large"),
                422: _l("Please check what you entered")}


def error_title(status: int) -> str:
    """Title an error page."""
    return str(ERROR_TITLES.get(status, _l("Something went wrong")))


def actor_text(name: str | None) -> str:
    """Name who did something on record: a login as it is, the engine itself as "the system"."""
    return _("the system") if name == "system" else (name or "")


def process_name(definition: ProcessDefinition) -> str:
    """Return a process's name as its owner wrote it (name_zh in Chinese when given)."""
    info = specs.manifest_of(definition).process
    return localized(definition.name or definition.key, info.name_zh)


def status_label(status: str) -> str:
    """Translate a case status."""
    return str(STATUS_LABELS.get(status, status))


def event_label(event_type: str) -> str:
    """Translate an audit event type; unknown types read as a sentence of their words."""
    return str(EVENT_LABELS.get(event_type, event_type.replace("_", " ").capitalize()))


def event_class(event_type: str) -> str:
    """Colour a timeline entry: refusals and escalations red, approvals and closing green."""
    if event_type in ("gate_rejected", "case_escalated", "user_login_failed", "case_cancelled"):
        return "bad"
    if event_type in ("gate_approved", "case_closed"):
        return "ok"
    return ""


def decision_label(value: str, label: str) -> str:
    """Name a gate button: our wording for the standard decisions, the BPMN's otherwise."""
    return str(DECISION_LABELS.get(value, label))


def due_state(due_at: dt.datetime | None) -> str:
    """Classify a due time as overdue, due soon or fine."""
    if due_at is None:
        return "neutral"
    now = clock.now()
    if due_at <= now:
        return "overdue"
    return "due" if due_at - now <= DUE_SOON else "info"


def filesize(size: int) -> str:
    """Format a byte count for people."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def attachment_hint() -> str:
    """Describe the attachment limits under each file input."""
    return _("Up to %(size)s per file; allowed types: %(types)s.",
             size=filesize(attachments.MAX_BYTES), types=", ".join(sorted(attachments.ALLOWED_EXTENSIONS)))


def viewer_strings() -> dict[str, str]:
    """Texts the diagram viewer's script shows, in the user's language."""
    return {"cannotDisplay": _("Cannot display this diagram:"),
            "noDiagram": _("the file has no diagram to draw"),
            "noScript": _("The diagram viewer could not be loaded."),
            "zoomIn": _("Zoom in"), "zoomOut": _("Zoom out"), "fit": _("Fit to the frame")}


def modeler_strings() -> dict[str, str]:
    """Texts the modeler's script shows, in the user's language."""
    return {"saving": _("Validating and deploying…"), "failed": _("Saving failed:"),
            "cannotOpen": _("Cannot open this diagram:"), "line": _("line"),
            "fromVersion": _("from version %(v)s", v="{v}")}


def may_start() -> bool:
    """Tell whether the user may open cases (auditors read and change nothing)."""
    try:
        roles.check_may_start(current_user)
    except NotAllowed:
        return False
    return True


def nav_items() -> list[dict[str, Any]]:
    """Build the main navigation for the logged-in user's roles."""
    groups = current_user.group_names
    items = [("cases.home", _("Home")), ("tasks.inbox", _("Inbox")), ("notices.index", _("Notices")),
             ("cases.index", _("Cases"))]
    if may_start():
        items.append(("cases.start_index", _("New request")))
    items.append(("processes.index", _("Processes")))
    if roles.staff_groups(current_user):
        items.append(("deputies.index", _("Deputies")))
    if groups & {"auditor", "admin"}:
        items.append(("audit.search", _("Audit")))
    if groups & {"supervisor", "admin", "auditor"} and "reports.index" in _endpoints():
        items.append(("reports.index", _("Reports")))
    if "admin" in groups:
        items.append(("admin.users", _("Admin")))
    current = request.endpoint or ""
    area = current.split(".")[0]
    result = []
    unread = notices.count_unread(get_session(), actor=current_user)
    for endpoint, label in items:
        here = endpoint == current or (endpoint.split(".")[0] == area and area in ("audit", "admin", "processes", "reports"))
        item: dict[str, Any] = {"url": url_for(endpoint), "label": label, "current": here}
        if endpoint == "notices.index" and unread >= notices.UNREAD_CAP:
            item.update(count=f"{notices.UNREAD_CAP - 1}+",
                        count_label=_("more than %(n)s unread", n=notices.UNREAD_CAP - 1))
        elif endpoint == "notices.index" and unread:
            item.update(count=unread, count_label=_("%(n)s unread", n=unread))
        result.append(item)
    return result


def _endpoints() -> set[str]:
    return set(current_app.view_functions)


def datetime_text(value: dt.datetime | str | None, zone: dt.tzinfo | None = None) -> str:
    """Write an instant as "2026-12-01 08:30" in the display zone (the pages' `datetime` filter;
    a page writing many passes the zone it looked up once)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # an ISO 8601 instant from a stored record (a migration's `at`)
        value = dt.datetime.fromisoformat(value)
    # Flask-Babel's format_datetime(value, "yyyy-MM-dd HH:mm") gives the same text in English
    # and Chinese (the pattern has no names, and both use Latin digits), but costs a locale and
    # time-zone lookup and a pattern walk per call: a page of 50 tasks formats 100 of them.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    local = value.astimezone(zone or get_timezone())
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


# A stored date-time (forms keep them as ISO 8601 in UTC): 2026-12-01T01:00:00+00:00
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def display_value(value: Any) -> str:
    """Show a case-data value as people read it: yes/no, date-times in the display zone, plain
    lists, JSON only for nested data."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return datetime_text(moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc))
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def init_app(app: Flask) -> None:
    """Register the helpers with Jinja."""
    app.jinja_env.globals.update(
        nav_items=nav_items, process_name=process_name, status_label=status_label,
        event_label=event_label, event_class=event_class, decision_label=decision_label,
        due_state=due_state, viewer_strings=viewer_strings, error_title=error_title, may_start=may_start,
        bearer_request=is_bearer_request,
    )
    app.jinja_env.filters.update(datetime=datetime_text, filesize=filesize, value=display_value, actor=actor_text)
    app.register_error_handler(CSRFError, _csrf_error)


def _csrf_error(err: CSRFError) -> Any:
    """Refuse a form without a valid CSRF token, in words (JSON under /api/)."""
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": "csrf_failed", "message": err.description, "details": None}}), 400
    message = _("The form was refused because its security token is missing or expired (%(why)s). "
                "Reload the page and try again.", why=err.description)
    return render_template("errors/engine.html", status=400, error=Refusal(message)), 400


def retry_from_form(job_id: int) -> None:
    """Give an external task that needs attention the retries a process owner typed (a whole
    number; anything else goes to the engine as typed, which refuses it naming the field),
    commit, and say so on the next page."""
    text = (request.form.get("retries") or "1").strip()
    session = get_session()
    job = external_tasks.retry(session, job_id, int(text) if text.isdigit() and len(text) < 7 else text,
                               actor=current_user)
    session.commit()
    flash(_("Workers may fetch “%(topic)s” again: %(n)s retries.", topic=job.topic, n=job.retries), "success")
