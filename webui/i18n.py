"""English and Simplified Chinese for the web UI (Flask-Babel).

The language is a per-user choice stored in ``User.locale`` (``en`` or ``zh_Hans``); before
login, or for a user who never chose, the browser's Accept-Language decides. BPMN names are
shown as the process owner wrote them: a process's ``name_zh`` or a form field's
``label_zh`` is used in Chinese when the BPMN provides one, and nothing else is translated.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, get_translations
from flask_login import current_user

from engine.errors import GroupName, Name, Names, Said
from engine.people import groups as group_names
from engine.people.roles import GROUP_TITLES
from webui.db import get_session

LANGUAGES: dict[str, str] = {"en": "English", "zh_Hans": "简体中文"}
DEFAULT_LANGUAGE = "en"

babel = Babel()


def select_locale() -> str:
    """Pick the user's chosen language, else the browser's best match."""
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LANGUAGES:
        return chosen
    # Browsers send zh-CN / zh-Hans / zh; all of them mean the Simplified Chinese catalogue.
    best = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-Hans", "zh-SG"])
    if best and best.lower().startswith("zh"):
        return "zh_Hans"
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """Return the language code in force for this request."""
    locale = get_locale()
    return "zh_Hans" if locale is not None and locale.language == "zh" else DEFAULT_LANGUAGE


def html_lang() -> str:
    """Return the BCP 47 tag for <html lang>."""
    return "zh-Hans" if current_language() == "zh_Hans" else "en"


def localized(text: str | None, text_zh: str | None) -> str:
    """Return the Chinese text from the BPMN in Chinese when there is one, else the text."""
    if text_zh and current_language() == "zh_Hans":
        return text_zh
    return text or ""


def group_title(key: str) -> str:
    """A shipped group's name in the reader's language (its key for other groups); pages that
    show admin-named groups use webui.pages.display.group_name."""
    title = GROUP_TITLES.get(key)
    return localized(*title) if title else key


def say(text: str) -> str:
    """Say an engine's sentence (engine.errors.Said) in the reader's language: its template
    through the catalogue, its values each in that language (a task's or process's name_zh, a
    group by its admin's title, "someone"). Plain text, and a sentence whose translation is
    missing or does not fit its values, is said as the engine wrote it (English). The result is
    plain text for Jinja to escape, like any message; a value's own `%` or markup is a value, never
    part of the template."""
    if not isinstance(text, Said):
        return str(text)
    template = get_translations().gettext(text.template)
    if template == text.template and current_language() != DEFAULT_LANGUAGE:
        return str(text)  # not translated: all of it in English rather than a mix
    if not text.values:
        return template
    try:
        return template % {key: _said_value(value) for key, value in text.values.items()}
    except (KeyError, ValueError, TypeError):
        return str(text)


def _said_value(value: Any) -> str:
    if isinstance(value, Said):
        return say(value)
    if isinstance(value, GroupName):
        return _group_title(value)
    if isinstance(value, Name):
        return localized(value.en, value.zh)
    if isinstance(value, Names):
        separator = "、" if current_language() == "zh_Hans" else ", "
        return separator.join(_said_value(item) for item in value.items)
    return str(value)


def _group_title(name: GroupName) -> str:
    """A group as pages name it (webui.pages.display.group_name): the admin's title in the
    reader's language, else the shipped one; read once a request."""
    titles = g.get("group_titles")
    if titles is None:
        titles = g.group_titles = group_names.group_titles(get_session())
    title = titles.get(name.key)
    return localized(title.name, title.name_zh) if title is not None else localized(name.en, name.zh)


def display_zone() -> ZoneInfo:
    """The time zone pages show times in and read a form's date-times in (config TIMEZONE)."""
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")


def init_app(app: Flask) -> None:
    """Bind Flask-Babel and the template helpers to the app."""
    zone = str(app.config.get("TIMEZONE") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"OPSGATE_TIMEZONE / TIMEZONE {zone!r} is not an IANA time zone "
                         "(like Asia/Shanghai or Europe/Berlin)") from None
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_DEFAULT_TIMEZONE"] = zone
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        zone_name=lambda: display_zone().key,
        current_language=current_language,
        html_lang=html_lang,
        languages=lambda: list(LANGUAGES.items()),
        localized=localized,
        say=say,
    )
    app.jinja_env.filters["say"] = say
