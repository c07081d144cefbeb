"""Configuration: defaults, then the instance folder's config.py, then OPSGATE_* environment."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: engine.db.DEFAULT_URL (SQLite in ./instance)
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "START_WORKER": None,  # None: an in-process timer worker with SQLite, none with PostgreSQL
    "TIMEZONE": "UTC",  # the IANA zone pages show times in and read form times in (OPSGATE_TIMEZONE)
    "METRICS_TOKEN": "",  # OPSGATE_METRICS_TOKEN: /metrics wants it as a bearer token when set
    "READY_WORKER_SECONDS": 60,  # OPSGATE_READY_WORKER_SECONDS: /readyz wants a worker pass this recent
    "LOG_FORMAT": None,  # OPSGATE_LOG_FORMAT: text or json (None: leave logging as the host set it up)
    # Sign-in throttling (webui.auth, engine.people.throttle): the request rate per address on
    # POST /login, and where Flask-Limiter keeps its counters (redis://... to share them).
    "LOGIN_RATE_LIMIT": "120 per minute",  # OPSGATE_LOGIN_RATE_LIMIT; above the 100-per-address lock
    "RATELIMIT_STORAGE_URI": "memory://",  # OPSGATE_RATELIMIT_STORAGE
}


def instance_path() -> str:
    """The instance folder: OPSGATE_INSTANCE, or ./instance."""
    return os.path.abspath(os.environ.get("OPSGATE_INSTANCE", "instance"))


def secret_key(instance_path: str) -> str:
    """Return OPSGATE_SECRET_KEY, or the key generated once and kept in the instance folder."""
    if os.environ.get("OPSGATE_SECRET_KEY"):
        return os.environ["OPSGATE_SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment() -> dict[str, Any]:
    """Read OPSGATE_* settings from the environment."""
    out: dict[str, Any] = {}
    if os.environ.get("OPSGATE_DATABASE_URL"):
        out["DATABASE_URL"] = os.environ["OPSGATE_DATABASE_URL"]
    if os.environ.get("OPSGATE_SECURE_COOKIES", "").lower() in ("1", "true", "yes"):
        out["SESSION_COOKIE_SECURE"] = out["REMEMBER_COOKIE_SECURE"] = True
    if os.environ.get("OPSGATE_METRICS_TOKEN"):
        out["METRICS_TOKEN"] = os.environ["OPSGATE_METRICS_TOKEN"].strip()
    if os.environ.get("OPSGATE_READY_WORKER_SECONDS"):
        text = os.environ["OPSGATE_READY_WORKER_SECONDS"].strip()
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"OPSGATE_READY_WORKER_SECONDS must be a whole number of seconds, not {text!r}")
        out["READY_WORKER_SECONDS"] = int(text)
    out["LOG_FORMAT"] = os.environ.get("OPSGATE_LOG_FORMAT", "text")
    if os.environ.get("OPSGATE_LOGIN_RATE_LIMIT"):
        out["LOGIN_RATE_LIMIT"] = os.environ["OPSGATE_LOGIN_RATE_LIMIT"].strip()
    if os.environ.get("OPSGATE_RATELIMIT_STORAGE"):
        out["RATELIMIT_STORAGE_URI"] = os.environ["OPSGATE_RATELIMIT_STORAGE"].strip()
    if os.environ.get("OPSGATE_TIMEZONE"):
        out["TIMEZONE"] = os.environ["OPSGATE_TIMEZONE"].strip()
    return out
