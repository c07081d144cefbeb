"""Processes: versions, diagrams, the modeler, upload/download and version comparison.

Reading is for every logged-in user (a requester may look at the process they are in);
deploying is for process owners and admins (the engine's deploy checks the role too).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.cases import migration, proposals
from engine.errors import InvalidData, InvalidDefinition
from engine.jobs import external_tasks, migrations
from engine.processes import catalog, descriptive, lint, versions
from engine.processes.compare import compare_bpmn
from webui.auth import has_role, role_required
from webui.db import get_session
from webui.downloads import definition_file
from webui.hardening import positive_int
from webui.i18n import DEFAULT_LANGUAGE, current_language, say
from webui.pages import forms
from webui.pages.common import modeler_strings, process_name, retry_from_form

bp = Blueprint("processes", __name__, url_prefix="/processes")

DEPLOYERS = ("process_owner", "admin")


@bp.get("")
@login_required
def index():
    """List every process with its latest version."""
    return render_template("processes/list.html", processes=catalog.list_definitions(get_session()),
                           can_deploy=has_role(*DEPLOYERS))


@bp.get("/models")
@login_required
def models():
    """List the descriptive models (documentation, not executable)."""
    return render_template("processes/models.html", models=descriptive.list_models(get_session()),
                           can_deploy=has_role(*DEPLOYERS))


@bp.post("/models")
@role_required(*DEPLOYERS)
def upload_model():
    """Keep an uploaded BPMN file as a descriptive model and show it."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidData(_("Choose a .bpmn file."), {"file": [_("This field is required.")]})
    session = get_session()
    try:
        model, created = descriptive.save_model(session, upload.filename, upload.read(), actor=current_user)
    except InvalidDefinition as exc:
        session.rollback()
        return render_template("processes/models.html", models=descriptive.list_models(session), can_deploy=True,
                               errors=exc.details, errors_message=say(exc.message)), 422
    session.commit()
    flash(_("Kept as a descriptive model.") if created else _("This file is already kept."), "success")
    return redirect(url_for("processes.model", model_id=model.id))


@bp.get("/models/<int:model_id>")
@login_required
def model(model_id: int):
    """Show a descriptive model's diagram, marked not executable, with why the engine would not run it."""
    session = get_session()
    found = descriptive.get_model(session, model_id)
    # The English reader reads the stored reasons as they are; another checks the file again to say them.
    reasons = found.reasons if current_language() == DEFAULT_LANGUAGE else descriptive.said_reasons(session, found)
    return render_template("processes/model.html", model=found, reasons=reasons)


@bp.get("/models/<int:model_id>/bpmn")
@login_required
def model_bpmn(model_id: int):
    """Serve a descriptive model's BPMN XML, as a download."""
    found = descriptive.get_model(get_session(), model_id)
    return definition_file(found.bpmn, found.filename)


@bp.get("/<key>")
@login_required
def detail(key: str):
    """List a process's versions with how many open cases run on each."""
    session = get_session()
    history = versions.process_versions(session, key)
    return render_template("processes/detail.html", latest=history.versions[0], versions=history.versions,
                           open_counts=history.open_counts, can_deploy=has_role(*DEPLOYERS),
                           migrations=proposals.migrations_of(session, key),
                           attention=external_tasks.attention_of_process(session, key, actor=current_user))


@bp.post("/<key>/external-tasks/<int:job_id>/retry")
@role_required(*DEPLOYERS)
def retry_job(key: str, job_id: int):
    """Give an external task of this process that needs attention new retries."""
    retry_from_form(job_id)
    return redirect(url_for("processes.detail", key=key))


@bp.get("/<key>/<int:version>")
@login_required
def view(key: str, version: int):
    """Show one version's diagram."""
    definition = catalog.get_definition(get_session(), key, version)
    return render_template("processes/view.html", definition=definition)


@bp.get("/<key>/<int:version>/bpmn")
@login_required
def bpmn(key: str, version: int):
    """Serve one version's BPMN XML, always as a download (webui.downloads says why)."""
    definition = catalog.get_definition(get_session(), key, version)
    return definition_file(definition.bpmn, f"{definition.key}-v{definition.version}.bpmn")


