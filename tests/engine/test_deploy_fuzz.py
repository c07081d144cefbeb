"""Deploy fuzz: a few hundred mutations of the shipped BPMN files, each deployed or refused cleanly.

Elements are dropped, duplicated or renamed, flows cut, files truncated or re-encoded, tags
swapped for elements the engine does not run. Whatever comes in, deploy answers with a version or
with InvalidDefinition whose every detail names a file and says something; never another
exception, never SpiffWorkflow's traceback text. Seeded, and bounded in count and time.
"""
from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from engine.errors import InvalidDefinition
from engine.processes import deployment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "workflows").glob("*.bpmn"))
DMN = (ROOT / "workflows" / "incident_priority.dmn").read_bytes()
SEED = 20261129
MUTATIONS = 300
TIME_BUDGET = 240.0  # seconds; the test stops mutating (and says how far it got) past this

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
UNSUPPORTED = ["complexGateway", "transaction", "adHocSubProcess", "task", "sendTask", "dataStoreReference",
               "intermediateThrowEvent"]


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(f"{{{BPMN_NS}}}")
            and e is not root]


def _drop(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    victim = rng.choice(_elements(root))
    victim.getparent().remove(victim)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _duplicate(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    victim = rng.choice([e for e in _elements(root) if e.get("id")])
    victim.addnext(etree.fromstring(etree.tostring(victim)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _rename(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    victim = rng.choice([e for e in _elements(root) if e.get("id")])
    victim.set("id", rng.choice(["renamed", victim.get("id") + "_x", "a b", "1bad", "x" * 300]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _cut_flow(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    flows = root.findall(f".//{{{BPMN_NS}}}sequenceFlow")
    flow = rng.choice(flows)
    choice = rng.randrange(3)
    if choice == 0:
        flow.getparent().remove(flow)
    elif choice == 1:
        flow.set(rng.choice(["sourceRef", "targetRef"]), "nowhere")
    else:
        del flow.attrib[rng.choice(["sourceRef", "targetRef"])]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _truncate(rng: random.Random, source: bytes) -> bytes:
    return source[: rng.randrange(0, len(source))]


def _reencode(rng: random.Random, source: bytes) -> bytes:
    text = source.decode()
    encoding = rng.choice(["UTF-16", "UTF-16-LE", "latin-1", "cp1252", "gb18030", "shift_jis", "bogus"])
    declared = rng.choice([encoding, "UTF-8", "ISO-8859-1"])
    text = re.sub(r'encoding="[^"]*"', f'encoding="{declared}"', text, count=1)
    codec = "latin-1" if encoding == "bogus" else encoding
    return text.encode(codec, errors="replace")


def _swap_tag(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    nodes = [e for e in _elements(root) if etree.QName(e).localname.endswith(("Task", "Gateway", "Event"))]
    victim = rng.choice(nodes)
    victim.tag = f"{{{BPMN_NS}}}{rng.choice(UNSUPPORTED)}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _garble_text(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    texts = [e for e in _elements(root) if (e.text or "").strip()]
    victim = rng.choice(texts)
    victim.text = rng.choice(["", "(", "sum(range(10**12))", "__import__('os')", "'a' * 10**9", "x" * 5000,
                              "PT", "R/", "\u202e\u0000", "lambda: 1", "10**10**10", "[i for i in x]"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _self_call(rng: random.Random, source: bytes) -> bytes:
    root = etree.fromstring(source)
    process = root.find(f".//{{{BPMN_NS}}}process")
    tasks = [e for e in process if isinstance(e.tag, str) and etree.QName(e).localname.endswith("Task")]
    victim = rng.choice(tasks)
    victim.tag = f"{{{BPMN_NS}}}callActivity"
    victim.set("calledElement", process.get("id"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    _drop, _duplicate, _rename, _cut_flow, _truncate, _reencode, _swap_tag, _garble_text, _self_call]


def test_mutated_shipped_files_deploy_or_are_refused_cleanly(session):
    rng = random.Random(SEED)
    started = time.monotonic()
    outcomes = {"deployed": 0, "refused": 0}
    done = 0
    for done in range(1, MUTATIONS + 1):
        if time.monotonic() - started > TIME_BUDGET:
            break
        path = rng.choice(SHIPPED)
        mutator = rng.choice(MUTATORS)
        try:
            mutated = mutator(rng, path.read_bytes())
        except (IndexError, ValueError, KeyError):
            continue  # nothing of that kind in this file
        files = [(path.name, mutated)] + ([("incident_priority.dmn", DMN)] if path.stem == "incident" else [])
        label = f"#{done} {mutator.__name__} on {path.name}"
        savepoint = session.begin_nested()
        try:
            deployment.deploy(session, files, actor=None)
            outcomes["deployed"] += 1
        except InvalidDefinition as err:
            outcomes["refused"] += 1
            assert err.details, label
            for detail in err.details:
                assert detail["file"] and detail["message"].strip(), (label, detail)
                assert "Traceback" not in detail["message"] and "object at 0x" not in detail["message"], (label, detail)
        except Exception as err:  # pragma: no cover - what the test exists to catch
            pytest.fail(f"{label}: {type(err).__name__}: {err}")
        finally:
            savepoint.rollback()
    assert done >= 100, f"only {done} mutations ran within {TIME_BUDGET:g} s"
    assert outcomes["refused"] > 0 and outcomes["deployed"] > 0, outcomes
