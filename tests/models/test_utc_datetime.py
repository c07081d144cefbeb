"""UTCDateTime on SQLite writes the text SQLAlchemy's DATETIME writes, byte for byte, and reads
every text it read before; PostgreSQL keeps SQLAlchemy's own conversion."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, exc, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from models.base import UTCDateTime, sqlite_datetime, sqlite_text

UTC = dt.timezone.utc


def tz(hours: int, minutes: int = 0) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours, minutes=minutes))


VALUES = [
    dt.datetime(2026, 11, 30, 7, 5, 3, 123456, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC),  # microsecond 0: still six digits
    dt.datetime(2026, 11, 30, 7, 5, 3, 1, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 7, 5, 3, 999999, tzinfo=UTC),
    dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
    dt.datetime(2026, 11, 30, 9, 5, 3, 500000, tzinfo=tz(2)),
    dt.datetime(2026, 11, 30, 1, 35, 3, tzinfo=tz(-5, -30)),
    dt.datetime(2027, 1, 1, 0, 30, tzinfo=tz(14)),  # the day before in UTC
    dt.datetime(2026, 12, 31, 20, 0, tzinfo=tz(-12)),  # the year after in UTC
    dt.datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # in the DST gap
    dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),  # the repeated hour
    dt.datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # a year of three digits
    dt.datetime(1, 1, 1, 0, 0, tzinfo=tz(-1)),
    dt.datetime(45, 6, 7, 8, 9, 10, 11, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.fixture
def dialect() -> sqlite.dialect:
    return create_engine("sqlite://").dialect


@pytest.fixture
def table() -> Table:
    return Table("stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))


@pytest.fixture
def conn(table: Table):
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        table.metadata.create_all(connection)
        yield connection
    engine.dispose()


def test_sqlite_uses_the_one_step_conversions(dialect):
    stamp = UTCDateTime().dialect_impl(dialect)
    assert stamp.bind_processor(dialect) is sqlite_text
    assert stamp.result_processor(dialect, None) is sqlite_datetime


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_text_is_what_sqlalchemys_sqlite_datetime_writes(dialect, value):
    reference = sqlite.DATETIME().bind_processor(dialect)
    written = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)(value)
    assert written == reference(value.astimezone(UTC))
    assert len(written) == 26 and written[19] == "."


def test_stored_text_and_read_back(conn, table, dialect):
    conn.execute(insert(table), [{"id": i, "at": value} for i, value in enumerate(VALUES)])
    reference = sqlite.DATETIME().bind_processor(dialect)
    stored = dict(conn.execute(text("SELECT id, CAST(at AS TEXT) FROM stamps")).all())
    assert stored == {i: reference(value.astimezone(UTC)) for i, value in enumerate(VALUES)}
    assert stored[1] == "2026-11-30 07:05:03.000000"
    assert stored[7] == "2026-12-31 10:30:00.000000"
    assert stored[11] == "0999-12-31 23:59:59.000000"
    read = dict(conn.execute(select(table.c.id, table.c.at)).all())
    for i, value in enumerate(VALUES):
        assert read[i] == value.astimezone(UTC) and read[i].tzinfo is UTC, value  # (a DST gap time never equals another zone's)


def test_sql_compares_and_orders_as_the_datetimes_do(conn, table):
    base = dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC)
    values = [base + dt.timedelta(microseconds=m) for m in (0, 1, 500000, 999999, 1000000)]
    values += [base.astimezone(tz(2)) - dt.timedelta(microseconds=1), base.astimezone(tz(-5))]
    conn.execute(insert(table), [{"id": i, "at": value} for i, value in enumerate(values)])
    ordered = conn.scalars(select(table.c.at).order_by(table.c.at, table.c.id)).all()
    assert ordered == sorted(values)
    now = base + dt.timedelta(microseconds=500000)
    due = conn.scalars(select(table.c.id).where(table.c.at < now).order_by(table.c.id)).all()
    assert due == [i for i, value in enumerate(values) if value < now]


@pytest.mark.parametrize(("stored", "expected"), [
    ("2026-11-30 07:05:03", dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC)),  # SQL's CURRENT_TIMESTAMP
    ("2026-11-30T07:05:03.250000", dt.datetime(2026, 11, 30, 7, 5, 3, 250000, tzinfo=UTC)),
    ("2026-11-30 07:05:03.123", dt.datetime(2026, 11, 30, 7, 5, 3, 123000, tzinfo=UTC)),
    ("2026-11-30 07:05", dt.datetime(2026, 11, 30, 7, 5, tzinfo=UTC)),
    ("2026-11-30", dt.datetime(2026, 11, 30, tzinfo=UTC)),
    ("2026-11-30 09:05:03+02:00", dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC)),
    ("2026-11-30 09:05:03.1+0200", dt.datetime(2026, 11, 30, 7, 5, 3, 100000, tzinfo=UTC)),  # 26 characters
    ("2026-11-30T07:05:03Z", dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC)),
])
def test_other_texts_read_as_before(conn, table, dialect, stored, expected):
    conn.execute(text("INSERT INTO stamps (id, at) VALUES (1, :at)"), {"at": stored})
    read = conn.scalar(select(table.c.at))
    assert read == expected and read.tzinfo is UTC
    before = UTCDateTime().process_result_value(sqlite.DATETIME().result_processor(dialect, None)(stored), dialect)
    assert read == before and read.tzinfo is before.tzinfo


def test_unreadable_text_fails_as_before(conn, table):
    conn.execute(text("INSERT INTO stamps (id, at) VALUES (1, 'yesterday')"))
    with pytest.raises(ValueError, match="Invalid isoformat string: 'yesterday'"):
        conn.scalar(select(table.c.at))
    conn.execute(text("UPDATE stamps SET at = :at"), {"at": "x" * 26})  # the length opsgate writes
    with pytest.raises(ValueError, match="Invalid isoformat string"):
        conn.scalar(select(table.c.at))


def test_null_stays_null(conn, table):
    conn.execute(insert(table), [{"id": 1, "at": None}])
    assert conn.scalar(text("SELECT at IS NULL FROM stamps")) == 1
    assert conn.scalar(select(table.c.at)) is None


def test_a_naive_datetime_is_refused(conn, table):
    with pytest.raises(exc.StatementError, match="naive datetime given to a UTC column"):
        conn.execute(insert(table), [{"id": 1, "at": dt.datetime(2026, 11, 30, 7, 5, 3)}])
    with pytest.raises(exc.StatementError, match="naive datetime given to a UTC column"):
        conn.execute(select(table.c.id).where(table.c.at < dt.datetime(2026, 11, 30)))


def test_each_value_in_a_row_gets_its_own_text(dialect):
    write = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    a = dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC)
    b = a.astimezone(tz(3))  # the same instant, another object
    c = dt.datetime(2026, 11, 30, 7, 5, 4, tzinfo=UTC)
    assert [write(x) for x in (a, a, None, b, c, a, None)] == [
        "2026-11-30 07:05:03.000000", "2026-11-30 07:05:03.000000", None, "2026-11-30 07:05:03.000000",
        "2026-11-30 07:05:04.000000", "2026-11-30 07:05:03.000000", None]
    with pytest.raises(ValueError):
        write(a.replace(tzinfo=None))


def test_postgresql_keeps_sqlalchemys_conversion():
    dialect = postgresql.psycopg.dialect()
    stamp = UTCDateTime().dialect_impl(dialect)
    write, read = stamp.bind_processor(dialect), stamp.result_processor(dialect, None)
    assert write is not sqlite_text and read is not sqlite_datetime
    value = dt.datetime(2026, 11, 30, 9, 5, 3, tzinfo=tz(2))
    bound = write(value)
    assert bound == value and bound.tzinfo is UTC  # handed to psycopg as an aware UTC datetime
    assert read(dt.datetime(2026, 11, 30, 9, 5, 3, tzinfo=tz(2))).tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        write(value.replace(tzinfo=None))


class SlashDATETIME(sqlite.DATETIME):
    """A SQLite DATETIME storing another text, through its public constructor arguments."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("storage_format", "%(year)04d/%(month)02d/%(day)02d %(hour)02d:%(minute)02d:%(second)02d")
        kwargs.setdefault("regexp", r"(\d+)/(\d+)/(\d+) (\d+):(\d+):(\d+)")
        super().__init__(*args, **kwargs)


class SlashDialect(SQLiteDialect_pysqlite):
    colspecs = {**SQLiteDialect_pysqlite.colspecs, DateTime: SlashDATETIME}


def test_a_sqlite_datetime_writing_other_text_keeps_sqlalchemys_conversion():
    dialect = SlashDialect()
    stamp = UTCDateTime().dialect_impl(dialect)
    write, read = stamp.bind_processor(dialect), stamp.result_processor(dialect, None)
    assert write is not sqlite_text and read is not sqlite_datetime
    assert write(dt.datetime(2026, 11, 30, 9, 5, 3, 7, tzinfo=tz(2))) == "2026/11/30 07:05:03"
    assert read("2026/11/30 07:05:03") == dt.datetime(2026, 11, 30, 7, 5, 3, tzinfo=UTC)
