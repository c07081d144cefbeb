"""Serve the web UI and the API with waitress, a production WSGI server.

`opsgate serve` runs one process with a pool of threads, which is what the embedded SQLite
default wants. To scale out against PostgreSQL, run several processes instead:
`gunicorn -w 4 -b 0.0.0.0:5000 'webui:create_app()'` (see README, "Running in production").
"""

from __future__ import annotations

import logging

import waitress
from flask import Flask

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8


def run(app: Flask, *, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
    """Serve app on host:port until stopped."""
    log.info("opsgate serving on http://%s:%s/ with %s threads", host, port, threads)
    waitress.serve(app, host=host, port=port, threads=threads, ident="opsgate")
