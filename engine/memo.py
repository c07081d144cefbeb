"""Process-wide memos of values that never change once written (a process version's number, a
user's name, the user a name names), so that the hot path answers without reading them again.

Keyed by the database engine and the row id (or another key that always names the same row).
Only values of rows that are never updated belong here: a deployed version is immutable, and a
user's name is never changed (there is no rename, and no user row is deleted: deactivating
keeps the name). Bounded; cleared when full.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values by (database, key), read once per process with `read(session, key)`."""

    def __init__(self, read: Callable[[Session, K], V], *, limit: int = 8192) -> None:
        self._read = read
        self._limit = limit
        self._values: dict[tuple[Hashable, K], V] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: K) -> V:
        try:
            return self._values[(session.get_bind().engine, key)]
        except KeyError:
            pass
        value = self._read(session, key)
        self.remember(session, key, value)
        return value

    def known(self, session: Session, key: K) -> V | None:
        """The value if this process has it, else None (nothing is read)."""
        return self._values.get((session.get_bind().engine, key))

    def remember(self, session: Session, key: K, value: V) -> None:
        """Keep a value read by other means (a batch read of many keys)."""
        with self._lock:
            if len(self._values) >= self._limit:
                self._values.clear()
            self._values[(session.get_bind().engine, key)] = value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


memos: list[Memo] = []


def memo(read: Callable[[Session, K], V]) -> Memo[K, V]:
    """Make and register a memo (tests clear them all between databases)."""
    made: Memo[K, V] = Memo(read)
    memos.append(made)
    return made


def clear_all() -> None:
    """Forget every memo (a test that rebuilds its database reuses row ids)."""
    for each in memos:
        each.clear()
