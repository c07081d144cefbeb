"""The SpiffWorkflow instances this process saved last, kept to spare the next action on a case
the deserialization (engine.cases.runtime takes and puts them)."""
from __future__ import annotations

import datetime as dt
import os
import threading
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.processes import specs

# (process version, state string, instance, ready task ids, timer rows) as saved
_Entry = tuple[specs.Loaded, str, BpmnWorkflow, frozenset[str], frozenset[tuple[str, str, dt.datetime]]]


class InstanceCache:
    """The instances this process saved last, by database and case, so the next action on a
    case need not deserialize it (what Temporal calls a sticky workflow cache).

    An entry is used only when the case's stored state is, character for character, the
    state this process serialized it to, for the same cached process version: then the
    instance in memory is the one that state describes, whichever transaction committed it.
    Taking an entry removes it, so an action that fails half way (its instance changed, its
    transaction rolled back) never leaves a stale instance behind; saving puts it back under
    its new state. A case acted on by another process, or rolled back, simply misses and is
    restored from the database. `OPSGATE_INSTANCE_CACHE` sets how many cases are kept
    (default 256; 0 turns the cache off)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: tuple[Any, int], loaded: specs.Loaded,
             state: str) -> tuple[BpmnWorkflow, frozenset[str], frozenset[Any]] | None:
        if self.size <= 0:
            return None
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None or entry[0] is not loaded or entry[1] != state:
            return None
        return entry[2], entry[3], entry[4]

    def put(self, key: tuple[Any, int], loaded: specs.Loaded, state: str, workflow: BpmnWorkflow,
            ready: frozenset[str], timers: frozenset[tuple[str, str, dt.datetime]]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = (loaded, state, workflow, ready, timers)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


instances = InstanceCache(int(os.environ.get("OPSGATE_INSTANCE_CACHE", "256") or 0))
