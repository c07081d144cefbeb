"""Reading BPMN/DMN XML safely, the dialect preprocessing, and the opsgate manifest.

Everything here works on lxml trees; nothing touches the database. See docs/bpmn.md for the
dialect: forms in camunda:formData, candidate groups from lanes or camunda:candidateGroups,
camunda:properties for case prefix, required records, separation of duties and outcomes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.errors import said
from engine.processes import forms, votes
from engine.processes.manifest import EndRules, ProcessInfo, TaskRules
from engine.timing import definitions

MAX_FILE_BYTES = 2 * 1024 * 1024

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}

_ISO_DURATION = re.compile(r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$")  # noqa: E501 - a literal kept on one line
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_CYCLE = re.compile(r"^R\d*/[^/\s]+(/[^/\s]+)?$")
# Something that looks like an attempt at a bare ISO value rather than an expression.
_ISO_ATTEMPT = re.compile(r"^(R\d*/|P\d|P[T]|\d{4}-\d{2})")


class XmlProblem(Exception):
    """A file that cannot be read at all; carries the line where known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def parse_xml(source: bytes) -> etree._ElementTree:
    """Parse untrusted XML: no DTDs, no entities, no network, bounded size."""
    if len(source) > MAX_FILE_BYTES:
        raise XmlProblem(said("file is %(size)s bytes; the limit is %(limit)s bytes", size=len(source),
                              limit=MAX_FILE_BYTES))
    if b"<!DOCTYPE" in source or b"<!ENTITY" in source:
        raise XmlProblem(said("DOCTYPE and ENTITY declarations are not allowed in BPMN/DMN files"),
                         source[: source.find(b"<!")].count(b"\n") + 1)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=False)
    try:
        tree = etree.ElementTree(etree.fromstring(source, parser))
    except etree.XMLSyntaxError as err:
        if "encoding" in (err.msg or "").lower():
            raise XmlProblem(said("cannot read the file's characters (%(error)s): save it as UTF-8", error=err.msg),
                             err.lineno) from None
        raise XmlProblem(said("not well-formed XML: %(error)s", error=err.msg), err.lineno) from None
    except (ValueError, LookupError, MemoryError, RecursionError) as err:
        raise XmlProblem(said("cannot read the file (%(error)s): save it as UTF-8 XML", error=type(err).__name__)) from None
    if tree.docinfo.doctype:  # a DOCTYPE in an encoding the byte check above cannot see
        raise XmlProblem(said("DOCTYPE and ENTITY declarations are not allowed in BPMN/DMN files"), 1)
    return tree


_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")
_UTF8_NAMES = {"UTF-8", "UTF8", "ASCII", "US-ASCII"}


def as_utf8(source: bytes, tree: etree._ElementTree) -> bytes:
    """Return a parsed file's source as UTF-8 text, whatever encoding it declared (UTF-16,
    Latin-1 ...), with its XML declaration saying so: opsgate stores and serves UTF-8 only."""
    encoding = (tree.docinfo.encoding or "UTF-8").upper()
    if encoding in _UTF8_NAMES:
        return source[3:] if source.startswith(b"\xef\xbb\xbf") else source
    try:
        text = source.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        raise XmlProblem(said("the file declares the encoding %(encoding)s, which opsgate cannot read: save it as "
                              "UTF-8", encoding=encoding), 1) from None
    text = _DECLARED_ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}UTF-8{m.group(2)}", text.lstrip("\ufeff"),
                                  count=1)
    return text.encode("utf-8")


def kind_of(tree: etree._ElementTree) -> str:
    """Say whether a parsed file is "bpmn" or "dmn" (or raise XmlProblem)."""
    root = tree.getroot()
    ns = etree.QName(root).namespace
    if ns == BPMN_NS and etree.QName(root).localname == "definitions":
        return "bpmn"
    if ns in DMN_NAMESPACES:
        return "dmn"
    raise XmlProblem(said("root element %(tag)s is neither BPMN 2.0 nor DMN definitions", tag=root.tag), root.sourceline)


