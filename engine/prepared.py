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
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    # (parameter key, DB-API name, bind processor or None, value), in the DB-API's order; the key
    # is None for the statement's own literals, whose value is then given, processed once
    binds: tuple[tuple[str | None, str, Callable[[Any], Any] | None, Any], ...]


class Prepared:
    """One INSERT, UPDATE or DELETE, compiled on first use for each dialect."""

    def __init__(self, statement: UpdateBase) -> None:
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

    def run(self, session: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
        """Execute with one parameter set (or many, as executemany) in the session's
        transaction; return the DB-API rowcount."""
        connection: Connection = session.connection()
        compiled = self._for(connection.dialect)
        rows: Sequence[Mapping[str, Any]] = [params] if isinstance(params, Mapping) else params
        if not rows:
            return 0
        values = [[value if key is None else row[key] if proc is None else proc(row[key])
                   for key, _name, proc, value in compiled.binds] for row in rows]
        if compiled.positional:
            args: list[Any] = [tuple(v) for v in values]
        else:
            names = [name for _key, name, _proc, _value in compiled.binds]
            args = [dict(zip(names, v, strict=True)) for v in values]
        # One row goes as execute, several as executemany.
        result = connection.exec_driver_sql(compiled.sql, args[0] if len(args) == 1 else args)
        return result.rowcount


def insert(table: Table, columns: Iterable[str]) -> Prepared:
    """A prepared INSERT of the named columns of a table (all of them but those the database fills)."""
    return Prepared(table.insert().inline().values({name: bindparam(name) for name in columns}))
