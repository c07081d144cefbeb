"""`opsgate serve`: the web UI and the API behind waitress (a production WSGI server)."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from webui.cli.base import database, database_option, engine_config, main
from webui.cli.worker import start_background_worker

if TYPE_CHECKING:
    from flask import Flask

# Waitress's thread pool of the one process. webui.cli.serving (waitress, alembic, Flask) is
# imported when serving starts, not when `opsgate --help` lists this command.
DEFAULT_THREADS = 8


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              type=click.IntRange(1, 256), help="Worker threads of this one process.")
@database_option
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web UI and the API (scale out: gunicorn 'webui:create_app()')."""
    from webui.cli import serving

    problem = serving.schema_problem(database())
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    app = _app(engine_config().database_url)
    # With SQLite one in-process thread fires timers; with PostgreSQL run `opsgate worker`.
    stop_worker = start_background_worker(app)
    click.echo(f"opsgate on http://{host}:{port}/ (API: /api/v1, stop with Ctrl-C)"
               + ("; timers fire in this process" if stop_worker else ""))
    try:
        serving.run(app, host=host, port=port, threads=threads)
    finally:
        if stop_worker is not None:
            stop_worker.set()


def _app(database_url: str) -> Flask:
    """Build the app as gunicorn would (instance config, OPSGATE_* environment) on this database."""
    from webui import create_app  # here: `opsgate --help` need not load the whole app

    return create_app(database_url=database_url)