def timer_literal(text: str) -> str | None:
    """If `text` is a bare ISO 8601 timer value, return it; else None (it is an expression)."""
    value = (text or "").strip()
    if _ISO_DURATION.match(definitions.lenient_duration(value)) or _ISO_DATETIME.match(value) or _ISO_CYCLE.match(value):
        return value
    return None


def looks_like_iso(text: str) -> bool:
    """Say whether a non-expression timer text was meant as an ISO value."""
    return bool(_ISO_ATTEMPT.match((text or "").strip()))


_JUEL = re.compile(r"^\s*\$\{(.*)\}\s*$", re.S)


def translate_condition(text: str) -> str:
    """Turn a simple Camunda JUEL condition ${...} into the Python expression it means."""
    match = _JUEL.match(text or "")
    if not match:
        return (text or "").strip()
    expr = match.group(1)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    expr = re.sub(r"\beq\b", "==", expr)
    expr = re.sub(r"\bne\b", "!=", expr)
    expr = re.sub(r"\bnull\b", "None", expr)
    expr = re.sub(r"\btrue\b", "True", expr)
    expr = re.sub(r"\bfalse\b", "False", expr)
    return " ".join(expr.split())


def preprocess(tree: etree._ElementTree) -> None:
    """Rewrite what modelers write into what SpiffWorkflow runs: quote bare ISO timer values,
    translate JUEL conditions. Applied on every parse; the stored source stays as written."""
    root = tree.getroot()
    # Vote tasks become multi-instance tasks (engine.processes.votes); before the timer values
    # below, so that a bare vote deadline is quoted like any other.
    votes.expand(tree, votes.vote_tasks_of(tree, _props))
    # Form fields and enum values carry ids of their own ("approve") that SpiffWorkflow's
    # id look-ups would confuse with flow nodes; the engine reads forms from the original.
    for node in list(root.iter(f"{{{CAMUNDA_NS}}}formData")):
        node.getparent().remove(node)
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            literal = timer_literal(node.text or "")
            if literal is not None:
                node.text = repr(literal)
    for node in root.iter(f"{{{BPMN_NS}}}conditionExpression"):
        if node.text and _JUEL.match(node.text):
            node.text = translate_condition(node.text)
    _camunda_dialect(root)


def _camunda_dialect(root: etree._Element) -> None:
    """What other modelers write, as SpiffWorkflow runs it (docs/bpmn.md, "BPMN from other tools").

    * a plain `bpmn:task` passes through, as in Camunda: it becomes a script task doing nothing;
    * data stores are documentation: the `bpmn:dataStore` definitions go, so SpiffWorkflow's
      "has no implementation" never fires and references to them are left alone;
    * `camunda:decisionRef` on a business rule task is SpiffWorkflow's `calledDecisionId`.
    """
    for node in list(root.iter(f"{{{BPMN_NS}}}task")):
        node.tag = f"{{{BPMN_NS}}}scriptTask"
        script = etree.SubElement(node, f"{{{BPMN_NS}}}script")
        script.text = "pass"
    stores = {n.get("id") for n in root.iter(f"{{{BPMN_NS}}}dataStoreReference")}
    for tag in ("dataStore", "dataStoreReference"):
        for node in list(root.iter(f"{{{BPMN_NS}}}{tag}")):
            node.getparent().remove(node)
    for tag in ("dataInputAssociation", "dataOutputAssociation"):
        for node in list(root.iter(f"{{{BPMN_NS}}}{tag}")):
            refs = {(r.text or "").strip() for r in node if etree.QName(r).localname in ("sourceRef", "targetRef")}
            if refs & stores:
                node.getparent().remove(node)
    for node in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        ref = (node.get(f"{{{CAMUNDA_NS}}}decisionRef") or "").strip()
        if not ref or node.xpath("./bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NS):
            continue
        extensions = node.find(f"{{{BPMN_NS}}}extensionElements")
        if extensions is None:  # after any documentation, as the XSD orders them
            extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
            node.insert(len(node.findall(f"{{{BPMN_NS}}}documentation")), extensions)
        etree.SubElement(extensions, f"{{{SPIFF_NS}}}calledDecisionId").text = ref


# ---------------------------------------------------------------- manifest


def _props(element: etree._Element) -> dict[str, str]:
    out = {}
    for prop in element.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS):
        out[prop.get("name", "")] = prop.get("value", "")
    for prop in element.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS):
        out[prop.get("name", "")] = prop.get("value", "")
    return out


