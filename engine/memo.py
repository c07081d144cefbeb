"""Process-wide memos of values that never change once written (a process version's number, a
user's name, the user a name names), so that the hot path answers without reading them again.

Keyed by the database engine and the row id (or another key that always names the same row).
Only values of rows that are never updated belong here: a deployed version is immutable, and a
user's name is never changed (there is no rename, and no user row is deleted: deactivating
keeps the name). Bounded; cleared when full.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values by (database, key), read once per process with `read(session, keys)`: one statement
    that returns the values of those of the keys that have one."""

    def __init__(self, read: Callable[[Session, list[K]], Mapping[K, V]], *, limit: int = 8192) -> None:
        self._read = read
        self._limit = limit
        self._values: dict[tuple[Hashable, K], V] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: K) -> V | None:
        """The key's value, or None if it has none (a key without one is read again next time)."""
        try:
            return self._values[(session.get_bind().engine, key)]
        except KeyError:
            return self.get_many(session, [key]).get(key)

    def get_many(self, session: Session, keys: Iterable[K]) -> dict[K, V]:
        """The values of those of the keys that have one; the keys not yet known in one read, none
        for keys all known."""
        engine = session.get_bind().engine
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in dict.fromkeys(keys):
            if (engine, key) in self._values:
                found[key] = self._values[(engine, key)]
            else:
                missing.append(key)
        if missing:
            read = self._read(session, missing)
            with self._lock:
                if len(self._values) + len(read) > self._limit:
                    self._values.clear()
                self._values.update(((engine, key), value) for key, value in read.items())
            found.update(read)
        return found

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


memos: list[Memo] = []


def memo(read: Callable[[Session, list[K]], Mapping[K, V]]) -> Memo[K, V]:
    """Make and register a memo (tests clear them all between databases)."""
    made: Memo[K, V] = Memo(read)
    memos.append(made)
    return made


def clear_all() -> None:
    """Forget every memo (a test that rebuilds its database reuses row ids)."""
    for each in memos:
        each.clear()
