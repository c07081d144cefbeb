"""One SQLAlchemy session per request; routes commit once, errors roll back."""
from __future__ import annotations

import dataclasses

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from engine import db
from engine.config import EngineConfig


def init_app(app: Flask) -> None:
    """Open the database and bind the engine's settings (read once, here) to the app's sessions."""
    config = app.config.get("ENGINE_CONFIG") or EngineConfig.from_environ(database_url=app.config.get("DATABASE_URL"))
    if not config.secret_key:
        config = dataclasses.replace(config, secret_key=app.config["SECRET_KEY"])
    engine = db.make_engine(config.database_url)
    app.extensions["opsgate_engine"] = engine
    app.extensions["opsgate_config"] = config
    app.extensions["opsgate_sessionmaker"] = db.make_sessionmaker(engine, config)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """Return this request's session."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["opsgate_sessionmaker"]()
    return g.db_session


def discard_session_changes() -> None:
    """Roll back this request's session, if it has one: after an engine error, nothing the failed
    action changed may be flushed by what the request still does (logging, rendering)."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def _close_session(exc: BaseException | None) -> None:
    # close() rolls back whatever the request left uncommitted and lets go of the connection; a
    # rollback() before it would also expire every object the request loaded, for nothing (the
    # answer often leaves a transaction begun without a statement: the action's new tasks are
    # added back to the session to build it).
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
