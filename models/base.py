"""Declarative base and the column types the models share."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as UTC; always hand back aware UTC datetimes (SQLite drops tzinfo).

    On SQLite each way is one function (`sqlite_text`, `sqlite_datetime`) instead of SQLAlchemy's
    composition of two (`process_bind_param`, then the SQLite DATETIME's formatting; its parsing,
    then `process_result_value`), writing and reading the very same text. PostgreSQL, literal SQL
    and any other dialect take the two methods below, as before.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, write an aware datetime straight to the text SQLite's DATETIME would write.

        SQLAlchemy's docs ask TypeDecorator subclasses not to override this, so that the inner
        type's processing is kept. It is kept here by proof: `sqlite_text` is used only if it
        gives the composed processor's text for every probe value (checked once per dialect, when
        SQLAlchemy first asks; a SQLite dialect storing another text keeps the composition), and
        the tests compare it with `sqlite.DATETIME().bind_processor` on many values. An engine
        step binds about 17 datetimes (counted in bench/engine.py's step), 6 of them None.
        """
        composed = super().bind_processor(dialect)
        if dialect.name != "sqlite" or composed is None:
            return composed
        return sqlite_text if _agree(sqlite_text, composed, _PROBES) else composed

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, read the stored text straight to an aware UTC datetime (`sqlite_datetime`).

        Used only if `sqlite_datetime` reads the texts this dialect's DATETIME writes for the
        probes as the composed processor does (checked once per dialect, as for `bind_processor`).
        An engine step reads about 10 datetimes, 6 of them None.
        """
        composed = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or composed is None:
            return composed
        impl = self.impl.dialect_impl(dialect)
        writes, parses = impl.bind_processor(dialect), impl.result_processor(dialect, coltype)
        if writes is None or parses is None:  # the driver converts: nothing to do faster
            return composed
        texts = [writes(value.astimezone(dt.timezone.utc)) for value in _PROBES]
        return sqlite_datetime if _agree(sqlite_datetime, composed, texts) else composed


def sqlite_text(value: dt.datetime | None) -> str | None:
    """'YYYY-MM-DD HH:MM:SS.ffffff': SQLAlchemy's SQLite DATETIME text of `value` in UTC.

    SQL compares these texts (`due_at < :now`, ORDER BY, the indexes), so not a byte may change:
    always six fraction digits, a four-digit year, no offset. The UTC datetime's `isoformat` with
    its "+00:00" cut off is the cheapest such text measured: 1.0 us a datetime, against 1.5 for
    SQLAlchemy's composition (`replace(tzinfo=None)` then `isoformat`: 1.4, `replace` alone
    taking 0.7; Python 3.11, SQLAlchemy 2.1, this machine).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(dt.timezone.utc).isoformat(" ", "microseconds")[:-6]


def sqlite_datetime(text: str | None) -> dt.datetime | None:
    """The aware UTC datetime of a SQLite DATETIME text, as SQLAlchemy's parsing followed by
    `UTCDateTime.process_result_value` gives it.

    The text opsgate writes (26 characters, no offset) is read as UTC by `fromisoformat` with
    "+00:00" appended: 0.1 us, against 0.85 for the composition (`replace(tzinfo=)` is the slow
    part). Any other text goes the general way, with the result or error it had before: a text
    without a fraction, one with an offset of its own (appended, a second offset fails), a date
    alone (never taken: "+00:00" would read as its time).
    """
    if text is None:
        return None
    if len(text) == 26:
        try:
            return _fromisoformat(text + "+00:00")
        except ValueError:
            pass
    value = _fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _agree(fast: Callable[[Any], Any], composed: Callable[[Any], Any], probes: Any) -> bool:
    """Whether `fast` gives what `composed` gives (result, type and tzinfo) for every probe."""
    try:
        return all((out := fast(probe)) == (want := composed(probe)) and type(out) is type(want)
                   and getattr(out, "tzinfo", None) is getattr(want, "tzinfo", None) for probe in probes)
    except (TypeError, ValueError):  # `composed` cannot take what `fast` takes: not the same conversion
        return False


_fromisoformat = dt.datetime.fromisoformat  # what SQLAlchemy's SQLite DATETIME parses with (2.0+)
_PROBES = (dt.datetime(2026, 11, 30, 7, 5, 3, 123456, tzinfo=dt.timezone.utc),
           dt.datetime(2026, 11, 30, 9, 5, 3, tzinfo=dt.timezone(dt.timedelta(hours=2))),
           dt.datetime(999, 1, 2, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))))


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(primary_key=True)]
name_str = Annotated[str, mapped_column(String(120))]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
json_data = Annotated[Any, mapped_column(JSON)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}

