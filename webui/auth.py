"""Who is calling: Flask-Login sessions for people, bearer tokens for the API."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_user,
    logout_user,
    user_logged_in,
)
from sqlalchemy.orm import joinedload

from engine.errors import NotAllowed, TooManyAttempts
from engine.people import directory, logins
from models import User
from webui import sso
from webui.bearer import bearer_token_row
from webui.db import get_session
from webui.hardening import safe_next
from webui.i18n import group_title
from webui.pages.forms import LoginForm

F = TypeVar("F", bound=Callable[..., Any])

# A plain request rate on POST /login per client address (LOGIN_RATE_LIMIT), in front of the
# database's per-account and per-address lockout. Its counters live in RATELIMIT_STORAGE_URI:
# memory:// (each process counts alone) or redis://host:6379 (shared by all processes).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# The endpoints that have a rate limit of their own (a @limiter.limit below).
RATE_LIMITED_ENDPOINTS = frozenset({"auth.login"})
# Flask-Limiter's settings for limits on every route; an instance config.py may set them.
APP_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


@limiter.request_filter
def _has_no_rate_limit() -> bool:
    """Exempt a request that no limit applies to from the limiter's lookup (Flask-Limiter resolves
    the limits of every request's endpoint, about a tenth of a millisecond of CPU, on every API call
    too). Only the endpoints above have limits, unless the configuration sets limits for all."""
    if request.endpoint in RATE_LIMITED_ENDPOINTS:
        return False
    config = current_app.config
    return not any(config.get(name) for name in APP_WIDE_LIMITS)

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
login_manager.login_message = _l("Please log in to see this page.")

bp = Blueprint("auth", __name__)


EPOCH_KEY = "_opsgate_epoch"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in person of a browser session, with their groups, in one read; None unless
    still active and the session began in the user's current epoch (logout, a password change
    or deactivation moved it on: the session is over)."""
    if not (user_id.isascii() and user_id.isdigit()) or len(user_id) > 10:
        return None
    user = get_session().get(User, int(user_id), options=[joinedload(User.groups)])
    if user is None or not user.active or session.get(EPOCH_KEY) != user.session_epoch:
        return None
    return user


@user_logged_in.connect
def _remember_epoch(sender: Flask, user: User, **extra: Any) -> None:
    # Every sign-in (password, directory, single sign-on) ties the session to the user's epoch.
    session[EPOCH_KEY] = user.session_epoch


@login_manager.request_loader
def load_user_from_request(req) -> User | None:  # Flask request
    """A bearer token is for the JSON API only (webui.api.caller decides there; this gives its
    log lines the user): on pages it signs nobody in."""
    header = req.headers.get("Authorization", "")
    if header.startswith("Bearer ") and req.path.startswith("/api/"):
        row = bearer_token_row(header[7:].strip())
        return row.user if row is not None else None
    return None


def is_bearer_request() -> bool:
    """Say whether this request authenticates with a bearer token (no cookies, so no CSRF)."""
    return request.headers.get("Authorization", "").startswith("Bearer ")


# ---- Login pages, language choice and role checks (the web UI's part of auth) ----

def has_role(*groups: str) -> bool:
    """Tell whether the logged-in user is in any of the groups."""
    return current_user.is_authenticated and bool(current_user.group_names & set(groups))


def role_required(*groups: str) -> Callable[[F], F]:
    """Let only members of one of the groups in; others get a 403 page naming the role."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not has_role(*groups):
                raise NotAllowed(_("This page is for %(groups)s, and you are not a member (role rule).",
                                   groups=", ".join(group_title(g) for g in groups)))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _safe_next(target: str | None) -> str:
    """Follow ?next= only to a path on this site (webui.hardening.safe_next)."""
    return safe_next(target, url_for("cases.home"))


def _login_rate() -> str:
    return str(current_app.config.get("LOGIN_RATE_LIMIT") or "120 per minute")


def _login_rate_message() -> str:
    return _("Too many sign-in attempts from your address: wait a minute and try again.")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"], error_message=_login_rate_message)
def login():
    """Log in with name and password; the session is renewed, failures are counted (and
    locked out: engine.people.throttle)."""
    if current_user.is_authenticated:
        return redirect(url_for("cases.home"))
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = directory.log_in(db, form.name.data, form.password.data, source=request.remote_addr or "")
        except TooManyAttempts as locked:
            db.rollback()
            return render_template("auth/login.html", form=form, locked_until=locked.until), 429
        db.commit()  # a failed attempt is counted (and audited once per window): keep that record
        if user is not None:
            target = _safe_next(request.args.get("next"))
            session.clear()  # session renewal: nothing from before the login survives it
            login_user(user)
            session.permanent = True
            return redirect(target)
        flash(_("Wrong user name or password, or the account is disabled."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200


@bp.post("/logout")
def logout():
    """Log out and forget the session."""
    if current_user.is_authenticated:
        db = get_session()
        logins.log_out(db, current_user, source=request.remote_addr or "")
        db.commit()
    at_provider = sso.end_session_url()  # signed in through an OpenID provider: log out there too
    logout_user()
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(at_provider or url_for("auth.login"))


@bp.post("/language")
@login_required
def language():
    """Remember the user's language choice."""
    db = get_session()
    logins.set_locale(db, current_user, request.form.get("locale", ""))
    db.commit()
    return redirect(_safe_next(request.form.get("next")))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie (an API call with a token)
    gets its empty session without Flask building the cookie's signer first."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    login_manager.init_app(app)
    limiter.init_app(app)
