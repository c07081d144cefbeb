"""Rows read with Core made into the session's ORM objects, as a query would make them.

A query for a few entities (`select(HumanTask, Case)`; an API token with its user and their
groups) builds the ORM's loading machinery afresh on every execution (a row processor per column
and per relationship of each class); the reads every request starts with (engine.cases.action_read,
engine.people.tokens.authenticate) read their rows with Core and make the same objects here, with
SQLAlchemy's public API (docs/performance.md, issue #14).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

T = TypeVar("T")


def column_keys(cls: type) -> tuple[str, ...]:
    """The attribute of each column of a mapped class's table, in the table's column order (the
    order a SELECT of the table returns them)."""
    table = cast(Table, cls.__table__)  # type: ignore[attr-defined]
    mapper: Mapper[Any] = inspect(cls)
    return tuple(mapper.get_property_by_column(c).key for c in table.c)


def held(session: Session, cls: type[T], keys: Sequence[str], values: Sequence[Any]) -> T:
    """The session's object for a row read with Core, as a query returns it.

    The object the session already holds for that row stays as it is, as a query leaves it
    (only what it has not loaded, an expired attribute, is filled in from the row); otherwise a
    new one is made of the row, clean and persistent: `make_transient_to_detached` takes its
    values as loaded, with no history, and the session adds it to its identity map."""
    found = session.identity_map.get(identity_key(cls, values[keys.index("id")]))
    if found is not None:
        unloaded = inspect(found).unloaded
        for key, value in zip(keys, values, strict=True):
            if key in unloaded:
                set_committed_value(found, key, value)
        return found
    made = cls()
    inspect(made).dict.update(zip(keys, values, strict=True))
    make_transient_to_detached(made)
    session.add(made)
    return made
