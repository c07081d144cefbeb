"""The SpiffWorkflow instances this process saved last, kept to spare the next action on a case
the deserialization (engine.cases.persistence takes and puts them)."""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.processes import specs

# The projections of an instance as saved (each a function of its state): ready task ids, timer
# rows, awaited messages and signals, waiting external tasks (engine.cases.stepping.Instance).
Projections = tuple[frozenset[str], frozenset[tuple[str, str, dt.datetime]], frozenset[tuple[str, str, str]],
                    frozenset[tuple[str, str, str]]]
# (process version row, its parsed spec, state string, instance, its projections) as saved
_Entry = tuple[int, specs.Loaded, str, BpmnWorkflow, Projections]
Taken = tuple[specs.Loaded, BpmnWorkflow, Projections]


class InstanceCache:
    """The instances this process saved last, by database and case, so the next action on a
    case need not deserialize it (what Temporal calls a sticky workflow cache).

    An entry is used only when the case's stored state is, character for character, the
    state this process serialized it to, for the same process version row: then the instance
    in memory is the one that state describes, whichever transaction committed it, and the
    spec it was built with is that version's (no spec lookup on a hit). Taking an entry removes
    it, so an action that fails half way (its instance changed, its transaction rolled back)
    never leaves a stale instance behind; saving puts it back under its new state. A case acted
    on by another process, or rolled back, simply misses and is restored from the database.
    How many cases are kept is the caller's `limit` (EngineConfig.instance_cache; 0 turns the
    cache off)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: tuple[Any, int], definition_id: int, state: str, *, limit: int) -> Taken | None:
        if limit <= 0:
            return None
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None or entry[0] != definition_id or entry[2] != state:
            return None
        return entry[1], entry[3], entry[4]

    def put(self, key: tuple[Any, int], definition_id: int, loaded: specs.Loaded, state: str, workflow: BpmnWorkflow,
            projections: Projections, *, limit: int) -> None:
        if limit <= 0:
            return
        with self._lock:
            self._entries[key] = (definition_id, loaded, state, workflow, projections)
            self._entries.move_to_end(key)
            while len(self._entries) > limit:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


instances = InstanceCache()
