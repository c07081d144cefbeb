"""Opening cases from outside (API, monitoring), with alert-storm deduplication.

A monitoring system that fires the same alert two hundred times must not open two hundred
incidents. A post that carries a `dedup_key` while an open case of that process has the
same key adds an *occurrence* to that case instead: the case's `occurrences` count goes up
and an `occurrence_added` audit event records who reported it and what they sent. Once the
case is closed (or cancelled), the next post with that key opens a new case.

The database keeps it exact under concurrency: a partial unique index allows one open case
per (process, dedup_key); a concurrent poster that loses the race adds its occurrence to
the winner's case.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import db
from engine.cases import services
from engine.errors import InvalidData
from engine.people import roles
from engine.records import audit
from engine.timing import clock
from models import Case, User

log = logging.getLogger(__name__)

DEDUP_KEY_MAX = 200


def open_case(session: Session, body: dict[str, Any], *, actor: User) -> tuple[Case, bool]:
    """Open a case from a request body {process, title, data, dedup_key}; True if new."""
    process, title, data, dedup_key = _read_body(body)
    if dedup_key is None:
        return services.start_case(session, process, data, actor=actor, title=title), True
    roles.check_may_start(actor)
    db.begin_write(session)  # SQLite: posts of one alert take turns (PostgreSQL: the row lock below)
    existing = find_open(session, process, dedup_key, lock=True)
    if existing is not None:
        return add_occurrence(session, existing, data, title=title, actor=actor), False
    try:
        with session.begin_nested():
            case = services.start_case(session, process, data, actor=actor, title=title)
            case.dedup_key = dedup_key
            session.flush()
    except IntegrityError:
        # Someone opened the case for this key between our look and our insert.
        log.info("dedup race on %s %s: adding an occurrence instead", process, dedup_key)
        winner = find_open(session, process, dedup_key, lock=True)
        if winner is None:
            raise
        return add_occurrence(session, winner, data, title=title, actor=actor), False
    return case, True


def find_open(session: Session, process: str, dedup_key: str, *, lock: bool = False
              ) -> Case | None:
    """Return the open case of this process carrying dedup_key, if any."""
    query = select(Case).where(Case.process_key == process, Case.dedup_key == dedup_key,
                               Case.status == "open")
    if lock:
        # Lock the row (PostgreSQL) and read it afresh, so concurrent posts count one by one.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def add_occurrence(session: Session, case: Case, data: dict[str, Any], *, title: str | None,
                   actor: User) -> Case:
    """Count one more occurrence of the case's alert and audit it."""
    roles.check_may_start(actor)
    case.occurrences += 1
    case.updated_at = clock.now()
    audit.append(session, case, actor=actor, type="occurrence_added",
                 data={"occurrence": case.occurrences, "title": title, "data": data})
    services.flush(session)
    return case


def _read_body(body: dict[str, Any]) -> tuple[str, str | None, dict[str, Any], str | None]:
    errors: dict[str, list[str]] = {}
    process = body.get("process")
    if not isinstance(process, str) or not process.strip():
        errors["process"] = ["required: the process key, e.g. incident"]
    title = body.get("title")
    if title is not None and not isinstance(title, str):
        errors["title"] = ["must be a string"]
    data = body.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors["data"] = ["must be an object of the start form's fields"]
    dedup_key = body.get("dedup_key")
    if dedup_key is not None:
        if not isinstance(dedup_key, str) or not dedup_key.strip():
            errors["dedup_key"] = ["must be a non-empty string"]
        elif len(dedup_key) > DEDUP_KEY_MAX:
            errors["dedup_key"] = [f"must be at most {DEDUP_KEY_MAX} characters"]
    unknown = sorted(set(body) - {"process", "title", "data", "dedup_key"})
    for name in unknown:
        errors[name] = ["unknown field; case data goes inside 'data'"]
    if errors:
        raise InvalidData("The case request is invalid.", errors)
    return str(process).strip(), title, data, dedup_key