@dataclass
class Problem:
    element_id: str | None
    line: int | None
    message: str


@dataclass
class FormRead:
    fields: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_form(element: etree._Element) -> FormRead:
    """Read camunda:formData fields of a start event or user task."""
    out = FormRead()
    element_id = element.get("id")
    for node in element.xpath("./bpmn:extensionElements/camunda:formData/camunda:formField", namespaces=NS):
        name = node.get("id", "")
        why = forms.check_field_name(name)
        if why:
            out.problems.append(Problem(element_id, node.sourceline, why))
            continue
        ftype = (node.get("type") or "string").strip()
        ftype = forms.TYPE_ALIASES.get(ftype, ftype)
        if ftype not in forms.FIELD_TYPES:
            out.problems.append(Problem(element_id, node.sourceline,
                                        said("field %(field)s has type %(type)s; use one of %(types)s", field=repr(name),
                                             type=repr(ftype), types=", ".join(forms.FIELD_TYPES))))
            continue
        props = {p.get("id") or p.get("name"): p.get("value") for p in
                 node.xpath("./camunda:properties/camunda:property", namespaces=NS)}
        choices = [{"value": v.get("id", ""), "label": v.get("name") or v.get("id", "")}
                   for v in node.xpath("./camunda:value", namespaces=NS)]
        for choice in choices:
            if props.get(f"choice_zh:{choice['value']}"):
                choice["label_zh"] = props[f"choice_zh:{choice['value']}"]
        if ftype == "enum" and not choices:
            out.problems.append(Problem(element_id, node.sourceline,
                                        said("enum field %(field)s has no values", field=repr(name))))
        constraints = {c.get("name"): c.get("config") for c in
                       node.xpath("./camunda:validation/camunda:constraint", namespaces=NS)}
        item: dict[str, Any] = {
            "name": name,
            "label": node.get("label") or name,
            "type": ftype,
            "required": "required" in constraints,
            "choices": choices,
            "default": node.get("defaultValue"),
            "min": None, "max": None,
            "label_zh": props.get("label_zh"),
            "readonly": "readonly" in constraints,
        }
        for key, spellings in (("min", ("min", "minlength")), ("max", ("max", "maxlength"))):
            for cname in spellings:
                if constraints.get(cname) not in (None, ""):
                    try:
                        item[key] = float(constraints[cname])
                    except ValueError:
                        out.problems.append(Problem(element_id, node.sourceline,
                                                    said("field %(field)s: constraint %(constraint)s needs a number",
                                                         field=repr(name), constraint=cname)))
        if ftype == "boolean" and item["default"] is not None:
            item["default"] = str(item["default"]).lower() == "true"
        out.fields.append(item)
    names = [f["name"] for f in out.fields]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        out.problems.append(Problem(element_id, element.sourceline, said("field %(field)s appears twice", field=repr(dup))))
    decision = next((f for f in out.fields if f["name"] == "decision"), None)
    if decision is not None:
        values = {c["value"] for c in decision["choices"]}
        if decision["type"] != "enum" or not {"approve", "reject"} <= values or values - set(forms.GATE_DECISIONS):
            out.problems.append(Problem(element_id, element.sourceline,
                                        said("an approval gate's decision must be an enum of approve, reject "
                                             "and optionally rework")))
        decision["required"] = True
    return out


def element_index(tree: etree._ElementTree) -> dict[str, etree._Element]:
    """Map every element id in a file to its element."""
    return {el.get("id"): el for el in tree.getroot().iter(f"{{{BPMN_NS}}}*") if el.get("id")}


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def process_properties(process: etree._Element) -> ProcessInfo:
    """Read a process's opsgate properties (case prefix, required records, Chinese name)."""
    props = _props(process)
    key = process.get("id", "")
    prefix = (props.get("case_prefix") or re.sub(r"[^A-Za-z]", "", key)[:3] or "CASE").upper()
    return ProcessInfo(key=key, name=process.get("name") or key, case_prefix=prefix,
                       required_records=_names(props.get("required_records", "")), name_zh=props.get("name_zh"),
                       start_groups=_names(props.get("start_groups", "")))


