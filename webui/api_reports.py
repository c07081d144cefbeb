"""JSON API for metrics and evaluations: GET /api/v1/metrics, GET /api/v1/evaluations.

`/metrics` takes `period` (YYYY-MM or YYYY) or `from` and `to` (ISO dates or datetimes;
a `to` date includes that whole day), plus optional `process`, `provider`, `system` and
`priority`; without any period it reports the current month. `/evaluations` takes
`period` (YYYY-MM: monthly scorecards; YYYY: annual assessments with their months) and
optional `provider`. Readers: supervisor, auditor, admin.

Authentication is the app's: a bearer token (`Authorization: Bearer TOKEN`) or the
browser's login session; errors use the API's error model (webui.errors). The blueprint is
registered by webui.reports.init_app.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user

from engine import clock, evaluation
from engine.errors import InvalidData, NotAllowed
from engine.evaluation_config import load_config
from engine.metrics import Filters, process_metrics
from engine.period import Period, month_period, parse_period
from engine.report_data import report_dict

from .db import get_session
from .errors import error_body

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1")

READERS = ("supervisor", "auditor", "admin")


def _instant(text: str, field: str, *, end: bool) -> dt.datetime:
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            value = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            return value + dt.timedelta(days=1) if end else value
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidData(f"{field}: not an ISO 8601 date or datetime",
                          {field: ["expected an ISO 8601 date or datetime"]}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def metrics_period(args: Mapping[str, str]) -> Period:
    """The period a metrics request asks for."""
    if args.get("period"):
        return parse_period(args["period"])
    start, end = args.get("from"), args.get("to")
    if not start and not end:
        now = clock.now()
        return month_period(now.year, now.month)
    if not (start and end):
        missing = "to" if start else "from"
        raise InvalidData(f"{missing}: give both from and to",
                          {missing: ["give both from and to (or a period)"]})
    lower, upper = _instant(start, "from", end=False), _instant(end, "to", end=True)
    if upper <= lower:
        raise InvalidData("to: must be after from", {"to": ["must be after from"]})
    return Period(f"{start}..{end}", lower, upper)


def metrics_payload(session: Any, args: Mapping[str, str]) -> dict[str, Any]:
    """The process metrics for a request's period and filters."""
    period = metrics_period(args)
    filters = Filters(process=args.get("process") or None, provider=args.get("provider") or None,
                      system=args.get("system") or None, priority=args.get("priority") or None)
    return process_metrics(session, load_config(), period, filters).as_dict()


def evaluations_payload(session: Any, args: Mapping[str, str]) -> dict[str, Any]:
    """Scorecards (month) or annual assessments (year) for a request."""
    if not args.get("period"):
        raise InvalidData("period: required (YYYY-MM or YYYY)",
                          {"period": ["required: YYYY-MM or YYYY"]})
    report = evaluation.build_report(session, args["period"],
                                     provider=args.get("provider") or None)
    return report_dict(report)


@bp.before_request
def _authenticate() -> Any:
    if not current_user.is_authenticated:
        return jsonify(error_body("unauthorized", "Log in or send 'Authorization: Bearer TOKEN'.")), 401
    if not set(current_user.group_names) & set(READERS):
        raise NotAllowed("role: metrics and evaluations are for the supervisor, auditor and "
                         "admin groups")
    return None


@bp.get("/metrics")
def metrics() -> Response:
    """Process metrics for a period (CONTRACT.md: GET /metrics)."""
    return jsonify(metrics_payload(get_session(), request.args))


@bp.get("/evaluations")
def evaluations() -> Response:
    """Provider scorecards or annual assessments (CONTRACT.md: GET /evaluations)."""
    return jsonify(evaluations_payload(get_session(), request.args))
