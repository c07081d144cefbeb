"""Prepared writes: Core statements compiled once per dialect and run straight on the DB-API cursor.

Every case action writes the same handful of rows (the task that ended, the tasks that became
ready and their groups, their notices, the audit event, the case row). Through
`Connection.execute`, SQLAlchemy builds an execution context for each of them: on that path
this cost about 0.1 ms per statement, which together came to as much as the whole raw
SpiffWorkflow step (see bench/engine.py). A `Prepared` statement keeps what matters from
SQLAlchemy, its SQL for the dialect and its type processing (JSON, UTC timestamps), and runs
in the session's transaction on the connection's own cursor. DB-API errors are handed to
SQLAlchemy's handler, so callers still see `sqlalchemy.exc.IntegrityError` and friends and a
dropped connection is still invalidated.

Rules for a prepared statement: every value is a named `bindparam` (no Python-side column
defaults, no expanding IN, no RETURNING); each call passes every parameter. Cursor events
(`before_cursor_execute`, `after_cursor_execute`) and `echo` logging still see each statement.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, inspect
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql.expression import Executable

T = TypeVar("T")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    # (parameter key, DB-API name, bind processor or None), in the order the DB-API wants them
    binds: tuple[tuple[str, str, Callable[[Any], Any] | None], ...]
    # a SELECT's result processors, by column position (None where the DB-API value is final)
    results: tuple[Callable[[Any], Any] | None, ...] = ()


class Prepared:
    """One INSERT, UPDATE or DELETE (`run`), or a one-row SELECT (`first`), compiled on first
    use for each dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise TypeError("a prepared statement cannot use expanding or literal-execute parameters")
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.returning:
            raise TypeError("a prepared statement must bind every value itself and return nothing")
        processors = compiled._bind_processors
        escaped = compiled.escaped_bind_names or {}
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        binds = tuple((compiled.binds[name].key, escaped.get(name, name), processors.get(name)) for name in names)
        results = tuple(column.type._cached_result_processor(dialect, None)
                        for column in getattr(self.statement, "selected_columns", ()))
        return _Compiled(compiled.string, bool(compiled.positional), binds, results)

    def run(self, session: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
        """Execute with one parameter set (or many, as executemany) in the session's
        transaction; return the DB-API rowcount."""
        return self._execute(session, params, fetch=False)

    def first(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run a SELECT and return its first row, its values processed as SQLAlchemy would."""
        return self._execute(session, params, fetch=True)

    def _execute(self, session: Session, params: Any, *, fetch: bool) -> Any:
        connection = _connection(session)
        compiled = self._for(connection.dialect)
        many = not isinstance(params, Mapping)
        rows: Sequence[Mapping[str, Any]] = params if many else [params]  # type: ignore[assignment,list-item]
        if compiled.positional:
            args: list[Any] = [
                tuple(row[key] if proc is None else proc(row[key]) for key, _name, proc in compiled.binds)
                for row in rows]
        else:
            args = [{name: row[key] if proc is None else proc(row[key]) for key, name, proc in compiled.binds}
                    for row in rows]
        parameters: Any = args if many else args[0]
        cursor = connection.connection.cursor()
        # Cursor events and echo still see the statement (tests, SQL logging, tracing).
        if connection._has_events or connection.engine._has_events:
            connection.dispatch.before_cursor_execute(connection, cursor, compiled.sql, parameters, None, many)
        if connection._echo:
            connection._log_info("%s [prepared] %r", compiled.sql, parameters)
        try:
            if many:
                cursor.executemany(compiled.sql, args)
            else:
                cursor.execute(compiled.sql, args[0])
            if fetch:
                row = cursor.fetchone()
                out: Any = None if row is None else tuple(
                    value if proc is None else proc(value) for proc, value in zip(compiled.results, row, strict=True))
            else:
                out = cursor.rowcount
            if connection._has_events or connection.engine._has_events:
                connection.dispatch.after_cursor_execute(connection, cursor, compiled.sql, parameters, None, many)
        except Exception as err:  # SQLAlchemy's handler wraps or re-raises it
            # (private, but the one place SQLAlchemy wraps DB-API errors and invalidates a
            # dropped connection; SQLAlchemy is pinned below 2.2 for it)
            connection._handle_dbapi_exception(err, compiled.sql, parameters, cursor, None)
            raise  # not reached: the handler always raises
        cursor.close()
        return out


_CONNECTION = "opsgate.prepared.connection"


def _connection(session: Session) -> Connection:
    """The session's connection for its current transaction, remembered for the transaction:
    an action runs several prepared statements, and `Session.connection()` costs as much as
    a small statement each time."""
    transaction = session.get_transaction()
    cached = session.info.get(_CONNECTION)
    if cached is not None and transaction is not None and cached[0] is transaction and transaction.is_active:
        return cached[1]  # type: ignore[no-any-return]
    connection = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), connection)
    return connection


def insert(table: Table, columns: Iterable[str]) -> Prepared:
    """A prepared INSERT of the named columns of a table (all of them but those the database fills)."""
    return Prepared(table.insert().inline().values({name: bindparam(name) for name in columns}))


def persistent(session: Session, cls: type[T], values: Mapping[str, Any]) -> T:
    """Return the session's object for a row read with a prepared SELECT (`values` by
    attribute name, every column of the mapped table): the one already in the session, or a
    new persistent object made from the row without another query (as SQLAlchemy documents
    for `make_transient_to_detached`). Relationships load lazily as usual."""
    mapper = inspect(cls)
    key = mapper.identity_key_from_primary_key([values[mapper.get_property_by_column(c).key]
                                                for c in mapper.primary_key])
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj  # type: ignore[no-any-return]
