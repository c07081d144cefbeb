"""JSON API for metrics and evaluations: GET /api/v1/metrics, GET /api/v1/evaluations.

`/evaluations/cases` lists the cases behind a KPI (`measure`, `period`, optional
`provider`, `show=met|missed`, `page`). `/metrics` takes `period` (YYYY-MM or YYYY) or `from`
and `to` (ISO dates or datetimes;
a `to` date includes that whole day), plus optional `process`, `provider`, `system` and
`priority`; without any period it reports the current month. `/evaluations` takes
`period` (YYYY-MM: monthly scorecards; YYYY: annual assessments with their months) and
optional `provider`. Readers: supervisor, auditor, admin.

Authentication is the app's: a bearer token (`Authorization: Bearer TOKEN`) or the
browser's login session; errors use the API's error model (webui.errors). The blueprint is
registered by webui.pages.reports.init_app.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from engine.errors import InvalidData, NotAllowed
from engine.evaluation import scorecards
from engine.evaluation.config import evaluation_config
from engine.evaluation.metrics import Filters, process_metrics
from engine.evaluation.period import Period, month_period, parse_period
from engine.evaluation.provider_measures import cases_behind_page
from engine.evaluation.report_data import report_dict
from engine.timing import clock
from webui.api import caller
from webui.db import get_session
from webui.hardening import MAX_PAGE

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
    return process_metrics(session, evaluation_config(session), period, filters).as_dict()


PAGE_SIZE = 100


def cases_payload(session: Any, args: Mapping[str, str]) -> dict[str, Any]:
    """The cases a measure was computed from, a page at a time."""
    period = parse_period(args.get("period", ""))
    show = args.get("show") or None
    if show not in (None, "met", "missed"):
        raise InvalidData("show: must be met or missed", {"show": ["must be met or missed"]})
    page = args.get("page") or "1"
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= MAX_PAGE:
        raise InvalidData(f"page: must be a whole number from 1 to {MAX_PAGE}",
                          {"page": [f"must be a whole number from 1 to {MAX_PAGE}"]})
    rows, more = cases_behind_page(session, evaluation_config(session), period, args.get("measure", ""),
                                   provider=args.get("provider") or None,
                                   met=None if show is None else show == "met", page=int(page), per_page=PAGE_SIZE)
    items = [{"key": c.key, "process": c.process_key, "title": c.title, "status": c.status,
              "outcome": c.outcome, "priority": c.priority, "provider": c.provider,
              "system": c.system, "created_at": c.created_at.isoformat(),
              "closed_at": c.closed_at.isoformat() if c.closed_at else None}
             for c in rows]
    return {"items": items, "next_page": int(page) + 1 if more else None}


def evaluations_payload(session: Any, args: Mapping[str, str]) -> dict[str, Any]:
    """Scorecards (month) or annual assessments (year) for a request."""
    if not args.get("period"):
        raise InvalidData("period: required (YYYY-MM or YYYY)",
                          {"period": ["required: YYYY-MM or YYYY"]})
    report = scorecards.build_report(session, args["period"],
                                     provider=args.get("provider") or None)
    return report_dict(report)


@bp.before_request
def _authenticate() -> Any:
    # The same rule as the rest of the API: a bearer token decides alone, else the session.
    g.actor = caller.authenticate()
    if not set(g.actor.group_names) & set(READERS):
        raise NotAllowed("role: metrics and evaluations are for the supervisor, auditor and "
                         "admin groups")
    return None


@bp.get("/metrics")
def metrics() -> Response:
    """Process metrics for a period (CONTRACT.md: GET /metrics)."""
    return jsonify(metrics_payload(get_session(), request.args))


@bp.get("/evaluations/cases")
def evaluation_cases() -> Response:
    """The cases behind a KPI: ?measure=&period=YYYY-MM[&provider=][&show=met|missed][&page=]."""
    return jsonify(cases_payload(get_session(), request.args))


@bp.get("/evaluations")
def evaluations() -> Response:
    """Provider scorecards or annual assessments (CONTRACT.md: GET /evaluations)."""
    return jsonify(evaluations_payload(get_session(), request.args))
