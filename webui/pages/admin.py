"""Administration: users and their groups, groups, API tokens, providers and their systems."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from engine.people import admin as admin_service
from engine.people import groups as group_names
from engine.people import providers as provider_service
from engine.people import tokens as token_service
from engine.people import users as user_service
from engine.people.roles import GROUP_TITLES
from engine.timing import clock
from webui.auth import role_required
from webui.db import get_session
from webui.pages import display, forms

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _group_choices(session: Session) -> list[SelectChoice]:
    """The groups a user can be put in, by the names people read, in that order (the key is the value)."""
    return forms.choices(sorted(((g.name, display.group_name(g.name)) for g in admin_service.list_groups(session)),
                                key=lambda pair: pair[1]))


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """List users and create one."""
    session = get_session()
    form = forms.NewUserForm()
    form.groups.choices = _group_choices(session)
    if form.validate_on_submit():
        user = user_service.create_user(session, form.name.data, form.groups.data, form.password.data,
                                        actor=current_user, display_name=form.display_name.data or "",
                                        email=form.email.data or "")
        session.commit()
        flash(_("User %(name)s created.", name=user.name), "success")
        return redirect(url_for("admin.users"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/users.html", users=admin_service.list_users(session), form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user(user_id: int):
    """Change a user's name, e-mail, password, groups or active flag."""
    session = get_session()
    person = admin_service.get_user(session, user_id)
    form = forms.EditUserForm(obj=person, data=None if request.method == "POST" else {"groups": sorted(person.group_names)})
    form.groups.choices = _group_choices(session)
    if form.validate_on_submit():
        admin_service.update_user(session, person, display_name=form.display_name.data or "",
                                  email=form.email.data or "", password=form.password.data or None,
                                  groups=form.groups.data, active=form.active.data, actor=current_user)
        session.commit()
        flash(_("User %(name)s saved.", name=person.name), "success")
        return redirect(url_for("admin.users"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user.html", user=person, form=form), status


@bp.route("/groups", methods=["GET", "POST"])
@role_required("admin")
def groups():
    """List groups with their members and create one."""
    session = get_session()
    form = forms.GroupForm()
    if form.validate_on_submit():
        admin_service.create_group(session, form.name.data, form.description.data or "", actor=current_user)
        session.commit()
        flash(_("Group %(name)s created.", name=form.name.data), "success")
        return redirect(url_for("admin.groups"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/groups.html", groups=admin_service.groups_with_members(session), form=form,
                           shipped=GROUP_TITLES), status


@bp.post("/groups/<key>/name")
@role_required("admin")
def name_group(key: str):
    """Set the names people read for a group, in English and Chinese (empty: the shipped name)."""
    session = get_session()
    group_names.rename_group(session, key, request.form.get("title", ""), request.form.get("title_zh", ""),
                             actor=current_user)
    session.commit()
    flash(_("The names of %(name)s are saved.", name=display.group_name(key)), "success")
    return redirect(url_for("admin.groups"))


@bp.route("/tokens", methods=["GET", "POST"])
@role_required("admin")
def tokens():
    """List API tokens and create one (shown once)."""
    session = get_session()
    form = forms.TokenForm()
    form.user.choices = forms.choices((u.name, u.name) for u in admin_service.list_users(session))
    new_token = None
    if form.validate_on_submit():
        new_token = token_service.create_token(session, form.user.data, actor=current_user, name=form.name.data or "",
                                               expires_in_days=form.expires_in_days.data,
                                               scope="read" if form.read_only.data else "all")
        session.commit()
    status = 422 if form.is_submitted() and new_token is None else 200
    return render_template("admin/tokens.html", tokens=admin_service.list_tokens(session), form=form,
                           new_token=new_token, now=clock.now()), status


@bp.post("/tokens/<int:token_id>/revoke")
@role_required("admin")
def revoke_token(token_id: int):
    """Revoke an API token."""
    session = get_session()
    admin_service.revoke_token(session, token_id, actor=current_user)
    session.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("admin.tokens"))


@bp.route("/providers", methods=["GET", "POST"])
@role_required("admin")
def providers():
    """List providers and their systems; add a provider or systems to one."""
    session = get_session()
    form = forms.ProviderForm()
    if form.validate_on_submit():
        systems = [s.strip() for s in (form.systems.data or "").split(",") if s.strip()]
        provider_service.add_provider(session, form.name.data, systems, actor=current_user)
        session.commit()
        flash(_("Provider %(name)s saved.", name=form.name.data), "success")
        return redirect(url_for("admin.providers"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/providers.html", providers=admin_service.list_providers(session), form=form), status
