"""Monitoring: Prometheus metrics at /metrics, liveness at /healthz, readiness at /readyz, and
the request id and one log line per request.

/metrics (on the web root; /api/v1/metrics is the process-metrics report) shows
* `opsgate_http_request_duration_seconds{method,route,status}`: a histogram per URL rule,
  counted in this process's memory, or across gunicorn's workers in multi-process mode
  (`PROMETHEUS_MULTIPROC_DIR` set to an empty folder before the server starts; see
  webui/gunicorn_conf.py, which also tidies up after a worker exits);
* the operational figures, read from the database at scrape time (engine.jobs.health), so every
  process answers alike: cases opened and closed (by process and outcome), open cases, ready
  and overdue tasks by group, SLA warnings and escalations, timer lag, worker heartbeats and the
  outbox backlog.

With `OPSGATE_METRICS_TOKEN` set, /metrics wants `Authorization: Bearer <that token>` (Prometheus'
`authorization: credentials:`); /healthz and /readyz stay open for load balancers and probes
and say nothing about cases.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_login import current_user
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from engine import logcontext
from engine.jobs import health
from engine.timing import clock
from webui.db import get_session

bp = Blueprint("monitoring", __name__)
requests_log = logging.getLogger("opsgate.requests")

# This process's request timings (in multi-process mode prometheus_client keeps them in files).
_LOCAL = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram("opsgate_http_request_duration_seconds", "Time to answer a request, by URL rule.",
                            ("method", "route", "status"), registry=_LOCAL,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
_QUIET = frozenset({"monitoring.metrics", "monitoring.healthz", "monitoring.readyz", "static"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _Figures(Collector):
    """The database's figures, read once per scrape."""

    def __init__(self, figures: health.Figures, now: dt.datetime) -> None:
        self.figures, self.now = figures, now

    def collect(self) -> Iterator[Metric]:
        f = self.figures

        def family(kind: type, name: str, text: str, labels: list[str], values: dict[Any, int | float]) -> Metric:
            metric = kind(name, text, labels=labels)
            for key, value in sorted(values.items(), key=lambda kv: str(kv[0])):
                metric.add_metric(list(key) if isinstance(key, tuple) else [key], value)
            return metric

        yield family(CounterMetricFamily, "opsgate_cases_opened", "Cases opened, by process.", ["process"], f.opened)
        yield family(CounterMetricFamily, "opsgate_cases_closed", "Cases closed or cancelled, by process and outcome.",
                     ["process", "outcome"], f.closed)
        yield family(GaugeMetricFamily, "opsgate_cases_open", "Cases open now, by process.", ["process"], f.open_cases)
        yield family(GaugeMetricFamily, "opsgate_tasks_open", "Ready tasks, by candidate group.", ["group"],
                     f.open_tasks)
        yield family(GaugeMetricFamily, "opsgate_tasks_overdue",
                     "Ready tasks past their due time (an SLA breached now), by candidate group.", ["group"],
                     f.overdue_tasks)
        yield family(CounterMetricFamily, "opsgate_sla_warnings", "SLA clocks that reached 75%, by process.",
                     ["process"], f.sla_warnings)
        yield family(CounterMetricFamily, "opsgate_escalations",
                     "Cases escalated because an SLA clock ran out (an SLA breach), by process.", ["process"],
                     f.escalations)
        yield GaugeMetricFamily("opsgate_timer_lag_seconds", "Now minus the oldest due timer not fired yet (0: none).",
                                value=f.timer_lag)
        yield GaugeMetricFamily("opsgate_timers_due", "Timers due and not fired yet.", value=f.timers_due)
        beats = GaugeMetricFamily("opsgate_worker_last_seen_timestamp_seconds",
                                  "When each worker last finished a pass (Unix time).", labels=["worker"])
        for name, seen in sorted(f.workers.items()):
            beats.add_metric([name], seen)
        yield beats
        if f.workers:
            yield GaugeMetricFamily("opsgate_worker_heartbeat_age_seconds",
                                    "Seconds since any worker last finished a pass.",
                                    value=max(0.0, self.now.timestamp() - max(f.workers.values())))
        yield family(GaugeMetricFamily, "opsgate_outbox_pending", "Messages waiting to be sent, by channel.",
                     ["channel"], f.outbox)


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return self.registry.collect()


def _token_ok() -> bool:
    wanted = current_app.config.get("METRICS_TOKEN") or ""
    if not wanted:
        return True
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.startswith("Bearer ") else ""
    return hmac.compare_digest(given.encode(), wanted.encode())


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition: request timings and the database's figures."""
    if not _token_ok():
        return Response("a metrics token is required: Authorization: Bearer <OPSGATE_METRICS_TOKEN>\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="opsgate metrics"', "Content-Type": "text/plain"})
    registry = CollectorRegistry(auto_describe=False)
    if _multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(_LOCAL))
    session = get_session()
    registry.register(_Figures(health.figures(session), clock.now()))
    session.rollback()
    return Response(generate_latest(registry), 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8",
                                                      "Cache-Control": "no-store"})


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answers (no database call: a liveness probe)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready for traffic: the database answers, its schema is current, a worker ran recently."""
    session = get_session()
    within = dt.timedelta(seconds=current_app.config.get("READY_WORKER_SECONDS", 60))
    found = health.readiness(session, worker_within=within)
    session.rollback()
    checks = {"database": found.database, "migrations": found.migrations, "worker": found.worker}
    return jsonify(status="ready" if found.ready else "not ready", checks=checks), 200 if found.ready else 503


def _begin() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    logcontext.set_request(g.request_id)


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(seconds)
    response.headers["X-Request-Id"] = g.request_id
    if request.endpoint in _QUIET:
        return response
    # The API's caller, authenticated once (webui.api.caller): asking Flask-Login again would
    # run its request loader and session checks a second time (49 us of a token request's CPU).
    caller = g.get("actor")
    if caller is not None:
        logcontext.set_user(caller.name)
    elif current_user.is_authenticated:
        logcontext.set_user(current_user.name)
    if requests_log.isEnabledFor(logging.INFO):  # text logs default to WARNING: no line to build
        requests_log.info("%s %s %s", request.method, route, response.status_code,
                          extra={"method": request.method, "path": request.path, "route": route,
                                 "status": response.status_code, "duration_ms": round(seconds * 1000, 1),
                                 "remote": request.remote_addr})
    return response


def init_app(app: Flask) -> None:
    """Register the monitoring routes and the per-request hooks."""
    app.before_request(_begin)
    app.after_request(_finish)
    app.register_blueprint(bp)
