"""Parsed specs of deployed versions, each parsed once per process and kept in a bounded cache:
what a running case needs.

The cache is keyed by content, not by row id: the database it came from, the version's sha256
(its BPMN and DMN files) and the versions of the processes it calls. Two databases in one
process (tests, the benchmark) or a row id handed out again after a rolled-back deploy can
therefore never be served another version's spec. The least recently used entries go first
once EngineConfig.spec_cache are kept.

Every parse puts opsgate's timer event definitions in place of SpiffWorkflow's (`build`,
engine.timing.definitions.adopt): the spec is never stored with a case, so a restored case
always runs on adopted timers.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy.orm import Session

from engine.config import settings
from engine.errors import NotFound, said
from engine.processes import bpmn_xml, external, scripting
from engine.processes.catalog import get_definition
from engine.processes.manifest import Manifest
from engine.timing import definitions
from models import ProcessDefinition


@dataclass(frozen=True)
class Loaded:
    """A deployed version, parsed: what a running case needs."""

    key: str
    spec: Any
    subprocess_specs: dict[str, Any]
    manifest: Manifest
    # Whether any of its processes has an external task (engine.processes.external): only then
    # does a save look for waiting jobs.
    external_tasks: bool = False


class Parser(SpiffBpmnParser):
    """SpiffWorkflow's parser, reading Camunda external service tasks as opsgate's ExternalTask."""

    OVERRIDE_PARSER_CLASSES = {**SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
                               full_tag("serviceTask"): (external.ExternalTaskParser, ServiceTask)}


def new_parser() -> SpiffBpmnParser:
    return Parser(validator=VALIDATOR)


def build(parser: SpiffBpmnParser, key: str) -> tuple[Any, dict[str, Any]]:
    """Return a process's spec and subprocess specs from a parser, with opsgate's timer definitions."""
    if key in parser.collaborations:  # a collaboration runs as one case (engine.processes.collaborations)
        spec, subprocess_specs = parser.get_collaboration(key)
    else:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    definitions.adopt([spec, *subprocess_specs.values()])
    bound_inputs([spec, *subprocess_specs.values()])
    return spec, subprocess_specs


def bound_inputs(process_specs: list[Any]) -> None:
    """Put the size check in front of every multi-instance input collection of freshly built
    specs (BoundedInput), so a collection larger than the limit fails the task, not the server."""
    for each in process_specs:
        for ts in each.task_specs.values():
            if isinstance(ts, MultiInstanceTask) and ts.data_input is not None \
                    and not isinstance(ts.data_input, BoundedInput):
                ts.data_input = BoundedInput(ts.data_input, getattr(ts, "bpmn_id", None))


class BoundedInput:
    """A multi-instance input collection, read through a check of its size (at most
    Limits.max_instances items, else the task fails before any instance is made)."""

    def __init__(self, reference: Any, element: str | None):
        self.reference = reference
        self.element = element

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reference, name)

    def get(self, my_task: Any) -> Any:
        value = self.reference.get(my_task)
        try:
            size = len(value)
        except TypeError:
            return value
        try:
            scripting.check_instances(size, f"the input collection {self.reference.bpmn_id!r} has {size} items; it")
        except scripting.ScriptError as err:
            raise WorkflowDataException(str(err), my_task) from None
        return value


def add_bpmn(parser: SpiffBpmnParser, tree: etree._ElementTree, filename: str) -> None:
    tree = copy.deepcopy(tree)  # the parser keeps and edits it; deepcopy keeps source lines
    bpmn_xml.preprocess(tree)
    parser.add_bpmn_xml(tree, filename)


class SpecCache:
    """Parsed versions by content key, least recently used first out; how many are kept is the
    caller's `limit` (EngineConfig.spec_cache)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Loaded | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: Hashable, loaded: Loaded, *, limit: int) -> None:
        if limit <= 0:
            return
        with self._lock:
            self._entries[key] = loaded
            self._entries.move_to_end(key)
            while len(self._entries) > limit:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = SpecCache()
