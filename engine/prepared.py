"""Prepared writes: Core statements compiled once per dialect, run with `Connection.exec_driver_sql`.

Every case action writes the same few rows (the task rows, the audit event, the case row).
`Connection.execute(statement, params)` finds each statement in SQLAlchemy's compiled cache but
still builds its parameters afresh on every call; `Prepared` keeps, per dialect, what SQLAlchemy
compiled (`ClauseElement.compile`: the SQL and its parameter order, and each type's
`bind_processor` for the dialect: JSON, UTC timestamps) and runs the SQL with
`Connection.exec_driver_sql`, SQLAlchemy's public way to run SQL text on the DB-API cursor. So it
runs on the session's connection and in its transaction, cursor events and `echo` see it, DB-API
errors arrive as `sqlalchemy.exc` exceptions and a dropped connection is invalidated, as with
`Connection.execute`. Measured inside a case action, that is 15-25 us a statement less than
`Connection.execute` (README, Performance), and an action runs four of them.

Rules for a prepared statement: INSERT, UPDATE or DELETE without RETURNING, every value a named
`bindparam` without a value of its own, or a literal of the statement (no Python-side column
defaults, no expanding IN); each call passes every parameter.

**Deferred writes.** The worker fires a batch of timers in one transaction; run one by one, their
writes cost five round trips a timer on PostgreSQL. Inside `deferred(session)` the statements that
say where they go (`order`) are held instead, and `Deferred.send` runs each of them once, with
every parameter set held for it (an executemany); on psycopg all the held statements go in one
pipeline, one round trip, their counts checked once the server has answered. Every use case holds
its writes so on PostgreSQL (`holding`, from `services.race_safe`); SQLite holds nothing outside
the worker, having no round trips to save. Any other statement on the session's connection (a read,
an ORM flush, a prepared statement without an order) sends what is held first, so it sees the
writes before it as if they had run; what is reordered is only the held statements among
themselves, by `order`, which keeps the order one case's save writes them in (rows before the rows
that refer to them, a case's old timer rows deleted before its new ones are inserted). A case saved
twice in one window sends what is held in between (`separate`). A statement marked `exact` must
match one row per parameter set: a call returns the count it will be checked against, and `send`
raises SQLAlchemy's StaleDataError (what the unit of work raises when a versioned UPDATE matches
fewer rows than expected) if the database counted fewer: a guarded UPDATE lost a race; the caller
rolls back.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Table, bindparam, event
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import UpdateBase

# Where a held statement goes when a deferred window is sent (see the module docstring). An ended
# case's fact row reads its case row and events, so it goes after them; the month summary counts
# the fact row, so it goes after that, last: its upsert locks a row that every case ending in the
# month writes, held until the commit that follows the send.
(CASE_ROW, EVENTS, TASKS_ENDED, TASK_ROWS, TASK_LISTS, TIMERS_GONE, TIMERS_NEW, WAITS_GONE, WAITS_NEW, DELIVERIES,
 FACTS, FACT_MONTHS) = range(12)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    # (parameter key, DB-API name, bind processor or None, value), in the DB-API's order; the key
    # is None for the statement's own literals, whose value is then given, processed once
    binds: tuple[tuple[str | None, str, Callable[[Any], Any] | None, Any], ...]


class Prepared:
    """One INSERT, UPDATE or DELETE, compiled on first use for each dialect."""

    def __init__(self, statement: UpdateBase, *, order: int | None = None, exact: bool = False) -> None:
        self.statement = statement
        self.order = order  # where a deferred window sends it; None: it is never held
        self.exact = exact  # each parameter set must match one row (checked by `Deferred.send`)
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.returning:
            raise TypeError("a prepared statement must bind every value itself and return nothing")
        if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
            raise TypeError("a prepared statement cannot use expanding or literal-execute parameters")
        fixed = compiled.params  # the statement's own literals ('ready'); None where a value is required
        names = compiled.positiontup if compiled.positional else list(dict.fromkeys(compiled.bind_names.values()))
        binds = []
        for name in names:
            bind = compiled.binds[name]
            # Each type's own conversion for this dialect (JSON to text, aware datetimes to UTC ...)
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            value = fixed.get(name)
            if value is None:
                binds.append((bind.key, name, processor, None))
            else:
                binds.append((None, name, None, value if processor is None else processor(value)))
        return _Compiled(compiled.string, bool(compiled.positional), tuple(binds))

    def run(self, session: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
            short: Callable[[], Exception] | None = None) -> int:
        """Execute with one parameter set (or many, as executemany) in the session's
        transaction; return the DB-API rowcount.

        In a deferred window a statement with an `order` is held and the count returned is the
        number of parameter sets (which `send` checks for an `exact` one, raising `short()` if
        this was the statement's only call in the send and it counted short: the error the
        caller would have raised on seeing the count itself)."""
        rows: Sequence[Mapping[str, Any]] = [params] if isinstance(params, Mapping) else params
        if not rows:
            return 0
        held: Deferred | None = session.info.get(_DEFERRED)
        if held is not None:
            if self.order is not None:
                held.hold(self, rows, short)
                return len(rows)
            held.send()
        return self.execute(session.connection(), rows)

    def execute(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute now on `connection`, whatever is held; return the DB-API rowcount."""
        return self.start(connection, rows).rowcount

    def start(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> CursorResult[Any]:
        """Execute on `connection` and return SQLAlchemy's result (in a psycopg pipeline its
        rowcount is not known yet: see `_pipelined`)."""
        compiled = self._for(connection.dialect)
        values = [[value if key is None else row[key] if proc is None else proc(row[key])
                   for key, _name, proc, value in compiled.binds] for row in rows]
        if compiled.positional:
            args: list[Any] = [tuple(v) for v in values]
        else:
            names = [name for _key, name, _proc, _value in compiled.binds]
            args = [dict(zip(names, v, strict=True)) for v in values]
        # One row goes as execute, several as executemany.
        return connection.exec_driver_sql(compiled.sql, args[0] if len(args) == 1 else args)


def insert(table: Table, columns: Iterable[str], *, order: int | None = None) -> Prepared:
    """A prepared INSERT of the named columns of a table (all of them but those the database fills)."""
    return Prepared(table.insert().inline().values({name: bindparam(name) for name in columns}), order=order)


_DEFERRED = "opsgate.deferred_writes"


def _check(statement: Prepared, count: int, rows: list[Mapping[str, Any]],
           shorts: list[Callable[[], Exception] | None]) -> None:
    if count != len(rows) and statement.exact:
        if len(shorts) == 1 and shorts[0] is not None:
            raise shorts[0]()
        raise StaleDataError(f"{count} of {len(rows)} rows matched: {statement.statement}")


def _pipelined(connection: Connection, work: list[tuple[Prepared, list[Mapping[str, Any]]]]) -> list[int]:
    """Run the statements in one psycopg pipeline (`psycopg.Connection.pipeline`): the client
    sends them all and then waits once for the server's answers; return their rowcounts.

    Each still runs through `Connection.exec_driver_sql` (cursor events, `echo`, errors as
    `sqlalchemy.exc`), but its count is known only when the pipeline is synced, after SQLAlchemy
    closed its cursor: psycopg resets a closed cursor's count. So in the pipeline the driver's
    cursors are made of a psycopg.Cursor whose `close` waits, and are closed here once counted.
    An error the server reports at the sync arrives as SQLAlchemy's exception for it."""
    import psycopg  # the driver of this connection

    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    factory = driver.cursor_factory
    cursors: list[Any] = []
    try:
        driver.cursor_factory = _kept_open()
        try:
            with driver.pipeline():
                for statement, rows in work:
                    cursors.append(statement.start(connection, rows).context.cursor)
        except psycopg.Error as err:  # raised by the sync, outside SQLAlchemy's execute
            raise DBAPIError.instance(None, None, err, psycopg.Error, dialect=connection.dialect) from err
        finally:
            driver.cursor_factory = factory
        return [cursor.rowcount for cursor in cursors]
    finally:
        for cursor in cursors:
            psycopg.Cursor.close(cursor)


@functools.cache
def _kept_open() -> type[Any]:
    import psycopg

    class KeptOpen(psycopg.Cursor):
        """A cursor whose results a pipeline has yet to deliver: SQLAlchemy's close is put off."""

        def close(self) -> None:
            pass

    return KeptOpen


class Deferred:
    """The prepared writes held in one deferred window of a session (see `deferred`)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.failed = False  # a send failed: the writes of the window so far are unknown, roll back
        # per statement: its parameter sets, and the error for a short count (None: StaleDataError)
        self._held: dict[Prepared, tuple[list[Mapping[str, Any]], list[Callable[[], Exception] | None]]] = {}
        self._keys: set[Hashable] = set()
        self._pipeline = connection.dialect.driver == "psycopg"

    def hold(self, statement: Prepared, rows: Sequence[Mapping[str, Any]],
             short: Callable[[], Exception] | None = None) -> None:
        held = self._held.get(statement)
        if held is None:
            held = self._held[statement] = ([], [])
        held[0].extend(rows)
        held[1].append(short)

    def separate(self, key: Hashable) -> None:
        """Note that the writes that follow belong to `key` (a case); if the window already had
        writes of it, send what is held first, so that its two saves are not merged out of order."""
        if key in self._keys:
            self.send()
        self._keys.add(key)

    def send(self) -> None:
        """Run every held statement once with all its parameter sets, in their order; raise
        StaleDataError (or the error its one call gave) if an `exact` statement matched fewer
        rows than it had parameter sets.

        On psycopg the statements go in one pipeline, one round trip for all of them, and their
        counts are checked, in the same order, once the server has answered."""
        # The keys stay: a case's writes held after this send (its save goes on) must still be
        # sent before a second save of it in the window.
        held, self._held = self._held, {}
        if not held:
            return
        ordered = sorted(held, key=lambda s: s.order or 0)  # stable: calls keep their order
        try:
            if self._pipeline:
                counts = _pipelined(self.connection, [(statement, held[statement][0]) for statement in ordered])
                for statement, count in zip(ordered, counts, strict=True):
                    _check(statement, count, *held[statement])
            else:
                for statement in ordered:
                    _check(statement, statement.execute(self.connection, held[statement][0]), *held[statement])
        except BaseException:
            self.failed = True
            raise

    def discard(self) -> None:
        """Drop what is held (the caller rolls the transaction back)."""
        self._held.clear()
        self._keys.clear()

def _send_held(connection: Connection, *_args: Any) -> None:
    """Before another statement on a connection in a deferred window: send what is held, which
    it may read or depend on (an engine's `before_execute` event, see `_watch`)."""
    held: Deferred | None = connection.info.get(_DEFERRED)
    if held is not None:
        held.send()


def _watch(engine: Engine) -> None:
    """Listen, once per engine, for the statements run through Connection.execute (reads, ORM
    flushes; exec_driver_sql, which the prepared statements use, does not fire the event).

    Once for the engine, not for each window's connection: adding and removing a connection's
    listener cost 25-30 us a use case, and on PostgreSQL every use case is a window. Outside a
    window the listener finds nothing held. Two threads may both add it; the second call of a
    send finds nothing held."""
    if not event.contains(engine, "before_execute", _send_held):
        event.listen(engine, "before_execute", _send_held)


@contextlib.contextmanager
def deferred(session: Session) -> Iterator[Deferred]:
    """Hold the session's ordered prepared writes until `send` (or the end of the block, which
    sends what is still held; after an error nothing is sent)."""
    connection = session.connection()
    held = Deferred(connection)
    _watch(connection.engine)
    session.info[_DEFERRED] = held
    # The connection's info is that of its DB-API connection, which outlives the window: the
    # window takes its entry out again when it ends (from the same dictionary, should the
    # connection have been invalidated meanwhile).
    info = connection.info
    info[_DEFERRED] = held
    try:
        yield held
        held.send()
    finally:
        info.pop(_DEFERRED, None)
        session.info.pop(_DEFERRED, None)


def holding(session: Session) -> contextlib.AbstractContextManager[Deferred | None]:
    """A deferred window for one use case where it saves round trips: on psycopg (its writes
    then go in one pipeline) and unless the session is in a window already (the worker's
    batch, or a use case inside another). Elsewhere nothing is held."""
    if _DEFERRED in session.info or session.get_bind().dialect.driver != "psycopg":
        return contextlib.nullcontext()
    return deferred(session)


def separate(session: Session, key: Hashable) -> None:
    """Tell a deferred window (if the session is in one) that the writes that follow are `key`'s."""
    held: Deferred | None = session.info.get(_DEFERRED)
    if held is not None:
        held.separate(key)
