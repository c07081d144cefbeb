"""Business time: a working-day calendar with public holidays and working hours.

A calendar says which days are working days (weekdays minus public holidays from the
`holidays` library, plus the organisation's own extra holidays and extra working days, e.g.
China's adjusted working weekends, which `holidays` already knows for CN) and which hours of
a working day count (one or more intervals in the calendar's time zone, e.g. a lunch break).

Configuration, first match wins:

* ``OPSGATE_CALENDAR`` names a TOML file (see README "Business time");
* else ``OPSGATE_CALENDAR_COUNTRY``, ``OPSGATE_CALENDAR_SUBDIVISION``,
  ``OPSGATE_CALENDAR_TIMEZONE`` and ``OPSGATE_CALENDAR_HOURS`` ("09:00-12:00,13:00-18:00");
* else Monday to Friday, 09:00-17:00 UTC, no public holidays.

The TOML file has a ``[calendar]`` table (the default calendar) and may have named calendars
in ``[calendars.NAME]`` tables that override single keys of the default; timer expressions
pick one with ``business_hours(4, calendar="NAME")``.
"""
from __future__ import annotations

import datetime as dt
import functools
import tomllib
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import holidays

from engine.timing import clock

UTC = dt.timezone.utc
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no working time at all would make the arithmetic loop forever.
_MAX_DAYS = 366 * 5


