"""Who is calling the JSON API: a bearer token, else the browser's login session.

* `Authorization: Bearer TOKEN` (from `opsgate token create NAME`) is checked against the
  token's stored hash, in one read that also brings the user and their groups
  (engine.people.tokens). If the header is present it decides alone: a bad, revoked or
  expired token is 401 even when the browser also has a session. A read-scope token may only
  GET (a write is 403). Token requests carry no cookie authority, so they need no CSRF token.
  A token's `last_used_at` is stamped at most once a minute: only when the stamp read with
  the token is older than that.
* A logged-in browser session may use the API too. Because a cookie is sent by the browser
  on cross-site requests as well, every write (POST, PUT, PATCH, DELETE) made with the
  session must carry the session's CSRF token in the `X-CSRFToken` header (Flask-WTF's
  check, the same token as the web forms'; `GET /api/v1/me` returns it). A cross-site page
  cannot read that token nor set that header without a CORS preflight, which we never grant.
"""

from __future__ import annotations

import logging

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import Unauthorized

from engine.errors import NotAllowed
from engine.people import tokens
from models import User
from webui.bearer import bearer_token_row
from webui.db import get_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger(__name__)


def bearer_token() -> str | None:
    """Return the bearer token of the request, None if there is no Authorization header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer TOKEN'.")
    return token.strip()


def authenticate() -> User:
    """Return the calling user (token first, then session) or raise 401 / CSRF refusal."""
    token = bearer_token()
    if token is not None:
        row = bearer_token_row(token)
        if row is None:
            raise Unauthorized("Unknown, revoked, expired or inactive API token.")
        if row.scope == "read" and request.method not in SAFE_METHODS:
            raise NotAllowed("This API token is read-only (scope read): it may only GET.")
        if tokens.use_is_stale(row):
            _stamp_use(token)
        g.api_auth = "token"
        return row.user
    if not current_user.is_authenticated:
        raise Unauthorized()
    if request.method not in SAFE_METHODS:
        check_csrf()
    g.api_auth = "session"
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _stamp_use(token: str) -> None:
    # Admins see when each token was last used (revoke the idle ones). Only a stamp older than
    # tokens.TOKEN_USE_RESOLUTION (read with the token) is written: one request a minute per
    # token pays this UPDATE and its commit, the others write nothing. The stamp commits on
    # its own, before the route runs, so a read-only call keeps it too; a database too busy
    # to take it costs the stamp, never the call.
    session = get_session()
    try:
        tokens.record_token_use(session, token)
        # Commit even when the stamp was recent and nothing changed: on SQLite the UPDATE took
        # the write lock all the same, and holding it through the route would make every other
        # writer wait for this call (a slow case action would stall the whole server).
        session.commit()
    except OperationalError as exc:
        session.rollback()
        log.warning("could not record an API token's use: %s", exc)


def check_csrf() -> None:
    """Refuse a session write that lacks the session's CSRF token (raises CSRFError)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    csrf = current_app.extensions["csrf"]
    csrf.protect()


__all__ = ["CSRFError", "authenticate", "bearer_token", "check_csrf"]
