"""Process-wide memos of values that never change once written (a process version's number, a
user's name), so that the hot path answers without reading them again.

Keyed by the database engine and the row id. Only values of rows that are never updated belong
here: a deployed version is immutable, and a user's name is never changed (there is no rename;
deactivating keeps the name). Bounded; cleared when full.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

V = TypeVar("V")


class Memo(Generic[V]):
    """Values by (database, id), read once per process with `read(session, id)`."""

    def __init__(self, read: Callable[[Session, int], V], *, limit: int = 8192) -> None:
        self._read = read
        self._limit = limit
        self._values: dict[tuple[Hashable, int], V] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, row_id: int) -> V:
        key = (session.get_bind().engine, row_id)
        try:
            return self._values[key]
        except KeyError:
            pass
        value = self._read(session, row_id)
        with self._lock:
            if len(self._values) >= self._limit:
                self._values.clear()
            self._values[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


memos: list[Memo] = []


def memo(read: Callable[[Session, int], V]) -> Memo[V]:
    """Make and register a memo (tests clear them all between databases)."""
    made: Memo[V] = Memo(read)
    memos.append(made)
    return made


def clear_all() -> None:
    """Forget every memo (a test that rebuilds its database reuses row ids)."""
    for each in memos:
        each.clear()
