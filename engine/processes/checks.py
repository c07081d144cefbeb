"""Deploy checks beyond the XSD and SpiffWorkflow's parse (docs/bpmn.md, "Limits" and "Lint rules").

Each check reads lxml trees (and, where it must, the deployed versions) and returns problems as
`{file, element_id, line, message}` dicts, so that engine.processes.validation can collect them
with its own and refuse the batch: lint findings, sizes the engine cannot walk, loop and
multi-instance expressions and counts, DMN cells compiled as the engine will evaluate them,
processes that call themselves, and case prefixes taken by another process. A DMN decision a BPMN
file calls but the batch lacks is taken from the deployed versions (`resolve_decisions`).
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any, TypeAlias

from lxml import etree
from sqlalchemy.orm import Session

from engine.errors import said
from engine.processes import bpmn_xml, lint, scripting
from engine.processes.catalog import latest, list_definitions
from engine.processes.manifest import Manifest

Problem: TypeAlias = dict[str, Any]
Tree: TypeAlias = etree._ElementTree

MAX_FLOW_NODES = 1000  # per file
# SpiffWorkflow's parser follows the flow recursively, a few Python frames per element.
MAX_CHAIN = 200
TOO_DEEP = said("the process is too long for the engine: it reads at most %(n)s elements in a row; "
                "split it into sub-processes or call activities", n=MAX_CHAIN)


def problem(file: str, element_id: str | None, line: int | None, message: str, rule: str | None = None) -> Problem:
    item: Problem = {"file": file, "element_id": element_id, "line": line, "message": message}
    if rule:
        item["rule"] = rule
    return item


# ---------------------------------------------------------------------- lint and size


def lint_findings(filename: str, tree: Tree) -> tuple[list[Problem], list[Problem]]:
    """The lint rules' errors and warnings for one BPMN file."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for found in lint.check(tree):
        item = problem(filename, found.element_id, found.line,
                       said("[%(rule)s] %(message)s", rule=found.rule, message=found.message), found.rule)
        (errors if found.level == "error" else warnings).append(item)
    return errors, warnings


def size_problems(filename: str, tree: Tree) -> list[Problem]:
    """More elements, or longer chains, than the engine can read without running out of stack."""
    out: list[Problem] = []
    count = len([e for e in tree.getroot().iter() if isinstance(e.tag, str)
                 and etree.QName(e).localname in lint.FLOW_NODES])
    if count > MAX_FLOW_NODES:
        return [problem(filename, None, None, said(
            "the file has %(count)s flow elements; the engine takes at most %(n)s per file: split it into several "
            "processes", count=count, n=MAX_FLOW_NODES))]
    for scope in lint.scopes(tree):
        starts = [i for i, n in scope.nodes.items() if etree.QName(n).localname == "startEvent"]
        depth: dict[str, int] = {}
        stack = [(s, 1) for s in starts]
        while stack:
            node_id, level = stack.pop()
            if node_id in depth or node_id not in scope.nodes:
                continue
            depth[node_id] = level
            if level > MAX_CHAIN:
                node = scope.nodes[node_id]
                out.append(problem(filename, node_id, node.sourceline, TOO_DEEP))
                break
            stack.extend((f.get("targetRef", ""), level + 1) for f in scope.outs(node_id))
    return out


# ---------------------------------------------------------------------- loops and multi-instance


def _literal_int(text: str) -> int | None:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    body = tree.body
    return body.value if isinstance(body, ast.Constant) and type(body.value) is int else None


# What each loop expression is called, and its empty finding, said (a sentence each, so a translation
# may place the words as its language does).
_EMPTY = {"loop cardinality": said("empty loop cardinality"),
          "completion condition": said("empty completion condition"),
          "loop condition": said("empty loop condition")}
_WHAT = {"loop cardinality": said("loop cardinality"), "completion condition": said("completion condition"),
         "loop condition": said("loop condition")}


def _compile(filename: str, owner: etree._Element, node: etree._Element, what: str) -> list[Problem]:
    text = (node.text or "").strip()
    if not text:
        return [problem(filename, owner.get("id"), node.sourceline, _EMPTY[what])]
    try:
        scripting.compile_code(text, "eval")
    except scripting.ScriptError as err:
        return [problem(filename, owner.get("id"), node.sourceline,
                        said("%(what)s %(text)s: %(why)s", what=_WHAT[what], text=repr(text), why=scripting.why(err)))]
    return []


