"""Rows of the task lists (the inbox, the home page's "My tasks" and SLA warnings) as people
read them, built once per page. Asked row by row, Jinja looked up the same words, addresses,
group names and due badges fifty times over (a url_for, a gettext, a locale and time-zone lookup
each): 3.7-3.9 ms of the engineer's inbox page's 14 ms of CPU (docs/performance.md). Here a word
or an address pattern is looked up once per page, a name or a due badge once per distinct value;
the rows carry plain strings that the template escapes as it did before."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from flask import Flask, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from engine.cases import views
from models import HumanTask
from webui.i18n import localized
from webui.pages import display
from webui.pages.common import datetime_text, due_state

# Characters that a URL path segment never quotes (werkzeug's converters leave them alone),
# so a value made only of them stands in the address as it is: task ids, case keys.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")
_MARK = "0opsgate0row0"


@dataclass(slots=True)
class Due:
    """A due badge: its class (overdue, due, info), its word and the time in the display zone;
    it renders as the badge (the due_badge macro's markup), written once per distinct time."""

    state: str
    label: str
    when: str
    html: Markup = field(init=False)

    def __post_init__(self) -> None:
        when = escape(self.when)
        self.html = Markup(f'<span class="badge {escape(self.state)}" title="{when}">{escape(self.label)} {when}</span>')

    def __html__(self) -> Markup:
        return self.html


@dataclass(slots=True)
class TaskRow:
    """One task as its list shows it; `action` is "claim", "release" or None."""

    id: str
    url: str
    name: str
    case_key: str
    case_url: str
    case_title: str
    groups: str
    claimed_by: str
    mine: bool
    due: Due | None
    deputy: str | None
    action: str | None
    action_url: str | None


def address(endpoint: str, argument: str) -> Callable[[str], str]:
    """Build `url_for(endpoint, argument=value)` for many values with one url_for: the value
    goes where a mark stood (values a URL would quote still go through url_for)."""
    head, _mark, tail = url_for(endpoint, **{argument: _MARK}).partition(_MARK)

    def build(value: str) -> str:
        if _PLAIN.fullmatch(value):
            return head + value + tail
        return url_for(endpoint, **{argument: value})

    return build


def _due_badges() -> Callable[[dt.datetime | None], Due | None]:
    """Say each distinct due time once: state, word, time (the due_badge macro's text)."""
    words = {"overdue": _("overdue"), "due": _("due soon")}
    fallback, zone = _("due"), get_timezone()
    seen: dict[dt.datetime, Due] = {}

    def badge(due_at: dt.datetime | None) -> Due | None:
        if not due_at:
            return None
        found = seen.get(due_at)
        if found is None:
            state = due_state(due_at)
            found = seen[due_at] = Due(state, words.get(state, fallback), datetime_text(due_at, zone))
        return found

    return badge


def due_badge_html(due_at: dt.datetime | None) -> Markup:
    """One due badge as markup (the `due_badge` macro of the other pages): the same `Due` the
    task lists write, so the badge's markup and words live in one place."""
    badge = _due_badges()(due_at)
    return badge.html if badge is not None else Markup("")


def task_rows(tasks: Iterable[HumanTask], behalf: Mapping[str, str] | None = None, *,
              groups: bool = True) -> list[TaskRow]:
    """The rows of a task list: `behalf` names the person a task is offered for (the reader
    as their deputy); without `groups` the group names are not looked up (the home page)."""
    behalf = behalf or {}
    me = current_user.id
    task_url, case_url = address("tasks.detail", "task_id"), address("cases.detail", "ref")
    claim_url, release_url = address("tasks.claim", "task_id"), address("tasks.release", "task_id")
    badge = _due_badges()
    names: dict[tuple[int, str, str], str] = {}
    group_texts: dict[tuple[str, ...], str] = {}
    rows = []
    for task in tasks:
        case = task.case
        name_key = (case.definition_id, task.element_id, task.name)
        name = names.get(name_key)
        if name is None:
            name = names[name_key] = display.task_name(task)
        group_text = ""
        if groups:
            group_key = tuple(task.candidate_groups or [task.lane or ""])
            if group_key not in group_texts:
                group_texts[group_key] = display.task_groups(task)
            group_text = group_texts[group_key]
        holder = task.assignee
        principal = behalf.get(task.id)
        action, action_url = None, None
        if not task.assignee_id and not principal:
            action, action_url = "claim", claim_url(task.id)
        elif task.assignee_id == me:
            action, action_url = "release", release_url(task.id)
        rows.append(TaskRow(
            id=task.id, url=task_url(task.id), name=name, case_key=case.key, case_url=case_url(case.key),
            case_title=case.title, groups=group_text,
            claimed_by=(holder.display_name or holder.name) if holder is not None else "—",
            mine=task.assignee_id == me, due=badge(task.due_at),
            deputy=_("for %(name)s", name=principal) if principal else None,
            action=action, action_url=action_url))
    return rows


@dataclass(slots=True)
class WarningRow:
    """An SLA warning on the home page: the task's page (else the case's), the case, what runs out."""

    url: str
    case_key: str
    what: str
    due: Due | None


def warning_rows(warnings: Iterable[views.Warning]) -> list[WarningRow]:
    """The home page's SLA warnings, with their addresses and due badges."""
    task_url, case_url, badge = address("tasks.detail", "task_id"), address("cases.detail", "ref"), _due_badges()
    return [WarningRow(task_url(w.task_id) if w.task_id else case_url(w.case_key), w.case_key, localized(*w.what),
                       badge(w.due_at)) for w in warnings]


def init_app(app: Flask) -> None:
    """Register the row builder with Jinja."""
    app.jinja_env.globals.update(task_rows=task_rows, warning_rows=warning_rows, due_badge_html=due_badge_html)


__all__ = ["Due", "TaskRow", "WarningRow", "address", "due_badge_html", "init_app", "task_rows", "warning_rows"]
