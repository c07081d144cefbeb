"""Single sign-on pages: OpenID Connect with Authlib (authorisation code flow with PKCE S256,
state and nonce checked, the ID token's signature, issuer, audience and expiry verified), and
logout at the provider (RP-initiated logout with the ID token as hint).

The providers come from OPSGATE_OIDC_CONFIG (engine.people.oidc); the login page shows a
button for each. What a verified sign-in does to opsgate's users is the engine's
(`oidc.sign_in`). Register this redirect URI at each provider:
`<OPSGATE_BASE_URL or the address people use>/login/oidc/<name>/callback`, and as
post-logout redirect URI `.../login`.
"""
from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from requests import RequestException
from werkzeug.wrappers import Response

from engine.errors import NotAllowed
from engine.people import oidc
from webui.db import get_session
from webui.hardening import safe_next
from webui.i18n import say

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__)
_SESSION_KEY = "opsgate_oidc"


def _providers() -> dict[str, oidc.Provider]:
    return oidc.providers_from(current_app.extensions["opsgate_config"].oidc_config)


def _client(name: str) -> tuple[oidc.Provider, Any]:
    """The provider and its Authlib client. A provider whose settings changed (the file was
    edited) gets a client registered under a new name, so Authlib never serves stale settings."""
    provider = _providers().get(name)
    if provider is None:
        abort(404)
    oauth: OAuth = current_app.extensions["opsgate_oauth"]
    known: dict[str, tuple[oidc.Provider, str]] = current_app.extensions["opsgate_oauth_clients"]
    if name not in known or known[name][0] != provider:
        registered = f"{name}-{len(known) + 1}"
        oauth.register(name=registered, client_id=provider.client_id, client_secret=provider.client_secret,
                       server_metadata_url=provider.metadata_url,
                       client_kwargs={"scope": " ".join(provider.scopes), "code_challenge_method": "S256",
                                      "timeout": 10})
        known[name] = (provider, registered)
    return provider, oauth.create_client(known[name][1])


def _safe_next(target: str | None) -> str:
    """Follow ?next= only to a path on this site (webui.hardening.safe_next)."""
    return safe_next(target, url_for("cases.home"))


@bp.get("/login/oidc/<name>")
def login(name: str) -> Response:
    """Send the browser to the provider's sign-in page (code flow, PKCE S256, state and nonce)."""
    _provider, client = _client(name)
    if current_user.is_authenticated:
        return redirect(url_for("cases.home"))
    session["opsgate_oidc_next"] = _safe_next(request.args.get("next"))
    try:
        return client.authorize_redirect(url_for("sso.callback", name=name, _external=True))
    except (OAuthError, RequestException, ValueError) as err:
        log.error("OpenID provider %s: cannot start the sign-in: %s", name, err)
        flash(_("The sign-in service %(name)s cannot be reached; try again later or use your opsgate password.",
                name=name), "error")
        return redirect(url_for("auth.login"))


@bp.get("/login/oidc/<name>/callback")
def callback(name: str) -> Response:
    """Back from the provider: check everything, then sign the person in (or say why not)."""
    provider, client = _client(name)
    try:
        token = client.authorize_access_token()
    except (OAuthError, RequestException, ValueError) as err:
        log.warning("OpenID sign-in at %s failed: %s", name, err)
        flash(_("Sign-in at %(name)s did not complete (%(reason)s).", name=provider.title, reason=str(err)[:200]),
              "error")
        return redirect(url_for("auth.login"))
    claims = dict(token.get("userinfo") or {})
    if provider.groups_claim not in claims and "userinfo_endpoint" in client.load_server_metadata():
        claims = {**dict(client.userinfo(token=token)), **claims}
    db = get_session()
    try:
        user = oidc.sign_in(db, provider, claims, source=request.remote_addr or "")
    except NotAllowed as refusal:
        db.commit()  # keep the audited refusal
        flash(say(refusal.message), "error")
        return redirect(url_for("auth.login"))
    db.commit()
    target = session.pop("opsgate_oidc_next", None) or url_for("cases.home")
    session.clear()  # session renewal, as for a password sign-in
    login_user(user)
    session.permanent = True
    session[_SESSION_KEY] = {"provider": name, "id_token": token.get("id_token", "")}
    return redirect(_safe_next(target))


def end_session_url() -> str | None:
    """Where to send the browser after logging out here, to log out at the provider too (None when
    the person did not sign in through one, or the provider has no end-session endpoint)."""
    signed = session.get(_SESSION_KEY)
    if not isinstance(signed, dict) or signed.get("provider") not in _providers():
        return None
    provider, client = _client(signed["provider"])
    try:
        result = client.create_logout_url(post_logout_redirect_uri=url_for("auth.login", _external=True),
                                          id_token_hint=signed.get("id_token") or None,
                                          client_id=provider.client_id)
    except (RuntimeError, RequestException, ValueError) as err:
        log.warning("OpenID provider %s: no logout at the provider: %s", provider.name, err)
        return None
    return str(result["url"])


def login_buttons() -> dict[str, Any]:
    """The login page's sign-on buttons."""
    if request.endpoint != "auth.login":
        return {}
    try:
        found = _providers()
    except Exception:  # a broken file must not take the password login down with it
        log.exception("the OpenID configuration cannot be used")
        found = {}
    return {"sso_providers": list(found.values())}


def init_app(app: Flask) -> None:
    """Set up Authlib for the app and register the routes."""
    app.extensions["opsgate_oauth"] = OAuth(app)
    app.extensions["opsgate_oauth_clients"] = {}
    app.context_processor(login_buttons)
    app.register_blueprint(bp)