class CalendarError(ValueError):
    """The calendar configuration is unusable; the message names the key."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days and working hours of one organisation."""

    country: str | None = None
    subdivision: str | None = None
    timezone: str = "UTC"
    hours: tuple[tuple[dt.time, dt.time | None], ...] = ((dt.time(9), dt.time(17)),)
    weekend: frozenset[int] = frozenset({5, 6})
    extra_holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()
    _holidays: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            tz = zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"calendar timezone: unknown time zone {self.timezone!r}") from exc
        object.__setattr__(self, "_tz", tz)
        if self.country:
            try:
                table = holidays.country_holidays(self.country, subdiv=self.subdivision or None)
            except NotImplementedError as exc:
                raise CalendarError(f"calendar country/subdivision: {exc}") from exc
            object.__setattr__(self, "_holidays", table)
        if not self.hours:
            raise CalendarError("calendar hours: at least one working interval is needed")
        for start, end in self.hours:
            if end is not None and end <= start:
                raise CalendarError(f"calendar hours: {start:%H:%M}-{end:%H:%M} ends before it starts")

    # -- days -------------------------------------------------------------------------------

    def is_holiday(self, day: dt.date) -> bool:
        """Tell whether the day is a public or organisation holiday."""
        if day in self.extra_holidays:
            return True
        return self._holidays is not None and day in self._holidays

    def is_working_day(self, day: dt.date) -> bool:
        """Tell whether work happens on this local calendar day."""
        if day in self.extra_working_days:
            return True
        if self.is_holiday(day):
            return False
        if self._holidays is not None and day in self._holidays.weekend_workdays:
            return True  # an adjusted working weekend (CN, ...) the library knows
        return day.weekday() not in self.weekend

    def _intervals(self, day: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Yield the working intervals of a local day as UTC instants."""
        if not self.is_working_day(day):
            return
        tz = self._tz  # type: ignore[attr-defined]
        for start, end in self.hours:
            begin = dt.datetime.combine(day, start, tz).astimezone(UTC)
            if end is None:  # "24:00"
                finish = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(UTC)
            else:
                finish = dt.datetime.combine(day, end, tz).astimezone(UTC)
            yield begin, finish

    def _days_from(self, instant: dt.datetime) -> Iterator[dt.date]:
        day = instant.astimezone(self._tz).date()  # type: ignore[attr-defined]
        for offset in range(_MAX_DAYS):
            yield day + dt.timedelta(days=offset)
        raise CalendarError(f"calendar: no working time within {_MAX_DAYS} days")

    # -- arithmetic -------------------------------------------------------------------------

    def add_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """Return the instant after `hours` of working time counted from `start` (UTC)."""
        if hours < 0:
            raise CalendarError("business hours must not be negative")
        start = _aware(start)
        remaining = dt.timedelta(hours=hours)
        if not remaining:
            return start.astimezone(UTC)
        for day in self._days_from(start):
            for begin, finish in self._intervals(day):
                begin = max(begin, start)
                if begin >= finish:
                    continue
                if remaining <= finish - begin:
                    return begin + remaining
                remaining -= finish - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def subtract_hours(self, end: dt.datetime, hours: float) -> dt.datetime:
        """Return the instant `hours` of working time before `end` (UTC)."""
        end = _aware(end)
        remaining = dt.timedelta(hours=hours)
        if remaining <= dt.timedelta():
            return end.astimezone(UTC)
        day = end.astimezone(self._tz).date()  # type: ignore[attr-defined]
        for offset in range(_MAX_DAYS):
            for begin, finish in reversed(list(self._intervals(day - dt.timedelta(days=offset)))):
                finish = min(finish, end)
                if finish <= begin:
                    continue
                if remaining <= finish - begin:
                    return finish - remaining
                remaining -= finish - begin
        raise CalendarError(f"calendar: no working time within {_MAX_DAYS} days")

    def next_working_instant(self, start: dt.datetime) -> dt.datetime:
        """Return `start` if it lies in working time, else the next opening (UTC)."""
        start = _aware(start)
        for day in self._days_from(start):
            for begin, finish in self._intervals(day):
                if finish > start:
                    return max(begin, start)
        raise AssertionError("unreachable")  # pragma: no cover

    def add_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """Return the same local time of day `days` working days after `start` (UTC).

        A start outside working time counts from the next opening, so Saturday 10:00 plus
        one working day is Tuesday at opening time, and Friday 16:00 plus one is Monday 16:00.
        """
        if days < 0:
            raise CalendarError("business days must not be negative")
        tz = self._tz  # type: ignore[attr-defined]
        opening = self.next_working_instant(start).astimezone(tz)
        day = opening.date()
        for _ in range(days):
            day += dt.timedelta(days=1)
            for _ in range(_MAX_DAYS):
                if self.is_working_day(day):
                    break
                day += dt.timedelta(days=1)
            else:
                raise CalendarError(f"calendar: no working day within {_MAX_DAYS} days")
        return dt.datetime.combine(day, opening.time(), tz).astimezone(UTC)

    def working_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Return how much working time lies between two instants (zero if end <= start)."""
        start, end = _aware(start), _aware(end)
        total = dt.timedelta()
        if end <= start:
            return total
        for day in self._days_from(start):
            for begin, finish in self._intervals(day):
                if begin >= end:
                    return total
                overlap = min(finish, end) - max(begin, start)
                if overlap > dt.timedelta():
                    total += overlap
            if dt.datetime.combine(day, dt.time(0), self._tz) > end:  # type: ignore[attr-defined]
                return total
        return total  # pragma: no cover


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise CalendarError("business time needs an aware datetime (with a UTC offset)")
    return value


# -- configuration ----------------------------------------------------------------------------


def _parse_time(text: str, key: str) -> dt.time | None:
    if text.strip() == "24:00":
        return None
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError as exc:
        raise CalendarError(f"calendar {key}: {text!r} is not a HH:MM time") from exc


def _parse_hours(value: str | Iterable[str]) -> tuple[tuple[dt.time, dt.time | None], ...]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    result = []
    for part in parts:
        begin, sep, end = str(part).partition("-")
        if not sep:
            raise CalendarError(f"calendar hours: {part!r} is not HH:MM-HH:MM")
        start = _parse_time(begin, "hours")
        if start is None:
            raise CalendarError(f"calendar hours: {part!r} starts at 24:00")
        result.append((start, _parse_time(end, "hours")))
    return tuple(sorted(result, key=lambda pair: pair[0]))


def _parse_dates(values: Iterable[Any], key: str) -> frozenset[dt.date]:
    days = set()
    for value in values:
        if isinstance(value, dt.date):
            days.add(value)
            continue
        try:
            days.add(dt.date.fromisoformat(str(value)))
        except ValueError as exc:
            raise CalendarError(f"calendar {key}: {value!r} is not a YYYY-MM-DD date") from exc
    return frozenset(days)


def _parse_weekend(values: Iterable[str]) -> frozenset[int]:
    days = set()
    for value in values:
        name = str(value).strip().lower()[:3]
        if name not in _DAY_NAMES:
            raise CalendarError(f"calendar weekend: {value!r} is not a day name (mon..sun)")
        days.add(_DAY_NAMES.index(name))
    return frozenset(days)


_KEYS = {"country", "subdivision", "timezone", "hours", "weekend", "extra_holidays", "extra_working_days"}


def calendar_from_mapping(config: Mapping[str, Any]) -> BusinessCalendar:
    """Build a calendar from a TOML table or a dict of its keys."""
    unknown = set(config) - _KEYS
    if unknown:
        raise CalendarError(f"calendar: unknown key(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for key in ("country", "subdivision", "timezone"):
        if config.get(key):
            kwargs[key] = str(config[key])
    if "hours" in config:
        kwargs["hours"] = _parse_hours(config["hours"])
    if "weekend" in config:
        kwargs["weekend"] = _parse_weekend(config["weekend"])
    for key in ("extra_holidays", "extra_working_days"):
        if key in config:
            kwargs[key] = _parse_dates(config[key], key)
    return BusinessCalendar(**kwargs)


def load_calendars(settings: Mapping[str, str]) -> dict[str, BusinessCalendar]:
    """Read the calendars from the configured TOML file (OPSGATE_CALENDAR) or the single
    calendar's settings (OPSGATE_CALENDAR_*), as EngineConfig.calendar holds them; "" is the
    organisation's default."""
    env = settings
    path = env.get("OPSGATE_CALENDAR")
    if path:
        try:
            with open(path, "rb") as fh:
                document = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CalendarError(f"OPSGATE_CALENDAR: cannot read {path}: {exc}") from exc
        base = dict(document.get("calendar", {}))
        calendars = {"": calendar_from_mapping(base)}
        for name, table in document.get("calendars", {}).items():
            calendars[name] = calendar_from_mapping({**base, **table})
        return calendars
    config: dict[str, Any] = {}
    for key in ("country", "subdivision", "timezone", "hours"):
        value = env.get(f"OPSGATE_CALENDAR_{key.upper()}")
        if value:
            config[key] = value
    return {"": calendar_from_mapping(config)}


@dataclass(frozen=True)
class Calendars:
    """The business calendars of one configuration (EngineConfig.calendar), by name, with the
    helpers BPMN expressions call."""

    settings: tuple[tuple[str, str], ...] = ()

    def get(self, name: str = "") -> BusinessCalendar:
        """Return a calendar by name ("" is the organisation's default)."""
        try:
            return _load(self.settings)[name]
        except KeyError:
            raise CalendarError(f"calendar: no calendar named {name!r}") from None

    def business_hours(self, hours: float, calendar: str = "") -> str:
        """Return the ISO UTC instant `hours` working hours from now (for a timeDate timer)."""
        return self.get(calendar).add_hours(clock.now(), float(hours)).isoformat()

    def business_days(self, days: int, calendar: str = "") -> str:
        """Return the ISO UTC instant `days` working days from now (for a timeDate timer)."""
        return self.get(calendar).add_days(clock.now(), int(days)).isoformat()

    def helpers(self) -> dict[str, Any]:
        """The business-time helpers of BPMN expressions: business_hours(n), business_days(n)."""
        return {"business_hours": self.business_hours, "business_days": self.business_days}


@functools.lru_cache(maxsize=8)
def _load(settings: tuple[tuple[str, str], ...]) -> dict[str, BusinessCalendar]:
    return load_calendars(dict(settings))
