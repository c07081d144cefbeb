"""Names and values as people read them, in their language: task and group names, labelled
case values, decisions, SLA clocks. The engine hands over pairs (name, Chinese name) and typed
values (engine.cases.readable); this module picks the reader's language and formats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, g
from flask_babel import format_date, format_datetime, format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from engine.cases import readable
from engine.people import groups as group_names
from engine.processes import specs
from engine.timing import clock
from models import Case, HumanTask
from webui.db import get_session
from webui.i18n import localized
from webui.pages.common import display_value

SLA_LABELS = {
    "response": _l("Response target"),
    "resolution": _l("Resolution target"),
    "recovery": _l("Recovery target"),
    "revocation": _l("Revocation target"),
    "documentation": _l("Documentation reminder"),
}
DECISION_SENTENCES = {
    "approve": _l("Approved by %(who)s"),
    "reject": _l("Rejected by %(who)s"),
    "rework": _l("Sent back for rework by %(who)s"),
}


NOTICE_TITLES = {
    "task_assigned": _l("A task is waiting for you"),
    "sla_warning": _l("An SLA clock is running out"),
    "case_escalated": _l("A case was escalated"),
}


def notice_title(notice: Any, known: bool = False) -> str:
    """A notice's kind in the reader's language ("A task is waiting for you"); with `known`,
    empty for a kind without a title (its stored text is shown instead)."""
    title = NOTICE_TITLES.get(getattr(notice, "kind", ""))
    return str(title) if title is not None else ("" if known else _("Notice"))


def pick(pair: tuple[str, str | None] | None) -> str:
    """Return the reader's language's half of a (name, Chinese name) pair."""
    if not pair:
        return ""
    return localized(pair[0], pair[1])


def task_name(task: HumanTask) -> str:
    """A task's name in the reader's language (the BPMN's `name_zh` in Chinese)."""
    return pick(specs.manifest_of(task.case.definition).element_names(task.element_id)) or task.name


def step_names(case: Case, names: list[str]) -> str:
    """A case's open steps by name, in the reader's language."""
    tasks = specs.manifest_of(case.definition).tasks.values()
    chinese = {t.name: t.name_zh for t in tasks if t.name_zh}
    return ", ".join(localized(n, chinese.get(n)) for n in names)


def outcome_name(case: Case) -> str:
    """How a closed case ended, as its process names the outcome."""
    if not case.outcome:
        return ""
    return pick(readable.outcome_names(specs.manifest_of(case.definition), case.outcome))


def group_name(key: str | None) -> str:
    """A group's name in the reader's language (the admin's title, the shipped one, or the key)."""
    if not key:
        return ""
    titles = g.get("group_titles")
    if titles is None:
        titles = g.group_titles = group_names.group_titles(get_session())
    title = titles.get(key)
    return localized(title.name, title.name_zh) if title is not None else key


def group_names_map() -> dict[str, str]:
    """Every known group's name in the reader's language, by key (the diagram labels lanes)."""
    titles = g.get("group_titles")
    if titles is None:
        titles = g.group_titles = group_names.group_titles(get_session())
    return {key: localized(t.name, t.name_zh) for key, t in titles.items()}


def task_groups(task: HumanTask) -> str:
    """The groups a task is offered to, by name."""
    return ", ".join(group_name(k) for k in (task.candidate_groups or [task.lane]) if k)


def shown_label(item: readable.Shown) -> str:
    return localized(item.label, item.label_zh)


def shown_value(item: readable.Shown) -> Markup:
    """A labelled value as people read it: the choice's name, yes/no, dates in the display zone,
    text with its line breaks."""
    value = item.value
    if item.choice is not None:
        return escape(pick(item.choice))
    if item.type == "boolean":
        return escape(_("yes") if value in (True, "true", "True") else _("no"))
    if item.type == "date" and isinstance(value, str):
        try:
            return escape(format_date(dt.date.fromisoformat(value), "yyyy-MM-dd"))
        except ValueError:
            return escape(value)
    text = display_value(value)
    if item.type == "text" or "\n" in text:
        return Markup('<span class="multiline">') + escape(text.replace("\r\n", "\n")) + Markup("</span>")
    return escape(text)


def decision_sentence(decision: readable.Decision) -> str:
    """"Approved by Carl Change Manager" (the comment follows in the page); a vote's decision
    says the count: "Approved by vote: 2 for, 0 against, of 3"."""
    if decision.vote:
        counts = {"a": decision.vote.get("approve", 0), "r": decision.vote.get("reject", 0),
                  "n": decision.vote.get("voters", 0)}
        if decision.decision == "approve":
            return _("Approved by vote: %(a)s for, %(r)s against, of %(n)s", **counts)
        return _("Rejected by vote: %(a)s for, %(r)s against, of %(n)s", **counts)
    return str(DECISION_SENTENCES.get(decision.decision, DECISION_SENTENCES["approve"])) % {"who": decision.actor}


def decision_text(decision: readable.Decision) -> str:
    """"Approved by Carl Change Manager: “Budget line OPS-2027 ok”" (without a comment, the first half)."""
    said = decision_sentence(decision)
    return _("%(decision)s: “%(comment)s”", decision=said, comment=decision.comment) if decision.comment else said


def _sla_label(sla: str | None, name: tuple[str, str | None]) -> str:
    """What an SLA clock measures ("Resolution target"), else the timer's own name."""
    label = SLA_LABELS.get(sla or "")
    return str(label) if label is not None else pick(name)


def clock_label(item: readable.Clock | readable.Target) -> str:
    """Say what a clock measures ("Resolution target"), else its BPMN name."""
    return _sla_label(item.sla, (getattr(item, "name", ""), getattr(item, "name_zh", None)))


def warning_text(warning: readable.SlaWarning) -> str:
    """"75% of Resolution target used; it runs out at 2027-01-15 20:00" (in the display zone)."""
    clock_name = _sla_label(warning.sla, warning.name)
    if warning.due_at is None:
        return _("%(used)s of %(clock)s used", used=warning.used, clock=clock_name)
    return _("%(used)s of %(clock)s used; it runs out at %(due)s", used=warning.used, clock=clock_name,
             due=format_datetime(warning.due_at, "yyyy-MM-dd HH:mm"))


def time_left(due_at: dt.datetime) -> str:
    """"2 hours left" or "overdue by 3 days"."""
    delta = due_at - clock.now()
    span = format_timedelta(abs(delta), granularity="minute", threshold=1.5)
    return _("%(span)s left", span=span) if delta.total_seconds() > 0 else _("overdue by %(span)s", span=span)


VOTE_REASONS = {"rule": _l("the rule was met"), "veto": _l("one reject vetoes"), "chair": _l("the chair's casting vote"),
                "no_majority": _l("no majority"), "deadline": _l("closed at the deadline")}


def vote_rule_text(rules: Any) -> str:
    """Say a vote's rule in words: "majority; one reject vetoes; the chair breaks a tie"."""
    parts = [str({"any": _l("one approval passes"), "all": _l("everyone must approve"),
                  "majority": _l("majority")}.get(rules.rule) or _("%(n)s approvals pass", n=rules.n))]
    if rules.veto and rules.rule != "all":
        parts.append(str(_l("one reject vetoes")))
    if rules.chair:
        parts.append(_("%(group)s breaks a tie", group=group_name(rules.chair)))
    return "; ".join(parts)


def vote_reason_text(reason: str | None) -> str:
    """Say why a vote ended as it did."""
    return str(VOTE_REASONS.get(reason or "", reason or ""))


def init_app(app: Flask) -> None:
    """Register the helpers with Jinja."""
    app.jinja_env.globals.update(
        pick=pick, task_name=task_name, step_names=step_names, outcome_name=outcome_name, group_name=group_name,
        task_groups=task_groups, shown_label=shown_label, group_names_map=group_names_map, notice_title=notice_title,
        shown_value=shown_value, decision_sentence=decision_sentence, decision_text=decision_text,
        clock_label=clock_label, time_left=time_left, warning_text=warning_text, vote_rule_text=vote_rule_text,
        vote_reason_text=vote_reason_text)
    app.jinja_env.filters.update(pick=pick)
