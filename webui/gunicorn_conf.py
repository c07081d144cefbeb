"""gunicorn settings for opsgate with Prometheus' multi-process mode:

    gunicorn -c python:webui.gunicorn_conf -w 2 -b 0.0.0.0:5000 'webui:create_app()'

Workers stay gunicorn's default, sync: one per core (`-w`). Threaded workers (`--worker-class
gthread --threads 4`) keep clients' connections alive and serve another request while one
waits on PostgreSQL, but on 2 cores they did no better: at a load average of 4-9 from other
work, 2 sync workers completed 236-239 approvals/s at 16 clients (p95 121-125 ms) against
203-207/s (p95 133-152 ms, p99 over 300 ms) for 2 x 4 threads, at the same CPU per request;
only at a load of 12-16 did threads win, by taking a larger share of the busy cores
(docs/performance.md, "A real server"). Measured again later that day with a leaner load
generator, 2 x 2 threads used no less of the server's CPU per approval than 2 sync workers
(5.1 against 5.0 ms; four runs alternating with sync ones, load 3-4) and only saved the
clients their reconnections (0.1 ms each). Measure on your own machine with
`bench/throughput.py load --worker-class gthread`.

A sync worker answers `Connection: close` and (gunicorn 26, as installed here) waits for the
client to close its side before taking the next request (up to 2 s), so a client slow to read
and hang up holds a worker: put a proxy that buffers (nginx) in front, as gunicorn's docs say.

Each gunicorn worker is a process with its own memory, so request timings are kept in files
under `PROMETHEUS_MULTIPROC_DIR` (made here when unset; it must be set before anything imports
prometheus_client, which is why this file sets it first) and /metrics adds them up across the
workers. The folder is emptied when gunicorn starts, and a dead worker's live gauges are dropped.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

_DIR = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="opsgate-prometheus-"))

from prometheus_client import multiprocess  # noqa: E402 - after the variable, as prometheus_client requires


def on_starting(server: Any) -> None:
    """Start from an empty metrics folder (files of a previous run would be added in)."""
    folder = Path(_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def post_worker_init(worker: Any) -> None:
    """The worker has loaded the app: keep the collector out of its requests (webui.process)."""
    from webui import process

    process.settle()


def child_exit(server: Any, worker: Any) -> None:
    """Forget a worker that exited (prometheus_client's documented gunicorn hook)."""
    multiprocess.mark_process_dead(worker.pid)