_parse_lock = threading.Lock()


def content_key(session: Session, definition: ProcessDefinition) -> Hashable:
    """What identifies a parsed version: its database, its sources' sha256 and what it calls."""
    database = session.get_bind().engine.url.render_as_string(hide_password=True)
    return database, definition.sha256, tuple(sorted((definition.dependencies or {}).items()))


def load_by_id(session: Session, definition_id: int) -> Loaded:
    """Return the parsed spec of a deployed version by its row id.

    A version's row never changes, so once this process has parsed it, the row is not read
    again: the id leads to the content key (a memo), the key to the parsed spec. This is what
    keeps a miss of the instance cache cheap in a server of several processes (the case was
    saved by another one): restoring costs the deserialization, not a statement."""
    key = _content_keys.get((session.get_bind().engine, definition_id))
    if key is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    definition = session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(said("no process definition #%(definition)s", definition=definition_id))
    return load(session, definition)


# Content keys of versions by (database, row id): immutable rows, so never stale (tests that
# rebuild a database reuse ids and clear this with `forget_ids`).
_content_keys: dict[tuple[Hashable, int], Hashable] = {}
_CONTENT_KEYS_KEPT = 4096


def forget_ids() -> None:
    """Forget which row id holds which content (a rebuilt database reuses ids)."""
    with _parse_lock:
        _content_keys.clear()


def load(session: Session, definition: ProcessDefinition) -> Loaded:
    """Return the parsed spec of a deployed version, parsing it once per process."""
    key = content_key(session, definition)
    by_id = (session.get_bind().engine, definition.id)
    if definition.id is not None and _content_keys.get(by_id) != key:  # (a version being deployed has no id yet)
        with _parse_lock:
            if len(_content_keys) >= _CONTENT_KEYS_KEPT:
                _content_keys.clear()
            _content_keys[by_id] = key
    hit = cache.get(key)
    if hit is not None:
        return hit
    with _parse_lock:
        hit = cache.get(key)
        if hit is not None:
            return hit
        loaded = _parse(session, definition)
        cache.put(key, loaded, limit=settings(session).spec_cache)
        return loaded


def _parse(session: Session, definition: ProcessDefinition) -> Loaded:
    parser = new_parser()
    added: set[str] = set()  # sources already read: processes of one file that call each other come once
    for each in [definition, *(get_definition(session, k, v) for k, v in (definition.dependencies or {}).items())]:
        for extra in each.extra_files or []:
            if extra["source"] not in added:
                added.add(extra["source"])
                parser.add_dmn_xml(bpmn_xml.parse_xml(extra["source"].encode()).getroot(), extra["filename"])
        if each.bpmn not in added:
            added.add(each.bpmn)
            add_bpmn(parser, bpmn_xml.parse_xml(each.bpmn.encode()), each.filename)
    spec, subprocess_specs = build(parser, definition.key)
    has_external = any(isinstance(ts, external.ExternalTask) for each in [spec, *subprocess_specs.values()]
                       for ts in each.task_specs.values())
    return Loaded(definition.key, spec, subprocess_specs, manifest_of(definition), has_external)


_manifests: OrderedDict[str, Manifest] = OrderedDict()
_MANIFESTS_KEPT = 512  # small objects, read by pages for every version they show
_manifest_lock = threading.Lock()


def manifest_of(definition: ProcessDefinition) -> Manifest:
    """Return a version's manifest, read from its row once per content (its sha256; bounded)."""
    key = definition.sha256
    with _manifest_lock:
        hit = _manifests.get(key)
        if hit is not None:
            _manifests.move_to_end(key)
            return hit
    manifest = Manifest.from_dict(definition.manifest)
    with _manifest_lock:
        _manifests[key] = manifest
        while len(_manifests) > _MANIFESTS_KEPT:
            _manifests.popitem(last=False)
    return manifest
