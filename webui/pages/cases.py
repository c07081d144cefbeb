"""Cases: the home page, lists, the "new" page per process, the case page, attachments and
the evidence pack. Thin routes over engine.cases.services and engine.cases.views."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.cases import attachments, audit_views, services, views
from engine.cases.evidence import build_evidence_pack
from engine.errors import InvalidData
from engine.people import roles
from engine.processes import catalog
from webui.auth import has_role, role_required
from webui.db import get_session
from webui.hardening import page_arg, positive_int
from webui.i18n import say
from webui.pages import forms
from webui.pages.common import attachment_hint, retry_from_form

bp = Blueprint("cases", __name__)


# Who may give an external task that needs attention new retries.
RETRIERS = ("process_owner", "admin")


@bp.get("/")
@login_required
def home():
    """Show my tasks, my open cases and SLA warnings."""
    summary = views.home_summary(get_session(), actor=current_user)
    return render_template("cases/home.html", tasks=summary.tasks, cases=summary.cases,
                           steps=summary.steps, warnings=summary.warnings)


@bp.get("/cases")
@login_required
def index():
    """List the cases the user may read (auditors and admins: all)."""
    filters = {k: request.args.get(k, "") for k in ("process", "status") if request.args.get(k)}
    page = page_arg()
    before = positive_int(request.args.get("before"), "before")
    listing = views.case_listing(get_session(), actor=current_user, page=page, before=before, **filters)
    # "Next" carries the last case's id, so a deep page is read from the index where this one
    # stopped (as GET /api/v1/cases?before= does); "Previous" counts pages from the start.
    following = {"before": listing.items[-1].id} if listing.next_page else {}
    return render_template("cases/list.html", cases=listing.items, next_page=listing.next_page,
                           next_args=following, page=page, filters=filters, processes=listing.processes,
                           steps=listing.steps, due=listing.due, escalated=listing.escalated,
                           all_cases=listing.all_cases)


@bp.get("/cases/new")
@login_required
def start_index():
    """List the processes a case can be opened for."""
    roles.check_may_start(current_user)
    processes = views.startable(get_session(), actor=current_user)
    return render_template("cases/start_index.html", processes=processes)


@bp.route("/cases/new/<process_key>", methods=["GET", "POST"])
@login_required
def start(process_key: str):
    """Open a new case from the process's start form."""
    session = get_session()
    roles.check_may_start(current_user)
    definition = catalog.get_definition(session, process_key)
    fields = views.start_form(definition, actor=current_user)
    suggestions = views.start_suggestions(session, fields, actor=current_user)
    form = forms.schema_form(fields, title=True, attachments=True, suggestions=suggestions)
    status = 200
    if form.validate_on_submit():
        try:
            files = [(f.filename, f.read(), f.mimetype) for f in form.attachments.data or [] if f and f.filename]
            attachments.check_files(files)
            case = services.start_case(session, process_key, forms.cleaned(form), actor=current_user,
                                       title=form.title.data)
            for filename, content, content_type in files:
                attachments.add_attachment(session, case.key, filename, content, content_type, actor=current_user)
            session.commit()
            flash(_("%(key)s opened.", key=case.key), "success")
            return redirect(url_for("cases.detail", ref=case.key))
        except InvalidData as exc:
            session.rollback()
            for leftover in forms.apply_errors(form, exc.details):
                flash(leftover, "error")
            if not exc.details:
                flash(say(exc.message), "error")
    if form.is_submitted():
        status = 422
    return render_template("cases/start.html", definition=definition, form=form, suggestions=suggestions,
                           attachment_hint=attachment_hint()), status


@bp.get("/cases/<ref>")
@login_required
def detail(ref: str):
    """Show one case: facts, open steps, SLA clocks, diagram, timeline, attachments."""
    page = views.case_page(get_session(), ref, actor=current_user)
    return render_template("cases/detail.html", case=page.case, tasks=page.tasks, history=page.history,
                           marks=page.marks, attachments=page.attachments, can_attach=page.can_attach,
                           can_audit=page.can_audit, attachment_hint=attachment_hint(), values=page.values,
                           decisions=page.decisions, clocks=page.clocks, response=page.response,
                           outcome=page.outcome, votes=page.votes, jobs=page.jobs,
                           can_retry=has_role(*RETRIERS))


@bp.post("/cases/<ref>/external-tasks/<int:job_id>/retry")
@role_required(*RETRIERS)
def retry_job(ref: str, job_id: int):
    """Give an external task that needs attention new retries, so workers fetch it again."""
    retry_from_form(job_id)
    return redirect(url_for("cases.detail", ref=ref))


@bp.post("/cases/<ref>/verify")
@role_required("auditor", "admin")
def verify(ref: str):
    """Recompute this case's audit chain and say on the case page whether it is intact."""
    session = get_session()
    result = audit_views.verify_chain(session, case=ref, actor=current_user)
    session.commit()
    if result.ok:
        flash(_("Chain intact: %(n)s events of %(case)s checked; every hash matches.", n=result.checked,
                case=ref.upper()), "success")
    else:
        flash(_("Chain broken: %(n)s events checked; the first that does not match is %(bad)s.",
                n=result.checked, bad=result.first_bad), "error")
    return redirect(url_for("cases.detail", ref=ref))


@bp.post("/cases/<ref>/attachments")
@login_required
def attach(ref: str):
    """Attach an uploaded file to the case."""
    session = get_session()
    upload = request.files.get("file")
    filename, content = (upload.filename or "", upload.read()) if upload is not None else ("", b"")
    item = attachments.add_attachment(session, ref, filename, content, actor=current_user)
    session.commit()
    flash(_("%(name)s attached (sha256 %(hash)s).", name=item.filename, hash=item.sha256[:16] + "…"), "success")
    return redirect(url_for("cases.detail", ref=ref))


@bp.get("/cases/<ref>/attachments/<int:attachment_id>")
@login_required
def attachment(ref: str, attachment_id: int):
    """Download one attachment."""
    item = attachments.get_attachment(get_session(), ref, attachment_id, actor=current_user)
    return Response(item.content, mimetype=item.content_type, headers={
        "Content-Disposition": _disposition(item.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    })


@bp.get("/cases/<ref>/evidence.zip")
@login_required
def evidence(ref: str):
    """Download the case's evidence pack (events with hashes, BPMN version, attachment hashes)."""
    pack = build_evidence_pack(get_session(), ref, actor=current_user)
    return Response(pack.content, mimetype="application/zip",
                    headers={"Content-Disposition": _disposition(pack.filename)})


def _disposition(filename: str) -> str:
    """Build an attachment Content-Disposition safe for any file name."""
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


