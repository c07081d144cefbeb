"""Serve the web UI and the API with waitress, a production WSGI server.

`opsgate serve` runs one process with a pool of threads, which is what the embedded SQLite
default wants. To scale out against PostgreSQL, run several processes instead:
`gunicorn -w 4 -b 0.0.0.0:5000 'webui:create_app()'` (see README, "JSON API").
"""

from __future__ import annotations

import logging

import waitress
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine import db
from webui import process

log = logging.getLogger(__name__)

def schema_problem(engine: Engine) -> str | None:
    """Say why the database cannot be served (not created, or older than the code), or None."""
    heads = set(ScriptDirectory.from_config(db.alembic_config()).get_heads())
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as err:
        return f"cannot open the database {engine.url!r}: {err.__class__.__name__}: {err}"
    if not current:
        return "the database has no opsgate schema yet: run `opsgate init` first"
    if current != heads:
        return "the database schema is not the code's: run `opsgate init` to upgrade it"
    return None


def run(app: Flask, *, host: str, port: int, threads: int) -> None:
    """Serve app on host:port until stopped."""
    log.info("opsgate serving on http://%s:%s/ with %s threads", host, port, threads)
    process.settle()
    waitress.serve(app, host=host, port=port, threads=threads, ident="opsgate")
