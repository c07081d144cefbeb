"""`opsgate worker`: fire due timers and send queued e-mail; and the in-process worker for `serve`."""
from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

import click

from webui.cli.base import database_option, main, sessions

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


@main.command("worker")
@click.option("--once", is_flag=True, help="Handle what is due now and exit.")
@click.option("--now", "now_text", default=None, metavar="ISO-8601",
              help="Evaluate due times as of this instant (drills, tests), handle what is due then and exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes when idle.")
@database_option
def worker_command(once: bool, now_text: str | None, interval: float) -> None:
    """Fire due timers (SLA clocks, reminders, scheduled starts), announce ready tasks, send queued e-mail."""
    from engine.jobs import worker
    from engine.timing import clock

    try:
        now = clock.parse_instant(now_text) if now_text else None
    except ValueError:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 instant", param_hint="--now") from None
    factory = sessions()
    if once or now is not None:
        result = worker.run_once(factory, now=now)
        click.echo(f"fired {result.fired} timer event(s) from {result.handled} due timer(s); "
                   f"{result.conflicts} retried later, {result.errors} failed; "
                   f"{result.announced} ready task(s) announced; "
                   f"mail: {result.mail.sent} sent, {result.mail.retried} to retry, {result.mail.failed} failed")
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"worker running (every {interval:g}s when idle); Ctrl-C stops it")
    worker.run_forever(factory, stop, interval=interval)


def start_background_worker(app: Flask, *, interval: float = 5.0) -> threading.Event | None:
    """Start the in-process timer worker thread when the app wants one; return its stop event.

    `START_WORKER` None (the default) starts one with SQLite and none with PostgreSQL, where
    `opsgate worker` processes do the work; True or False forces the choice.
    """
    from engine.jobs import worker

    wanted = app.config.get("START_WORKER")
    engine = app.extensions["opsgate_engine"]
    if wanted is None:
        wanted = engine.dialect.name == "sqlite"
    if not wanted:
        return None
    log.info("starting the in-process timer worker")
    return worker.start_background_worker(app.extensions["opsgate_sessionmaker"], interval=interval)
