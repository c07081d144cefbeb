"""Reporting periods: a month (YYYY-MM) or a year (YYYY), as half-open UTC intervals."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.errors import InvalidData, said
from engine.timing import clock

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """A month or a year: [start, end) in UTC, and its label (2026-03 or 2026)."""

    label: str
    start: dt.datetime
    end: dt.datetime

    @property
    def is_year(self) -> bool:
        """True for a whole year."""
        return len(self.label) == 4

    def months(self) -> list[Period]:
        """The calendar months of this period, in order."""
        if not self.is_year:
            return [self]
        return [month_period(int(self.label), m) for m in range(1, 13)]


def month_period(year: int, month: int) -> Period:
    """Return the period of one calendar month."""
    return Period(f"{year:04d}-{month:02d}", *clock.month_bounds(year, month))


def parse_period(text: str, *, field: str = "period") -> Period:
    """Parse YYYY-MM or YYYY; raise InvalidData naming the field otherwise."""
    text = (text or "").strip()
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and year >= 1970:
            return month_period(year, month)
    elif (m := _YEAR.match(text)) and int(text) >= 1970:
        year = int(m.group(1))
        return Period(text, dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc),
                      dt.datetime(year + 1, 1, 1, tzinfo=dt.timezone.utc))
    raise InvalidData(said("%(field)s: expected YYYY-MM or YYYY, got %(text)s", field=field, text=repr(text)),
                      {field: [said("expected YYYY-MM (a month) or YYYY (a year)")]})