@bp.get("/<key>/<int:version>/files/<name>")
@login_required
def decision(key: str, version: int, name: str):
    """Serve one of a version's DMN files, as a download."""
    _definition, source = versions.decision_file(get_session(), key, version, name)
    return definition_file(source, name)


@bp.get("/<key>/decisions/<name>/edit")
@role_required(*DEPLOYERS)
def edit_decision(key: str, name: str):
    """Open the latest version's decision table in the DMN editor."""
    definition, _source = versions.decision_file(get_session(), key, None, name)
    return render_template("processes/edit_decision.html", definition=definition, name=name,
                           title=process_name(definition), modeler_strings=modeler_strings(),
                           dmn_url=url_for("processes.decision", key=key, version=definition.version, name=name),
                           deploy_url=url_for("processes.deploy_decision", key=key, name=name))


@bp.post("/<key>/decisions/<name>/deploy")
@role_required(*DEPLOYERS)
def deploy_decision(key: str, name: str):
    """Validate and deploy an edited decision table with its process; answer JSON like deploy."""
    session = get_session()
    try:
        result = versions.deploy_decision(session, key, name, request.get_data(), actor=current_user,
                                          deployer=proposals.deploy)
    except (InvalidDefinition, InvalidData) as exc:
        session.rollback()
        return jsonify({"error": {"code": exc.code, "message": say(exc.message), "details": _said(exc.details)}}), 422
    session.commit()
    return jsonify(_deployed_json(result))


@bp.get("/<key>/compare")
@login_required
def compare(key: str):
    """Compare two versions element by element."""
    session = get_session()
    a = catalog.get_definition(session, key, positive_int(request.args.get("a"), "a"))
    b = catalog.get_definition(session, key, positive_int(request.args.get("b"), "b"))
    diff = compare_bpmn(a.bpmn.encode(), b.bpmn.encode())
    return render_template("processes/compare.html", key=key, a=a, b=b, diff=diff)


@bp.get("/<key>/edit")
@role_required(*DEPLOYERS)
def edit(key: str):
    """Open the latest version in the modeler."""
    definition = catalog.get_definition(get_session(), key)
    return render_template("processes/edit.html", definition=definition, title=definition.name or key,
                           filename=definition.key, modeler_strings=modeler_strings(), lint_rules=lint.RULES,
                           bpmn_url=url_for("processes.bpmn", key=key, version=definition.version))


@bp.get("/new")
@role_required(*DEPLOYERS)
def new():
    """Open the modeler on a blank executable process."""
    return render_template("processes/edit.html", definition=None, title=_("a new process"),
                           filename="new_process", modeler_strings=modeler_strings(), lint_rules=lint.RULES,
                           bpmn_url=url_for("static", filename="bpmn/new_process.bpmn"))


@bp.post("/deploy")
@role_required(*DEPLOYERS)
def deploy():
    """Validate and deploy the modeler's XML; answer JSON with the version or the errors."""
    session = get_session()
    xml = request.get_data()
    try:
        result = versions.deploy_one(session, xml, actor=current_user, filename=request.args.get("filename"),
                                     deployer=proposals.deploy)
    except (InvalidDefinition, InvalidData) as exc:
        session.rollback()
        return jsonify({"error": {"code": exc.code, "message": say(exc.message), "details": _said(exc.details)}}), 422
    session.commit()
    return jsonify(_deployed_json(result))


def _said(findings: object) -> list[object]:
    """A deploy's findings ({file, element_id, line, message, rule}) with each message said in the
    reader's language, for the modeler and the decision editor to list (the API keeps the English)."""
    if not isinstance(findings, list):
        return []
    return [{**item, "message": say(item["message"])} if isinstance(item, dict) and "message" in item else item
            for item in findings]


def _deployed_json(result: versions.Deployed) -> dict[str, object]:
    if result.unchanged:
        message = _("Nothing changed: version %(v)s is identical.", v=result.version)
    elif result.status == "proposed":
        message = _("Proposed %(key)s version %(v)s: it goes live when another process owner approves it.",
                    key=result.key, v=result.version)
    else:
        message = _("Deployed %(key)s version %(v)s. Running cases stay on the version they started on.",
                    key=result.key, v=result.version)
    return {"key": result.key, "version": result.version, "unchanged": result.unchanged, "message": message,
            "warnings": _said(result.warnings), "url": url_for("processes.view", key=result.key, version=result.version)}


