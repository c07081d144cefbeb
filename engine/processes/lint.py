"""Structural lint of BPMN files at deploy, with bpmnlint's rule names (docs/bpmn.md, "Lint rules").

The modeler runs bpmnlint itself (webui/static/vendor/bpmnlint, configured from `RULES`), so a
process owner sees the same findings on the diagram while editing that deploy reports. Rules
whose name has no `opsgate/` prefix are bpmnlint's own, ported here from its rule sources;
`opsgate/...` rules are ours (bpmnlint has no reachability or duplicate-id rule), written for
both sides (webui/static/js/lint_rules.js). `error` findings refuse the deploy; `warn` findings
are reported with the new version and do not block.

Each rule is a function of one `Scope` (a process or sub-process with its flow nodes and sequence
flows) returning findings; `check(tree)` runs every rule of `RULES` over every scope of a file.
New rules (issue #16: collaborations, messages) register with `@rule(name)`.
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from engine.errors import said

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
OMG_SPEC = "http://www.omg.org/spec/"  # BPMN, BPMNDI, DC, DI: where ids are XML IDs (extensions keep their own)

# The rule table the server and the modeler share: name -> "error" or "warn".
RULES: dict[str, str] = {
    "opsgate/no-duplicate-id": "error",
    "no-disconnected": "error",
    "opsgate/no-unreachable": "error",
    "conditional-flows": "error",
    "no-implicit-end": "warn",
    "superfluous-gateway": "warn",
    "fake-join": "warn",
    "label-required": "warn",
}

TASKS = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
         "businessRuleTask"}
SUB_PROCESSES = {"subProcess", "transaction", "adHocSubProcess"}
ACTIVITIES = TASKS | SUB_PROCESSES | {"callActivity"}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    element_id: str | None
    line: int | None
    message: str


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _bpmn(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and c.tag == f"{{{BPMN_NS}}}{name}"]


def _has_definition(node: etree._Element, name: str) -> bool:
    return bool(_bpmn(node, name))


@dataclass
class Scope:
    """A process or sub-process: its own flow nodes and sequence flows."""

    element: etree._Element
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows: list[etree._Element] = field(default_factory=list)
    incoming: dict[str, list[etree._Element]] = field(default_factory=dict)
    outgoing: dict[str, list[etree._Element]] = field(default_factory=dict)

    @classmethod
    def of(cls, element: etree._Element) -> Scope:
        scope = cls(element)
        for child in element:
            local = _local(child)
            if local in FLOW_NODES and child.get("id"):
                scope.nodes[child.get("id")] = child
            elif local == "sequenceFlow":
                scope.flows.append(child)
        for flow in scope.flows:
            scope.outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
            scope.incoming.setdefault(flow.get("targetRef", ""), []).append(flow)
        return scope

    def ins(self, node_id: str) -> list[etree._Element]:
        return self.incoming.get(node_id, [])

    def outs(self, node_id: str) -> list[etree._Element]:
        return self.outgoing.get(node_id, [])

    @property
    def ad_hoc(self) -> bool:
        return _local(self.element) == "adHocSubProcess"


def scopes(tree: etree._ElementTree) -> Iterator[Scope]:
    """Every process and sub-process of a file, outermost first."""
    for process in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        todo = [process]
        while todo:
            element = todo.pop(0)
            yield Scope.of(element)
            todo.extend(c for c in element if _local(c) in SUB_PROCESSES)


def _label(node: etree._Element) -> str:
    name = " ".join((node.get("name") or "").split())
    return f"{name} ({node.get('id')})" if name else str(node.get("id"))


_Rule = Callable[[Scope], Iterator[tuple[etree._Element, str]]]
_CHECKS: dict[str, _Rule] = {}


def rule(name: str) -> Callable[[_Rule], _Rule]:
    """Register a per-scope rule under its name (it runs when RULES names it)."""

    def register(fn: _Rule) -> _Rule:
        _CHECKS[name] = fn
        return fn

    return register


def _compensation(node: etree._Element) -> bool:
    if node.get("isForCompensation") == "true":
        return True
    definitions = [c for c in node if _local(c).endswith("EventDefinition")]
    return _local(node) == "boundaryEvent" and len(definitions) == 1 \
        and _local(definitions[0]) == "compensateEventDefinition"


def _event_sub_process(node: etree._Element) -> bool:
    return _local(node) in SUB_PROCESSES and node.get("triggeredByEvent") == "true"


def _disconnected(scope: Scope, node_id: str, node: etree._Element) -> bool:
    local = _local(node)
    if local not in TASKS | SUB_PROCESSES | GATEWAYS | EVENTS or _event_sub_process(node):
        return False  # bpmnlint checks tasks, gateways, sub-processes and events (not call activities)
    if _compensation(node) or scope.ad_hoc:
        return False
    return not scope.ins(node_id) and not scope.outs(node_id)


@rule("no-disconnected")
def _no_disconnected(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    for node_id, node in scope.nodes.items():
        if _disconnected(scope, node_id, node):
            yield node, said("%(element)s is not connected: connect it with sequence flows or delete it",
                              element=_label(node))


@rule("opsgate/no-unreachable")
def _no_unreachable(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    if scope.ad_hoc or _event_sub_process(scope.element):
        return
    starts = [i for i, n in scope.nodes.items() if _local(n) == "startEvent" or _event_sub_process(n)]
    links: dict[str, list[str]] = {}
    for node_id, node in scope.nodes.items():
        for link in _bpmn(node, "linkEventDefinition"):
            if _local(node) == "intermediateCatchEvent":
                links.setdefault(link.get("name") or "", []).append(node_id)
    attached: dict[str, list[str]] = {}
    for node_id, node in scope.nodes.items():
        if _local(node) == "boundaryEvent":
            attached.setdefault(node.get("attachedToRef") or "", []).append(node_id)
    seen: set[str] = set()
    todo = deque(starts)
    while todo:
        node_id = todo.popleft()
        if node_id in seen or node_id not in scope.nodes:
            continue
        seen.add(node_id)
        node = scope.nodes[node_id]
        todo.extend(f.get("targetRef", "") for f in scope.outs(node_id))
        todo.extend(attached.get(node_id, []))
        if _local(node) == "intermediateThrowEvent":
            for link in _bpmn(node, "linkEventDefinition"):
                todo.extend(links.get(link.get("name") or "", []))
    for node_id, node in scope.nodes.items():
        if node_id in seen or _disconnected(scope, node_id, node) or _compensation(node):
            continue
        yield node, said("%(element)s cannot be reached from a start event: connect it to the flow or delete it",
                         element=_label(node))


def _conditional(flow: etree._Element) -> bool:
    return bool(_bpmn(flow, "conditionExpression"))


@rule("conditional-flows")
def _conditional_flows(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    # bpmnlint's rule (a node with a default flow or a conditional outgoing flow), and also an
    # exclusive or inclusive gateway that forks without any condition: the engine could not choose.
    for node_id, node in scope.nodes.items():
        outgoing = scope.outs(node_id)
        default = node.get("default")
        forking = bool(default) or any(_conditional(f) for f in outgoing) or (
            _local(node) in ("exclusiveGateway", "inclusiveGateway") and len(outgoing) > 1)
        if not forking:
            continue
        for flow in outgoing:
            if not _conditional(flow) and flow.get("id") != default:
                yield flow, said("flow %(flow)s out of %(node)s needs a condition or must be the default flow",
                                 flow=_label(flow), node=_label(node))


@rule("no-implicit-end")
def _no_implicit_end(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    if scope.ad_hoc:
        return
    for node_id, node in scope.nodes.items():
        local = _local(node)
        if local == "endEvent" or _event_sub_process(node) or _compensation(node):
            continue
        if local == "intermediateThrowEvent" and _has_definition(node, "linkEventDefinition"):
            continue
        if not scope.outs(node_id):
            yield node, said("%(element)s is an implicit end: lead it to an end event", element=_label(node))


@rule("superfluous-gateway")
def _superfluous_gateway(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    for node_id, node in scope.nodes.items():
        if _local(node) in GATEWAYS and len(scope.ins(node_id)) == 1 and len(scope.outs(node_id)) == 1:
            yield node, said("gateway %(gateway)s is superfluous: it has only one source and one target",
                              gateway=_label(node))


@rule("fake-join")
def _fake_join(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    for node_id, node in scope.nodes.items():
        if _local(node) in ACTIVITIES | EVENTS and len(scope.ins(node_id)) > 1:
            yield node, said("%(element)s has several incoming flows that do not join: join them with a gateway",
                              element=_label(node))


@rule("label-required")
def _label_required(scope: Scope) -> Iterator[tuple[etree._Element, str]]:
    for node_id, node in scope.nodes.items():
        local = _local(node)
        if local in ("parallelGateway", "eventBasedGateway") or local in SUB_PROCESSES:
            continue
        if local in GATEWAYS and len(scope.outs(node_id)) <= 1:
            continue
        if not (node.get("name") or "").strip():
            yield node, said("%(element)s has no label: give it a name", element=node_id)
    for flow in scope.flows:
        if _conditional(flow) and not (flow.get("name") or "").strip():
            yield flow, said("conditional flow %(flow)s has no label: give it a name", flow=flow.get("id"))
    if _local(scope.element) == "process":
        for lane in scope.element.iter(f"{{{BPMN_NS}}}lane"):
            if not (lane.get("name") or "").strip():
                yield lane, said("lane %(lane)s has no label: name it after a group", lane=lane.get("id"))


def duplicate_ids(tree: etree._ElementTree) -> list[Finding]:
    """Ids used more than once anywhere in the file (read before the XSD, which would only call
    them an invalid ID value)."""
    elements = [e for e in tree.getroot().iter() if isinstance(e.tag, str) and e.get("id")
                and (etree.QName(e).namespace or "").startswith(OMG_SPEC)]
    counts = Counter(e.get("id") for e in elements)
    out = []
    for element in elements:
        ident = element.get("id")
        if counts[ident] > 1:
            lines = sorted({e.sourceline for e in elements if e.get("id") == ident and e.sourceline})
            out.append(Finding("opsgate/no-duplicate-id", RULES["opsgate/no-duplicate-id"], ident, element.sourceline,
                               said("id %(id)s is used by %(count)s elements (lines %(lines)s): give each "
                                    "element its own id", id=repr(ident), count=counts[ident],
                                    lines=", ".join(map(str, lines)))))
            counts[ident] = 0  # once per id
    return out


def check(tree: etree._ElementTree) -> list[Finding]:
    """Run every rule of RULES over a parsed BPMN file; findings in document order per rule."""
    findings = duplicate_ids(tree) if "opsgate/no-duplicate-id" in RULES else []
    for scope in scopes(tree):
        for name, level in RULES.items():
            fn = _CHECKS.get(name)
            if fn is None:
                continue
            for element, message in fn(scope):
                findings.append(Finding(name, level, element.get("id"), element.sourceline, message))
    return findings
