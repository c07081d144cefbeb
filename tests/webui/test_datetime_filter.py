"""The pages' `datetime` filter writes instants as Flask-Babel's format_datetime(value,
"yyyy-MM-dd HH:mm") would, in both languages and in the configured display zone, without its
per-call locale and pattern work (an inbox of 50 tasks formats 100 instants)."""
from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask_babel import Babel, force_locale, format_datetime

from webui.pages.common import datetime_text

INSTANTS = [
    dt.datetime(2026, 11, 30, 3, 59, 59, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.timezone.utc),  # Europe/Berlin's change to summer time
    dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.timezone.utc),  # and back
    dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5))),  # a zone other than UTC
    dt.datetime(2027, 1, 1, 0, 0),  # naive: stored UTC read back by SQLite
    dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone.utc),
]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/St_Johns"])
@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_the_filter_writes_what_flask_babel_writes(zone: str, language: str) -> None:
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_TIMEZONE"] = zone
    Babel(app)
    with app.test_request_context(), force_locale(language):
        for instant in INSTANTS:
            if instant.year == 1 and zone == "America/St_Johns":
                continue  # before year 1 in a zone west of UTC: neither can write it
            assert datetime_text(instant) == format_datetime(instant, "yyyy-MM-dd HH:mm"), instant


def test_the_filter_reads_a_stored_iso_instant_and_shows_nothing_for_none() -> None:
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Shanghai"
    Babel(app)
    with app.test_request_context():
        assert datetime_text("2026-11-30T16:30:00+00:00") == "2026-12-01 00:30"
        assert datetime_text(None) == "" and datetime_text("") == ""