DEFAULT_GROUP = "process_owner"
# A candidate group named by case data (Camunda's `${approver_group}`), resolved when the task becomes ready.
GROUP_REFERENCE = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")


def resolve_groups(groups: tuple[str, ...], data: dict[str, Any], default: str = DEFAULT_GROUP) -> list[str]:
    """Candidate groups with each `${variable}` replaced by the group(s) the case data names there
    (a text, comma-separated for several, or a list); none named: the default group."""
    out: list[str] = []
    for group in groups:
        match = GROUP_REFERENCE.match(group)
        if match is None:
            out.append(group)
            continue
        value = data.get(match.group(1))
        names = value if isinstance(value, list | tuple) else str(value or "").split(",")
        out += [str(n).strip() for n in names if str(n).strip()]
    return list(dict.fromkeys(out)) or [default]


def process_of(element: etree._Element) -> etree._Element:
    """The bpmn:process an element belongs to (the element itself when there is none)."""
    node: etree._Element | None = element
    while node is not None and node.tag != f"{{{BPMN_NS}}}process":
        node = node.getparent()
    return node if node is not None else element


def default_group(process: etree._Element) -> str:
    """The group a user task without a lane or candidate group goes to: the process's
    `default_group` property, else the process owners."""
    return (_props(process).get("default_group") or "").strip() or DEFAULT_GROUP


def task_rules(element: etree._Element) -> TaskRules:
    """Read a user task's candidate groups attribute, separation-of-duties properties and the
    provider measure it stands for (`measure`, engine.evaluation.provider_measures); the caller
    adds its name, lane and form."""
    props = _props(element)
    return TaskRules(
        candidate_groups=_names(element.get(f"{{{CAMUNDA_NS}}}candidateGroups") or ""),
        sod_not_requester=props.get("sod_not_requester", "").lower() == "true",
        sod_not_actor_of=_names(props.get("sod_not_actor_of", "")),
        pauses_sla={"true": True, "false": False}.get(props.get("pauses_sla", "").lower()),
        measure=props.get("measure", "").strip().lower() or None,
        name_zh=props.get("name_zh"),
        vote=votes.read(props, lambda _message: None),
        opens_cases=props.get("opens_cases", "").strip() or None,
        opens_cases_from=props.get("opens_cases_from", "").strip() or None,
    )


def property_names(element: etree._Element) -> set[str]:
    """The names of an element's properties."""
    return set(_props(element))


def vote_problems(element: etree._Element) -> list[str]:
    """What is wrong with a user task's vote properties (docs/bpmn.md, "Votes")."""
    found: list[str] = []
    votes.read(_props(element), found.append)
    return found


def end_rules(element: etree._Element) -> EndRules | None:
    """Read an end event's outcome (with the names people read for it) and, when the path owes
    other records, its required_records (None when it says neither)."""
    props = _props(element)
    if not props.get("outcome") and "required_records" not in props:
        return None
    records = _names(props["required_records"]) if "required_records" in props else None
    return EndRules(outcome=props.get("outcome") or None, required_records=records,
                    outcome_name=props.get("outcome_name") or None,
                    outcome_name_zh=props.get("outcome_name_zh") or None)


def name_zh(element: etree._Element) -> str | None:
    """An element's Chinese name (its `name_zh` property), if it has one."""
    return _props(element).get("name_zh") or None


def timer_escalates(element: etree._Element) -> bool:
    """Say whether firing this timer event counts as an escalation (boundary timers by default)."""
    props = _props(element)
    if "escalation" in props:
        return props["escalation"].lower() == "true"
    return etree.QName(element).localname == "boundaryEvent"


SLA_KINDS = ("response", "resolution", "recovery", "revocation", "documentation")


def sla_kind(element: etree._Element) -> str | None:
    """Say what a timer measures (`sla` property: response, resolution, ...), else guess it from
    the element id (`resolution_target_passed` is a resolution clock); None for other timers."""
    declared = _props(element).get("sla", "").strip().lower()
    if declared:
        return declared
    element_id = (element.get("id") or "").lower()
    return next((kind for kind in SLA_KINDS if kind in element_id), None)
