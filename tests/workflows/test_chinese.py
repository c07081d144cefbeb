"""Everything a person reads has Simplified Chinese: the web UI's catalogue and every name in
the shipped BPMN (`name_zh`, `label_zh`, `choice_zh:VALUE`, `outcome_name_zh`). A text is
Simplified when OpenCC's Traditional-to-Simplified conversion leaves it as it is."""
from __future__ import annotations

import re
from pathlib import Path

import opencc
import pytest
from babel.messages.pofile import read_po
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "webui" / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
TEMPLATE = ROOT / "webui" / "translations" / "messages.pot"
WORKFLOWS = sorted((ROOT / "workflows").glob("*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}
HAN = re.compile(r"[\u4e00-\u9fff]")
T2S = opencc.OpenCC("t2s")


def simplified(text: str) -> bool:
    return T2S.convert(text) == text


def test_the_check_knows_traditional_characters():
    assert not simplified("報障人(用戶名)") and simplified("报障人(用户名)")


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_every_message_has_a_simplified_chinese_translation():
    with CATALOGUE.open("rb") as po, TEMPLATE.open("rb") as pot:
        catalogue, template = read_po(po), read_po(pot)
    missing = [m.id for m in template if m.id and m.id not in catalogue]
    assert not missing, f"run pybabel update: {missing}"
    untranslated = [m.id for m in catalogue if m.id and (m.fuzzy or not all(_strings(m)))]
    assert not untranslated, untranslated
    traditional = [s for m in catalogue if m.id for s in _strings(m) if not simplified(s)]
    assert not traditional, traditional


def _props(element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in
            element.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_name_in_the_shipped_bpmn_has_simplified_chinese(path):
    root = etree.parse(str(path)).getroot()
    problems = []
    for element in root.iter(f"{{{NS['bpmn']}}}*"):
        if (element.get("name") or "").strip() and not _props(element).get("name_zh"):
            problems.append(f"{element.get('id')} {element.get('name')!r} has no name_zh")
        props = _props(element)
        if props.get("outcome") and not (props.get("outcome_name") and props.get("outcome_name_zh")):
            problems.append(f"{element.get('id')}: outcome {props['outcome']!r} has no outcome_name / outcome_name_zh")
    for field in root.iter(f"{{{NS['camunda']}}}formField"):
        props = {p.get("name") or p.get("id"): p.get("value") for p in field.xpath("./camunda:properties/camunda:property", namespaces=NS)}
        if not props.get("label_zh"):
            problems.append(f"field {field.get('id')} has no label_zh")
        for value in field.xpath("./camunda:value", namespaces=NS):
            if not props.get(f"choice_zh:{value.get('id')}"):
                problems.append(f"field {field.get('id')}: choice {value.get('id')!r} has no choice_zh:{value.get('id')}")
    for prop in root.iter(f"{{{NS['camunda']}}}property"):
        name, value = prop.get("name") or prop.get("id") or "", prop.get("value") or ""
        if name.endswith("_zh") or name.startswith("choice_zh:"):
            if not HAN.search(value):
                problems.append(f"{name} {value!r} has no Chinese in it")
            elif not simplified(value):
                problems.append(f"{name} {value!r} has Traditional characters: {T2S.convert(value)!r}")
    assert not problems, "\n".join(problems)
