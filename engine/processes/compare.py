"""A readable comparison of two BPMN versions: elements added, removed and changed.

Elements are matched by id (bpmn-js and Camunda Modeler keep ids stable across edits).
For each element we compare what a process owner reads and changes: type, name, lane or
candidate groups, form fields, timer and condition expressions, scripts, properties and
the flow's source and target. Diagram layout (DI) is ignored: moving a box is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_SKIP = {"definitions", "extensionElements", "incoming", "outgoing", "laneSet", "documentation",
         "flowNodeRef", "conditionExpression", "timeDuration", "timeDate", "timeCycle", "script"}


@dataclass(frozen=True)
class ElementChange:
    """One element's difference between the two versions."""

    element_id: str
    kind: str                     # BPMN tag without namespace, e.g. "userTask"
    name: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)   # (what, before, after)


@dataclass(frozen=True)
class VersionDiff:
    """What changed from one BPMN version to another."""

    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]

    @property
    def empty(self) -> bool:
        """Tell whether the versions are the same for a reader."""
        return not (self.added or self.removed or self.changed)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(element: etree._Element | None) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def _lanes(root: etree._Element) -> dict[str, str]:
    """Map each flow node id to the name of the lane holding it."""
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):
        for ref in lane.findall(f"{{{BPMN}}}flowNodeRef"):
            lanes[_text(ref)] = lane.get("name") or lane.get("id") or ""
    return lanes


def _form_fields(element: etree._Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    for form_field in element.iter(f"{{{CAMUNDA}}}formField"):
        values = [v.get("id", "") for v in form_field.iter(f"{{{CAMUNDA}}}value")]
        required = any(c.get("name") == "required" for c in form_field.iter(f"{{{CAMUNDA}}}constraint"))
        desc = f"{form_field.get('label') or ''} ({form_field.get('type') or 'string'}"
        desc += (", required" if required else "") + (f": {', '.join(values)}" if values else "") + ")"
        fields[form_field.get("id", "?")] = desc
    return fields


def _properties(element: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    ext = element.find(f"{{{BPMN}}}extensionElements")
    if ext is not None:
        for holder in ext.findall(f"{{{CAMUNDA}}}properties"):
            for prop in holder.findall(f"{{{CAMUNDA}}}property"):
                props[prop.get("name", "?")] = prop.get("value", "")
    return props


def _describe(element: etree._Element, lanes: dict[str, str]) -> dict[str, str]:
    """Flatten what a reader cares about in one element into comparable strings."""
    facts: dict[str, str] = {"name": element.get("name") or ""}
    for attr in ("sourceRef", "targetRef", "attachedToRef", "calledElement", "default",
                 "cancelActivity", "isExecutable"):
        if element.get(attr) is not None:
            facts[attr] = element.get(attr) or ""
    groups = element.get(f"{{{CAMUNDA}}}candidateGroups")
    if groups is not None:
        facts["candidate groups"] = groups
    if element.get("id") in lanes:
        facts["lane"] = lanes[element.get("id") or ""]
    for tag in ("conditionExpression", "script"):
        child = element.find(f"{{{BPMN}}}{tag}")
        if child is not None:
            facts[tag.replace("Expression", "")] = _text(child)
    for definition in element:
        if _local(definition.tag).endswith("EventDefinition"):
            facts["event"] = _local(definition.tag).removesuffix("EventDefinition")
            for timer in ("timeDuration", "timeDate", "timeCycle"):
                found = definition.find(f"{{{BPMN}}}{timer}")
                if found is not None:
                    facts["timer"] = f"{timer} {_text(found)}"
    for name, desc in _form_fields(element).items():
        facts[f"form field {name}"] = desc
    for name, value in _properties(element).items():
        facts[f"property {name}"] = value
    return facts


def _elements(xml: bytes) -> dict[str, tuple[str, dict[str, str]]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(xml, parser)
    lanes = _lanes(root)
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for process_part in root.iter():
        if not isinstance(process_part.tag, str) or etree.QName(process_part).namespace != BPMN:
            continue
        kind = _local(process_part.tag)
        element_id = process_part.get("id")
        if element_id is None or kind in _SKIP or kind.endswith("EventDefinition"):
            continue
        found[element_id] = (kind, _describe(process_part, lanes))
    return found


def compare_bpmn(old_xml: bytes, new_xml: bytes) -> VersionDiff:
    """Compare two BPMN documents element by element."""
    old, new = _elements(old_xml), _elements(new_xml)
    added = [ElementChange(i, new[i][0], new[i][1].get("name", "")) for i in new if i not in old]
    removed = [ElementChange(i, old[i][0], old[i][1].get("name", "")) for i in old if i not in new]
    changed: list[ElementChange] = []
    for element_id in old.keys() & new.keys():
        (old_kind, before), (new_kind, after) = old[element_id], new[element_id]
        rows = [("type", old_kind, new_kind)] if old_kind != new_kind else []
        for key in sorted(before.keys() | after.keys()):
            if before.get(key, "") != after.get(key, ""):
                rows.append((key, before.get(key, ""), after.get(key, "")))
        if rows:
            changed.append(ElementChange(element_id, new_kind, after.get("name", ""), rows))
    order = list(new) + [i for i in old if i not in new]
    changed.sort(key=lambda c: order.index(c.element_id))
    return VersionDiff(added=added, removed=removed, changed=changed)


@dataclass(frozen=True)
class RuleChange:
    """A decision table row added or removed: `when` the inputs, `then` the outputs, as written."""

    file: str
    change: str  # added | removed
    when: str
    then: str


def _rules(xml: str) -> list[tuple[str, str]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(xml.encode(), parser)
    table = next((e for e in root.iter() if _local(e.tag) == "decisionTable"), None)
    if table is None:
        return []
    labels_in = [i.get("label") or i.get("id") or "" for i in table if _local(i.tag) == "input"]
    labels_out = [o.get("name") or o.get("label") or "" for o in table if _local(o.tag) == "output"]
    rows = []
    for rule in (r for r in table if _local(r.tag) == "rule"):
        ins = [" ".join("".join(e.itertext()).split()) for e in rule if _local(e.tag) == "inputEntry"]
        outs = [" ".join("".join(e.itertext()).split()) for e in rule if _local(e.tag) == "outputEntry"]
        rows.append((", ".join(f"{label} = {v or '-'}" for label, v in zip(labels_in, ins, strict=False)),
                     ", ".join(f"{label} = {v}" for label, v in zip(labels_out, outs, strict=False))))
    return rows


def compare_dmn(old_files: list[dict[str, str]], new_files: list[dict[str, str]]) -> list[RuleChange]:
    """Compare the decision tables (DMN rows) of two versions, file by file: rows added and removed
    (a changed row is one removed and one added)."""
    old = {str(f["filename"]): _rules(str(f["source"])) for f in old_files or []}
    new = {str(f["filename"]): _rules(str(f["source"])) for f in new_files or []}
    changes: list[RuleChange] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name, []), new.get(name, [])
        changes += [RuleChange(name, "removed", w, t) for w, t in before if (w, t) not in after]
        changes += [RuleChange(name, "added", w, t) for w, t in after if (w, t) not in before]
    return changes
