"""Reading API requests: the JSON body, query parameters, and pages of plain lists."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from engine.errors import InvalidData
from webui import hardening
from webui.api.errors import InvalidRequest

MAX_PER_PAGE = 1000


def json_object() -> dict[str, Any]:
    """Return the request body as a JSON object, or raise 400."""
    if not request.is_json:
        raise InvalidRequest("Send a JSON object with 'Content-Type: application/json'.")
    try:
        body = request.get_json()
    except BadRequest as exc:
        raise InvalidRequest(f"Malformed JSON: {exc.description}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    hardening.check_json(body)
    return body


def query_choice(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    """Return a query parameter that must be one of choices, or raise 400 naming it."""
    value = request.args.get(name) or default
    if value is not None and value not in choices:
        raise InvalidRequest(f"{name} must be one of {', '.join(choices)}.",
                             {name: [f"must be one of {', '.join(choices)}"]})
    return value


def query_int(name: str, default: int | None = None, maximum: int = hardening.MAX_ID) -> int | None:
    """Return a positive integer query parameter (at most `maximum`), or raise 400 naming it."""
    return hardening.positive_int(request.args.get(name), name, default=default, maximum=maximum)


def page_args(per_page_default: int, most: int = MAX_PER_PAGE) -> tuple[int, int]:
    """Return (?page=, ?per_page=) for a list the database pages, per_page capped at `most`."""
    page = query_int("page", 1, hardening.MAX_PAGE) or 1
    return page, query_int("per_page", per_page_default, most) or per_page_default


def page_of(items: list[Any], page: int, per_page: int) -> Response:
    """Answer one page of a plain JSON list (?page=, ?per_page=) that the database read with
    LIMIT per_page + 1 (the extra row says another page follows); a Link header names the next.

    CONTRACT.md promises arrays for these lists, so the paging is in the headers:
    `Link: <...?page=2>; rel="next"` while more follow (as GitHub's API does).
    """
    response = jsonify(items[:per_page])
    if len(items) > per_page:
        args = {**request.args.to_dict(), **(request.view_args or {}), "page": page + 1}
        response.headers["Link"] = f'<{url_for(request.endpoint or "", **args)}>; rel="next"'
    return response


def uploaded_files() -> list[tuple[str, bytes]]:
    """Return the BPMN/DMN files of a deploy request, or raise 400."""
    if request.mimetype in ("application/xml", "text/xml"):
        name = request.headers.get("X-Filename", "upload.bpmn")
        return [(name, request.get_data())]
    if request.mimetype == "multipart/form-data":
        files = [(f.filename or "upload.bpmn", f.read()) for f in request.files.getlist("file")]
        if files:
            return files
        raise InvalidRequest("Send the BPMN as multipart field 'file'.", {"file": ["required"]})
    raise InvalidRequest("Send BPMN XML as 'application/xml' or as multipart field 'file'.")


def body_text(body: dict[str, Any], name: str) -> str:
    """Read an optional text field of a JSON body ("" when absent or null; 422 naming the field when
    it is not a string: a list or an object must not reach a query)."""
    raw = body.get(name)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidData(f"{name} must be a string", {name: ["must be a string"]})
    return raw


def iso_moment(body: dict[str, Any], name: str) -> dt.datetime:
    """Read an ISO 8601 date-time with an offset from a JSON body (422 naming the field otherwise)."""
    raw = body.get(name)
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidData(f"{name} must be an ISO 8601 date-time with an offset",
                          {name: ["give an ISO 8601 date-time with an offset, such as 2026-12-01T09:00:00Z"]})
    return moment
