"""JSON API for metrics and evaluations: GET /api/v1/metrics, GET /api/v1/evaluations.

`/metrics` takes `period` (YYYY-MM or YYYY) or `from` and `to` (ISO dates or datetimes;
a `to` date includes that whole day), plus optional `process`, `provider`, `system` and
`priority`; without any period it reports the current month. `/evaluations` takes
`period` (YYYY-MM: monthly scorecards; YYYY: annual assessments with their months) and
optional `provider`. Readers: supervisor, auditor, admin.

The routes are added to the api blueprint (its authentication and error model apply);
webui.api imports this module so they exist before the blueprint is registered.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Response, g, jsonify, request

from engine import clock, evaluation
from engine.errors import InvalidData, NotAllowed
from engine.evaluation_config import load_config
from engine.metrics import Filters, process_metrics
from engine.period import Period, month_period, parse_period
from engine.report_data import report_dict

from .api import bp
from .db import get_session

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


def _require_reader(actor: Any) -> None:
    if not set(getattr(actor, "group_names", ())) & set(READERS):
        raise NotAllowed("role: metrics and evaluations are for the supervisor, auditor and "
                         "admin groups")


@bp.get("/metrics")
def metrics() -> Response:
    """Process metrics for a period (CONTRACT.md: GET /metrics)."""
    _require_reader(g.actor)
    return jsonify(metrics_payload(get_session(), request.args))


@bp.get("/evaluations")
def evaluations() -> Response:
    """Provider scorecards or annual assessments (CONTRACT.md: GET /evaluations)."""
    _require_reader(g.actor)
    return jsonify(evaluations_payload(get_session(), request.args))
