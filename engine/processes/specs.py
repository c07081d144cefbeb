"""Parsed specs of deployed versions, each parsed once per process and cached: what a running case needs."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.processes import bpmn_xml
from engine.processes.catalog import get_definition
from models import ProcessDefinition


@dataclass
class Loaded:
    """A deployed version, parsed: what a running case needs."""

    definition_id: int
    key: str
    version: int
    spec: Any
    subprocess_specs: dict[str, Any]
    manifest: dict[str, Any]


def new_parser() -> SpiffBpmnParser:
    return SpiffBpmnParser(validator=VALIDATOR)


def add_bpmn(parser: SpiffBpmnParser, tree: etree._ElementTree, filename: str) -> None:
    tree = copy.deepcopy(tree)  # the parser keeps and edits it; deepcopy keeps source lines
    bpmn_xml.preprocess(tree)
    parser.add_bpmn_xml(tree, filename)


_cache: dict[int, Loaded] = {}


_cache_lock = threading.Lock()


def load_by_id(session: Session, definition_id: int) -> Loaded:
    """Return the parsed spec of a deployed version by its row id (cached)."""
    hit = _cache.get(definition_id)
    if hit is not None:
        return hit
    definition = session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(f"no process definition #{definition_id}")
    return load(session, definition)


def load(session: Session, definition: ProcessDefinition) -> Loaded:
    """Return the parsed spec of a deployed version, parsing it once per process."""
    hit = _cache.get(definition.id)
    if hit is not None:
        return hit
    with _cache_lock:
        hit = _cache.get(definition.id)
        if hit is not None:
            return hit
        parser = new_parser()
        for extra in definition.extra_files or []:
            parser.add_dmn_xml(bpmn_xml.parse_xml(extra["source"].encode()).getroot(), extra["filename"])
        add_bpmn(parser, bpmn_xml.parse_xml(definition.bpmn.encode()), definition.filename)
        for key, version in (definition.dependencies or {}).items():
            dep = get_definition(session, key, version)
            for extra in dep.extra_files or []:
                parser.add_dmn_xml(bpmn_xml.parse_xml(extra["source"].encode()).getroot(), extra["filename"])
            add_bpmn(parser, bpmn_xml.parse_xml(dep.bpmn.encode()), dep.filename)
        loaded = Loaded(definition.id, definition.key, definition.version, parser.get_spec(definition.key),
                        parser.get_subprocess_specs(definition.key), definition.manifest)
        _cache[definition.id] = loaded
        return loaded
