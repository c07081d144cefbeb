"""Business-time arithmetic: weekends, public holidays, working hours, configuration."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.config import EngineConfig
from engine.processes import scripting
from engine.timing import calendar as cal
from engine.timing import clock
from engine.timing.calendar import (
    BusinessCalendar,
    CalendarError,
    calendar_from_mapping,
)

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_hours_across_a_weekend():
    c = BusinessCalendar()  # Mon-Fri 09-17 UTC
    # Friday 2026-11-27 15:00 + 4h: 2h on Friday, 2h on Monday.
    assert c.add_hours(at("2026-11-27T15:00:00+00:00"), 4) == at("2026-11-30T11:00:00+00:00")


def test_hours_start_outside_working_time_count_from_the_opening():
    c = BusinessCalendar()
    assert c.add_hours(at("2026-11-28T10:00:00+00:00"), 1) == at("2026-11-30T10:00:00+00:00")
    assert c.add_hours(at("2026-11-26T20:00:00+00:00"), 8) == at("2026-11-27T17:00:00+00:00")


def test_hours_skip_a_public_holiday():
    c = calendar_from_mapping({"country": "GB", "subdivision": "ENG", "timezone": "Europe/London"})
    # Thursday 2026-12-24 16:00 London + 3h: 1h Thu, Fri 25 and Mon 28 (substitute Boxing
    # Day) are bank holidays, the weekend is off, so 2h on Tuesday 29th.
    due = c.add_hours(at("2026-12-24T16:00:00+00:00"), 3)
    assert due == at("2026-12-29T11:00:00+00:00")


def test_local_time_zone_and_lunch_break():
    c = calendar_from_mapping({"timezone": "Asia/Shanghai", "hours": "09:00-12:00,13:00-18:00"})
    # Monday 11:00 Shanghai (03:00 UTC) + 2h: 1h before lunch, 1h after -> 14:00 local.
    assert c.add_hours(at("2026-11-30T03:00:00+00:00"), 2) == at("2026-11-30T06:00:00+00:00")


def test_china_adjusted_working_weekend_and_organisation_extras():
    c = calendar_from_mapping({
        "country": "CN", "timezone": "Asia/Shanghai",
        "extra_holidays": ["2026-03-02"], "extra_working_days": ["2026-03-07"],
    })
    assert c.is_working_day(dt.date(2026, 2, 28))      # Saturday made a working day by the state
    assert not c.is_working_day(dt.date(2026, 2, 18))  # Spring Festival
    assert not c.is_working_day(dt.date(2026, 3, 2))   # the organisation's own holiday (Monday)
    assert c.is_working_day(dt.date(2026, 3, 7))       # the organisation's extra working Saturday
    assert not c.is_working_day(dt.date(2026, 3, 8))


def test_business_days_keep_the_time_of_day():
    c = BusinessCalendar()
    assert c.add_days(at("2026-11-27T16:00:00+00:00"), 1) == at("2026-11-30T16:00:00+00:00")
    assert c.add_days(at("2026-11-28T10:00:00+00:00"), 1) == at("2026-12-01T09:00:00+00:00")
    assert c.add_days(at("2026-11-30T10:30:00+00:00"), 0) == at("2026-11-30T10:30:00+00:00")


def test_subtract_hours_is_the_inverse_of_add():
    c = calendar_from_mapping({"country": "GB", "subdivision": "ENG", "timezone": "Europe/London"})
    assert c.subtract_hours(at("2026-12-29T11:00:00+00:00"), 3) == at("2026-12-24T16:00:00+00:00")
    assert c.subtract_hours(at("2026-11-30T11:00:00+00:00"), 0) == at("2026-11-30T11:00:00+00:00")


def test_working_time_between():
    c = BusinessCalendar()
    span = c.working_time_between(at("2026-11-27T15:00:00+00:00"), at("2026-11-30T11:00:00+00:00"))
    assert span == dt.timedelta(hours=4)
    assert c.working_time_between(at("2026-11-30T11:00:00+00:00"), at("2026-11-27T11:00:00+00:00")) == dt.timedelta()


def test_around_the_clock_hours():
    c = calendar_from_mapping({"hours": ["00:00-24:00"], "weekend": []})
    assert c.add_hours(at("2026-11-28T22:00:00+00:00"), 4) == at("2026-11-29T02:00:00+00:00")


@pytest.mark.parametrize("config, words", [
    ({"hours": "9-17"}, "hours"),
    ({"hours": "17:00-09:00"}, "hours"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"country": "XX"}, "country"),
    ({"weekend": ["caturday"]}, "weekend"),
    ({"extra_holidays": ["tomorrow"]}, "extra_holidays"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_configuration_names_the_key(config, words):
    with pytest.raises(CalendarError, match=words):
        calendar_from_mapping(config)


def test_a_calendar_without_working_days_is_refused():
    c = calendar_from_mapping({"weekend": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]})
    with pytest.raises(CalendarError, match="no working"):
        c.add_hours(at("2026-11-27T15:00:00+00:00"), 1)


def test_toml_file_with_named_calendars(tmp_path, monkeypatch):
    path = tmp_path / "calendar.toml"
    path.write_text(
        '[calendar]\ncountry = "DE"\nsubdivision = "BY"\ntimezone = "Europe/Berlin"\n'
        'hours = ["08:00-16:00"]\n\n[calendars.shanghai]\ncountry = "CN"\nsubdivision = ""\n'
        'timezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("OPSGATE_CALENDAR", str(path))
    calendars = cal.Calendars(EngineConfig.from_environ().calendar)  # as the edge reads it
    default = calendars.get()
    assert default.country == "DE" and default.hours == ((dt.time(8), dt.time(16)),)
    assert not default.is_working_day(dt.date(2026, 1, 6))  # Epiphany in Bavaria
    shanghai = calendars.get("shanghai")
    assert shanghai.country == "CN" and shanghai.hours == default.hours
    with pytest.raises(CalendarError, match="no calendar named 'mars'"):
        calendars.get("mars")


def test_environment_configuration(monkeypatch):
    monkeypatch.delenv("OPSGATE_CALENDAR", raising=False)
    monkeypatch.setenv("OPSGATE_CALENDAR_COUNTRY", "US")
    monkeypatch.setenv("OPSGATE_CALENDAR_TIMEZONE", "America/New_York")
    monkeypatch.setenv("OPSGATE_CALENDAR_HOURS", "09:00-17:00")
    c = cal.Calendars(EngineConfig.from_environ().calendar).get()
    assert c.country == "US" and not c.is_working_day(dt.date(2026, 11, 26))  # Thanksgiving


def test_expression_helpers_return_iso_instants():
    calendars = cal.Calendars()  # the default: no settings
    with clock.frozen(at("2026-11-27T15:00:00+00:00")):
        assert calendars.business_hours(4) == "2026-11-30T11:00:00+00:00"
        assert calendars.business_days(1) == "2026-11-30T15:00:00+00:00"


def test_a_script_engine_counts_in_its_configurations_calendars(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text('[calendar]\ncountry = "CN"\ntimezone = "Asia/Shanghai"\nhours = ["09:00-17:00"]\n',
                    encoding="utf-8")
    shanghai = EngineConfig.from_environ({"OPSGATE_CALENDAR": str(path)})
    with clock.frozen(at("2026-09-30T08:00:00+00:00")):  # 16:00 in Shanghai, before the October holidays
        ours = scripting.script_engine(shanghai).environment.evaluate("business_hours(2)", {})
        default = scripting.script_engine().environment.evaluate("business_hours(2)", {})
    assert ours == "2026-10-08T02:00:00+00:00"  # 1 h today, 1 h after Golden Week (CN holidays)
    assert default != ours
