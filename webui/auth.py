"""Who is calling: Flask-Login sessions for people, bearer tokens for the API."""
from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_login import LoginManager

from engine import users
from models import User

from .db import get_session

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active else None


@login_manager.request_loader
def load_user_from_request(req) -> User | None:  # noqa: ANN001 - Flask request
    header = req.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return users.user_for_token(get_session(), header[7:].strip())
    return None


def is_bearer_request() -> bool:
    """Say whether this request authenticates with a bearer token (no cookies, so no CSRF)."""
    return request.headers.get("Authorization", "").startswith("Bearer ")


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