def loop_problems(filename: str, tree: Tree, max_instances: int) -> list[Problem]:
    """Compile every loop cardinality, completion condition and loop condition; refuse a literal
    count above the limit (a computed one is checked when it runs)."""
    out: list[Problem] = []
    ns = bpmn_xml.NS
    for mi in tree.getroot().xpath("//bpmn:multiInstanceLoopCharacteristics", namespaces=ns):
        owner = mi.getparent()
        for node in mi.xpath("./bpmn:loopCardinality", namespaces=ns):
            found = _compile(filename, owner, node, "loop cardinality")
            value = _literal_int(node.text or "")
            if not found and value is not None and not 0 <= value <= max_instances:
                found = [problem(filename, owner.get("id"), node.sourceline,
                                 said("loop cardinality %(value)s is more than the %(n)s instances a "
                                      "multi-instance task may make (OPSGATE_MAX_INSTANCES)",
                                      value=value, n=f"{max_instances:,}"))]
            out += found
        for node in mi.xpath("./bpmn:completionCondition", namespaces=ns):
            out += _compile(filename, owner, node, "completion condition")
    for loop in tree.getroot().xpath("//bpmn:standardLoopCharacteristics", namespaces=ns):
        owner = loop.getparent()
        for node in loop.xpath("./bpmn:loopCondition", namespaces=ns):
            out += _compile(filename, owner, node, "loop condition")
        maximum = loop.get("loopMaximum")
        if maximum is not None:
            value = _literal_int(maximum)
            if value is None or not 0 <= value <= max_instances:
                out.append(problem(filename, owner.get("id"), loop.sourceline,
                                   said("loopMaximum %(value)s must be a whole number up to %(n)s",
                                        value=repr(maximum), n=f"{max_instances:,}")))
    return out


# ---------------------------------------------------------------------- DMN


def _dmn_children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _text_of(element: etree._Element) -> tuple[str | None, int | None]:
    texts = _dmn_children(element, "text")
    return (texts[0].text, texts[0].sourceline) if texts else (None, element.sourceline)


_QUESTION = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")  # SpiffWorkflow's DMNEngine rewrite of `?`


def cell_expressions(input_expr: str, entry: str) -> list[str]:
    """The Python expressions SpiffWorkflow's DMN engine evaluates for one input cell."""
    match = _QUESTION.sub("dmninputexpr", entry)
    if "dmninputexpr" in match:
        return [input_expr, match]
    try:
        ast.parse(entry)
        return [f"({input_expr}) == ({entry})"]
    except SyntaxError:
        return [f"{input_expr} {entry}"]


def dmn_problems(filename: str, tree: Tree) -> list[Problem]:
    """Compile every input expression, input entry and output entry of every decision table as the
    engine will evaluate them; say which rule and column breaks the rules."""
    out: list[Problem] = []
    for table in (e for e in tree.getroot().iter() if isinstance(e.tag, str)
                  and etree.QName(e).localname == "decisionTable"):
        inputs: list[str | None] = []
        for column in _dmn_children(table, "input"):
            expression = None
            for node in _dmn_children(column, "inputExpression"):
                expression, line = _text_of(node)
                if expression and expression.strip():
                    out += _check_cell(filename, column.get("id"), line, expression.strip(),
                                       said("input expression"))
            inputs.append((expression or "").strip() or None)
        outputs = _dmn_children(table, "output")
        for row, rule in enumerate(_dmn_children(table, "rule"), start=1):
            entries, results = _dmn_children(rule, "inputEntry"), _dmn_children(rule, "outputEntry")
            if len(entries) > len(inputs) or len(results) > len(outputs):
                out.append(problem(filename, rule.get("id"), rule.sourceline,
                                   said("rule %(row)s has more cells than the table has columns: remove the extra "
                                        "cells", row=row)))
                continue
            for column, entry in enumerate(entries):
                text, line = _text_of(entry)
                if text is None or text.strip() in ("", "-"):
                    continue
                lhs = inputs[column]
                if lhs is None:
                    out.append(problem(filename, entry.get("id"), line,
                                       said("rule %(row)s: column %(column)s has no input expression to compare with",
                                            row=row, column=column + 1)))
                    continue
                for expression in cell_expressions(lhs, text.strip()):
                    out += _check_cell(filename, entry.get("id") or rule.get("id"), line, expression,
                                       said("rule %(row)s, input %(column)s (%(text)s)", row=row, column=column + 1,
                                            text=repr(text.strip())))
            for column, entry in enumerate(results):
                text, line = _text_of(entry)
                if text and text.strip():
                    out += _check_cell(filename, entry.get("id") or rule.get("id"), line, text.strip(),
                                       said("rule %(row)s, output %(column)s", row=row, column=column + 1))
    return out


def _check_cell(filename: str, element_id: str | None, line: int | None, expression: str, what: str) -> list[Problem]:
    try:
        scripting.compile_code(expression, "eval")
    except scripting.ScriptError as err:
        shown = expression.replace("dmninputexpr", "?")
        return [problem(filename, element_id, line, said("%(what)s: %(expression)s %(why)s", what=what,
                                                         expression=repr(shown), why=scripting.why(err)))]
    return []


