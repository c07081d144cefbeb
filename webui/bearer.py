"""A request's bearer token, checked once: the API's caller check and Flask-Login's request
loader (pages, `current_user`, log lines) share the one read."""
from __future__ import annotations

from flask import g

from engine.people import tokens
from models import ApiToken
from webui.db import get_session


def bearer_token_row(token: str) -> ApiToken | None:
    """Return the live API token row of a bearer token (with its user and their groups), read
    once per request however many times the request asks."""
    held = g.get("bearer_token")
    if held is not None and held[0] == token:
        return held[1]
    row = tokens.authenticate(get_session(), token)
    g.bearer_token = (token, row)
    return row
