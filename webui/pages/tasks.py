"""Tasks: the inbox (mine / my groups), the task page with its form or gate buttons,
claim, release and complete. Refusals come from the engine and are shown in words."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.cases import services, views
from engine.errors import InvalidData
from webui.db import get_session
from webui.hardening import page_arg
from webui.i18n import say
from webui.pages import display, forms

bp = Blueprint("tasks", __name__)


@bp.get("/tasks")
@login_required
def inbox():
    """List the ready tasks the user may act on, soonest due first."""
    scope = "mine" if request.args.get("scope") == "mine" else "group"
    page = page_arg()
    session = get_session()
    inbox = views.inbox(session, actor=current_user, scope=scope, page=page)
    return render_template("tasks/inbox.html", tasks=inbox.tasks, scope=scope, page=inbox.page,
                           next_page=inbox.next_page, behalf=views.deputising(session, inbox.tasks, actor=current_user))


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def detail(task_id: str):
    """Show a task with the case's essentials and its form; complete it on POST."""
    session = get_session()
    page = views.task_page(session, task_id, actor=current_user)
    form = forms.schema_form(page.fields)
    if form.validate_on_submit():
        try:
            case = services.complete_task(session, task_id, forms.cleaned(form), actor=current_user)
        except InvalidData as exc:
            session.rollback()
            leftover = forms.apply_errors(form, exc.details)
            for message in leftover or ([] if exc.details else [say(exc.message)]):
                flash(message, "error")
        else:
            session.commit()
            flash(_("%(task)s done for %(case)s.", task=page.task.name, case=case.key), "success")
            return redirect(url_for("cases.detail", ref=case.key))
    status = 422 if form.is_submitted() else 200
    return render_template("tasks/detail.html", task=page.task, form=form, gate=page.gate,
                           essentials=page.essentials, refusal=page.refusal, behalf=page.behalf,
                           may_reassign=page.may_reassign), status


@bp.post("/tasks/<task_id>/reassign")
@login_required
def reassign(task_id: str):
    """Give a task to someone else, with a reason (managers and admins)."""
    session = get_session()
    task = services.reassign_task(session, task_id, to=request.form.get("to", ""),
                                  reason=request.form.get("reason", ""), actor=current_user)
    session.commit()
    holder = task.assignee
    flash(_("%(task)s is now %(name)s's.", task=display.task_name(task),
            name=(holder.display_name or holder.name) if holder is not None else request.form.get("to", "")), "success")
    return redirect(url_for("tasks.detail", task_id=task_id))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    """Claim a task so others see who is working on it."""
    session = get_session()
    task = services.claim_task(session, task_id, actor=current_user)
    session.commit()
    flash(_("You claimed %(task)s.", task=task.name), "success")
    return redirect(_back(url_for("tasks.detail", task_id=task_id)))


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str):
    """Give a claimed task back to its group."""
    session = get_session()
    task = services.release_task(session, task_id, actor=current_user)
    session.commit()
    flash(_("You released %(task)s.", task=task.name), "success")
    return redirect(_back(url_for("tasks.inbox")))


def _back(default: str) -> str:
    """Return to the page the form was on when it is one of ours."""
    referrer = request.referrer or ""
    return referrer if referrer.startswith(request.host_url) else default


__all__ = ["bp"]
