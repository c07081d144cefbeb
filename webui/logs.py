"""Log lines: plain text by default, or one JSON object per line with `OPSGATE_LOG_FORMAT=json`
(for Loki, Elasticsearch, Splunk, ...).

Every line carries the request id, the user and the case key of the request or job it belongs
to (engine.logcontext), and whatever `extra=` fields the caller gave. The web app writes one
line per request (logger `opsgate.requests`: method, path, route, status, duration_ms), the
worker one per job (logger `opsgate.jobs`: a timer fired, a delivery pass). The level is
`OPSGATE_LOG_LEVEL` (default INFO for JSON, WARNING for text).

A JSON line::

    {"time": "2026-11-29T10:15:02.113Z", "level": "INFO", "logger": "opsgate.requests",
     "message": "POST /tasks/<task_id> 302", "request_id": "3f1c...", "user": "erin",
     "case": "INC-000042", "method": "POST", "path": "/tasks/9b1...", "route": "/tasks/<task_id>",
     "status": 302, "duration_ms": 41.7}
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import Any

from engine import logcontext

# The attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_MARK = "_opsgate_handler"


class ContextFilter(logging.Filter):
    """Copy the request id, user and case of the current scope onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in logcontext.current().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever sys.stderr is at the time (test runners and click swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
        line: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(fmt: str | None = None, level: str | None = None, *, verbose: bool = False,
              keep_existing: bool = False) -> None:
    """Set up the root logger once per process: JSON or text lines on stderr with the context filter.

    `fmt` and `level` default to OPSGATE_LOG_FORMAT and OPSGATE_LOG_LEVEL. With `keep_existing`,
    a set-up done already (the `opsgate` command, with its --verbose) stays as it is."""
    if keep_existing and any(getattr(h, _MARK, False) for h in logging.getLogger().handlers):
        return
    fmt = (fmt if fmt is not None else os.environ.get("OPSGATE_LOG_FORMAT", "text")).strip().lower() or "text"
    if fmt not in ("text", "json"):
        raise ValueError(f"OPSGATE_LOG_FORMAT must be text or json, not {fmt!r}")
    level_name = (level if level is not None else os.environ.get("OPSGATE_LOG_LEVEL", "")).strip().upper()
    if not level_name:
        level_name = "INFO" if fmt == "json" or verbose else "WARNING"
    if level_name not in logging.getLevelNamesMapping():
        raise ValueError(f"OPSGATE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level_name!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = _Stderr()
    setattr(handler, _MARK, True)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level_name)