def _decision_ids(tree: Tree) -> set[str]:
    return {e.get("id") for e in tree.getroot().iter() if isinstance(e.tag, str)
            and etree.QName(e).localname == "decision" and e.get("id")}


def called_decisions(tree: Tree) -> set[str]:
    """The decision ids a BPMN file's business rule tasks call."""
    root = tree.getroot()
    ids = {(t or "").strip() for t in root.xpath("//spiffworkflow:calledDecisionId/text()", namespaces=bpmn_xml.NS)}
    ids |= {(t or "").strip() for t in root.xpath("//bpmn:businessRuleTask/@camunda:decisionRef", namespaces=bpmn_xml.NS)}
    return {i for i in ids if i}


def resolve_decisions(session: Session, bpmn: Iterable[tuple[str, bytes, Tree]],
                      dmn: list[tuple[str, bytes, Tree]]) -> list[tuple[str, bytes, Tree]]:
    """The deployed DMN files that provide decisions the batch calls but does not bring (the
    latest version of the same process first, then any other process's latest)."""
    have = set().union(*(_decision_ids(t) for _f, _s, t in dmn)) if dmn else set()
    wanted: dict[str, set[str]] = {}
    for _f, _s, tree in bpmn:
        keys = [p.get("id") for p in tree.getroot().xpath("//bpmn:process", namespaces=bpmn_xml.NS)]
        for decision in called_decisions(tree) - have:
            wanted.setdefault(decision, set()).update(k for k in keys if k)
    if not wanted:
        return []
    found: list[tuple[str, bytes, Tree]] = []
    names = {name for name, _s, _t in dmn}
    owners = set().union(*wanted.values())
    candidates = [d for d in (latest(session, k) for k in sorted(owners)) if d is not None]
    candidates += [d for d in list_definitions(session) if d.key not in owners]
    for definition in candidates:
        for extra in definition.extra_files or []:
            if extra.get("filename") in names or not wanted:
                continue
            try:
                source = str(extra.get("source", "")).encode()
                tree = bpmn_xml.parse_xml(source)
            except bpmn_xml.XmlProblem:
                continue
            provides = _decision_ids(tree) & set(wanted)
            if provides:
                found.append((str(extra["filename"]), source, tree))
                names.add(str(extra["filename"]))
                for decision in provides:
                    wanted.pop(decision, None)
    return found


# ---------------------------------------------------------------------- calls and prefixes


def call_cycle_problems(session: Session, executable: list[tuple[str, etree._Element]]) -> list[Problem]:
    """A process that calls itself, directly or through other processes, never ends: refuse it."""
    calls: dict[str, set[str]] = {}
    where: dict[str, tuple[str, etree._Element]] = {}
    for filename, process in executable:
        key = process.get("id") or ""
        where[key] = (filename, process)
        calls[key] = {c.get("calledElement") or "" for c in process.iter(f"{{{bpmn_xml.BPMN_NS}}}callActivity")}
    todo = [k for called in calls.values() for k in called if k and k not in calls]
    while todo:
        key = todo.pop()
        if key in calls:
            continue
        definition = latest(session, key)
        calls[key] = set((definition.dependencies or {}) if definition is not None else {})
        todo.extend(k for k in calls[key] if k not in calls)
    out = []
    for key, (filename, process) in where.items():
        path = _cycle(calls, key)
        if path:
            activity = next((c for c in process.iter(f"{{{bpmn_xml.BPMN_NS}}}callActivity")
                             if c.get("calledElement") == path[1]), process)
            chain = " -> ".join(path)
            out.append(problem(filename, activity.get("id"), activity.sourceline,
                               said("%(key)s calls itself (%(chain)s): a call activity may not lead back to its own "
                                    "process; model the repetition as a loop instead", key=key, chain=chain)))
    return out


def _cycle(calls: dict[str, set[str]], start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        key, path = stack.pop()
        for nxt in sorted(calls.get(key, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def prefix_problems(session: Session, items: list[tuple[str, str, Manifest, int | None]]) -> list[Problem]:
    """A case prefix (INC, CHG ...) belongs to one process key: refuse one another key already uses."""
    taken: dict[str, str] = {}
    for definition in list_definitions(session):
        prefix = Manifest.from_dict(definition.manifest).process.case_prefix if definition.manifest else None
        if prefix:
            taken.setdefault(prefix, definition.key)
    out = []
    for filename, key, manifest, line in items:
        prefix = manifest.process.case_prefix
        owner = taken.get(prefix)
        if owner is not None and owner != key:
            out.append(problem(filename, key, line, said(
                "case prefix %(prefix)s belongs to process %(owner)s: choose another case_prefix (a "
                "camunda:property of the process)", prefix=repr(prefix), owner=repr(owner))))
        else:
            taken[prefix] = key
    return out
