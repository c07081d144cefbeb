"""Hostile input, refused at the edge with a 400 that names the field, never a 500.

* Text that no database can keep (a NUL character, a lone UTF-16 surrogate from a JSON
  `\\ud800` escape) is refused wherever it comes in: the path, the query string, form fields,
  file names and the JSON body.
* JSON nested deeper than MAX_JSON_DEPTH levels, or with an integer that does not fit in 64
  bits, is refused before any route sees it (Python's parser would hit its recursion limit on
  100,000 levels; the database and the process engine would choke on the rest).
* Every answer carries the security headers (CSP without inline scripts, frame protection,
  nosniff, Referrer-Policy; HSTS when cookies are secure-only).
* Integers in URLs (`/notices/<int:id>`) stop at MAX_ID, the largest id a row can have: beyond
  it the route does not match (404). Query integers go through `positive_int` (400 beyond).
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from webui.api.errors import InvalidRequest

MAX_JSON_DEPTH = 64
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL
MAX_PAGE = 1_000_000  # a page number beyond any list we keep; offsets stay far inside 64 bits
MAX_JSON_INT = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches only ASCII digits up to MAX_ID (a larger id cannot exist: 404)."""

    regex = r"[0-9]+"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, but a body nested too deeply is malformed JSON (400), not a crash."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None


class SafeRequest(Request):
    """Flask's request, saying why a JSON body could not be read (Flask says so only in debug)."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            return super().on_json_loading_failed(e)
        raise BadRequest(f"Failed to decode JSON object: {e}")


def text_problem(value: str) -> str | None:
    """Say what makes a text unstorable (a NUL character, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (a lone surrogate was sent)"
    return None


def _refuse(field: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {problem}.", {field: [problem]})


def check_json(value: Any, where: str = "body") -> None:
    """Raise 400 naming the place of the first unstorable text, too-deep nesting or huge integer."""
    stack: list[tuple[Any, str, int]] = [(value, where, 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _refuse(path, f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise _refuse(path, problem)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not -MAX_JSON_INT - 1 <= item <= MAX_JSON_INT:
                raise _refuse(path, "must be an integer that fits in 64 bits")
        elif isinstance(item, dict):
            for key, inner in item.items():
                problem = text_problem(key)
                if problem:
                    raise _refuse(path, f"a key {problem}")
                stack.append((inner, f"{path}.{key}" if path != "body" else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{i}]", depth + 1) for i, inner in enumerate(item))


def page_arg() -> int:
    """The request's ?page= (1 when absent), a positive number at most MAX_PAGE, else 400 naming it."""
    return positive_int(request.args.get("page"), "page", default=1, maximum=MAX_PAGE) or 1


def positive_int(raw: str | None, name: str, *, default: int | None = None, maximum: int = MAX_ID) -> int | None:
    """Read a positive whole number (ASCII digits, at most `maximum`) or raise 400 naming it."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise _refuse(name, f"must be a whole number from 1 to {maximum}")
    return int(raw)


def check_request() -> None:
    """Refuse a request carrying unstorable text in its path, query or form (400 naming the field).

    JSON bodies are checked where they are read (webui.api.params.json_object), after the API has
    set its smaller body limit."""
    problem = text_problem(request.path)
    if problem:
        raise _refuse("path", problem)
    for source in (request.args, request.view_args or {}):
        for key, value in (source.items(multi=True) if hasattr(source, "getlist") else source.items()):
            for text, name in ((key, "query parameter"), (value, key)):
                if isinstance(text, str) and (problem := text_problem(text)):
                    raise _refuse(name, problem)
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for key, value in request.form.items(multi=True):
            if not isinstance(key, str):  # a part without a name (Flask-WTF's CSRF check fails on it)
                raise _refuse("form field", "every part of the body needs a name")
            if problem := text_problem(key) or text_problem(value):
                raise _refuse(key if text_problem(value) else "form field", problem)
        for key, upload in request.files.items(multi=True):
            if upload.filename and (problem := text_problem(upload.filename)):
                raise _refuse(key, f"the file name {problem}")


def safe_next(target: str | None, home: str) -> str:
    """Return `target` if it is a path on this site, else `home` (no open redirect, no 500).

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so a `next`
    of slash, tab, slash, host (or slash, backslash, host) would leave the site: any control,
    format or separator character, or a backslash, sends the user home, as does anything with
    a scheme or a host after parsing."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return home
    if "\\" in target or not target.isprintable() or text_problem(target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return home
    return target


# Pages load scripts from /static only: no inline script, no eval. bpmn-js and dmn-js set
# style attributes and inject <style> elements, hence 'unsafe-inline' for styles alone; the
# diagrams' images and the charts' exports are data: and blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self'",
    "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'",
])
HSTS = "max-age=31536000"


# The headers every answer gets unless it set its own: (lower-case name, name, value).
_SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin")))


def security_headers(response: Response) -> Response:
    """Put the security headers on every answer: pages, the API, downloads, errors; a header
    the answer set already is kept. (One pass over the answer's headers: `Headers.setdefault`
    scans them once per header, 9 us more a request.)"""
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}
    headers.extend([(name, value) for low, name, value in _SECURITY_HEADERS if low not in present])
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Install the bounded int converter (before any route is added), the input checks and the
    security headers."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.json = SafeJSONProvider(app)
    app.request_class = SafeRequest
    app.before_request(check_request)
    app.after_request(security_headers)
