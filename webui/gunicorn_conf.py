"""gunicorn settings for opsgate: threaded workers, and Prometheus' multi-process mode.

    gunicorn -c python:webui.gunicorn_conf -b 0.0.0.0:5000 'webui:create_app()'

Workers are `gthread`: one process per core (`-w` or WEB_CONCURRENCY to change it), each with
4 threads. A request spends much of its time waiting on PostgreSQL (one round trip per
statement); a sync worker sits idle meanwhile and closes the client's connection after every
answer, while a threaded one serves another request and keeps connections alive. On 2 cores,
2 workers x 4 threads completed 2.5-4x the approvals per second of 2-4 sync workers at 16
clients, with 20-30% less CPU per request (docs/performance.md, "A real server"). The app is
thread-safe (waitress runs it threaded too); each thread's request has its own session, and
each process's pool (5 connections + 10 overflow) covers its threads.

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

worker_class = "gthread"
threads = 4
if "WEB_CONCURRENCY" not in os.environ:  # gunicorn's own default is one worker
    workers = os.cpu_count() or 2


def on_starting(server: Any) -> None:
    """Start from an empty metrics folder (files of a previous run would be added in)."""
    folder = Path(_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Forget a worker that exited (prometheus_client's documented gunicorn hook)."""
    multiprocess.mark_process_dead(worker.pid)