@bp.post("/upload")
@role_required(*DEPLOYERS)
def upload():
    """Validate and deploy uploaded BPMN (and DMN) files."""
    session = get_session()
    files = [(f.filename, f.read()) for f in request.files.getlist("files") if f and f.filename]
    if not files:
        raise InvalidData(_("Choose at least one .bpmn file."), {"files": [_("This field is required.")]})
    try:
        results = proposals.deploy(session, files, actor=current_user)
    except InvalidDefinition as exc:
        session.rollback()
        return render_template("processes/list.html", processes=catalog.list_definitions(session),
                               can_deploy=True, errors=exc.details, errors_message=say(exc.message)), 422
    session.commit()
    for result in results:
        if result.created and result.definition.status == "proposed":
            flash(_("Proposed %(key)s version %(v)s: it goes live when another process owner approves it.",
                    key=result.key, v=result.version), "success")
        elif result.created:
            flash(_("Deployed %(key)s version %(v)s. Running cases stay on the version they started on.",
                    key=result.key, v=result.version), "success")
        else:
            flash(_("Nothing changed: version %(v)s is identical.", v=result.version), "success")
    return redirect(url_for("processes.index"))


@bp.route("/<key>/migrate", methods=["GET", "POST"])
@role_required(*DEPLOYERS)
def migrate(key: str):
    """Check (dry run, GET with `to_version`) or move (POST) open cases to another version."""
    history = versions.process_versions(get_session(), key)
    moving = request.method == "POST"
    form = forms.MigrateForm() if moving else forms.MigrateForm(request.args, meta={"csrf": False})
    form.to_version.choices = forms.choices((str(v.version), f"v{v.version}") for v in history.versions)
    form.from_version.choices = forms.choices([("", _("every version"))] + [
        (str(v.version), f"v{v.version}") for v in history.versions])
    report = None
    if (moving or "to_version" in request.args) and form.validate():
        try:
            report = migrations.run_migration(
                current_app.extensions["opsgate_sessionmaker"], key, to_version=int(form.to_version.data),
                from_version=int(form.from_version.data) if form.from_version.data else None,
                case_keys=(form.cases.data or "").upper().split(), dry_run=not moving, actor_id=current_user.id,
                mapping=migration.parse_mapping((form.mapping.data or "").splitlines()))
        except InvalidData as exc:
            for leftover in forms.apply_errors(form, {"mapping" if "mapping" in (exc.details or {}) else "cases":
                                                      [exc.message]}):
                flash(leftover, "error")
    status = 422 if form.errors else 200
    return render_template("processes/migrate.html", latest=history.versions[0], form=form, report=report,
                           open_counts=history.open_counts, versions=history.versions), status


@bp.route("/<key>/<int:version>/review", methods=["GET", "POST"])
@login_required
def review(key: str, version: int):
    """Show a proposed version's difference to the live one; its reviewer approves or rejects it."""
    session = get_session()
    form = forms.ReviewForm()
    if form.validate_on_submit():
        proposals.decide(session, key, version, form.decision.data, form.comment.data, actor=current_user)
        session.commit()
        flash(_("Approved: version %(v)s is live.", v=version) if form.decision.data == "approve"
              else _("Rejected: version %(v)s will not go live.", v=version), "success")
        return redirect(url_for("processes.review", key=key, version=version))
    view = proposals.review_view(session, key, version, actor=current_user)
    status = 422 if form.is_submitted() else 200
    return render_template("processes/review.html", view=view, form=form, live_form=forms.PutLiveForm(),
                           is_admin=has_role("admin")), status


@bp.post("/<key>/<int:version>/put-live")
@role_required("admin")
def put_live(key: str, version: int):
    """Put a proposed version live without a review (an emergency), with the reason."""
    session = get_session()
    form = forms.PutLiveForm()
    if not form.validate_on_submit():
        raise InvalidData(_("Say why the version goes live without a review."), {"reason": [_("This field is required.")]})
    proposals.put_live(session, key, version, form.reason.data, actor=current_user)
    session.commit()
    flash(_("Version %(v)s is live without a review; the process owners are told.", v=version), "success")
    return redirect(url_for("processes.review", key=key, version=version))
