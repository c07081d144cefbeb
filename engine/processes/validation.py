"""Validating a deploy batch: everything is checked before anything is written.

Deploy validates every file completely before writing anything: well-formed and safe XML, the
BPMN XSD, SpiffWorkflow's parse (including call-activity targets and DMN decisions), every
lane or candidate group a known group, every user task with a usable form, every condition,
script and timer expression compiled in the restricted environment. Any failure in any file
deploys nothing; each problem names the file, the element id and, where known, the line.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import settings
from engine.errors import InvalidDefinition, said
from engine.filenames import clean_filename
from engine.people import roles
from engine.processes import bpmn_xml, checks, collaborations, dialect, scripting, votes
from engine.processes.catalog import latest
from engine.processes.checks import TOO_DEEP
from engine.processes.forms import Form
from engine.processes.manifest import EndRules, Manifest, TaskRules, TimerInfo
from engine.processes.specs import add_bpmn, build, new_parser
from engine.timing import clock, definitions
from models import Group, ProcessDefinition

log = logging.getLogger(__name__)

# What a user task's `measure` property may say it stands for in provider scoring
# (engine.evaluation.provider_measures): its completion is the resolution, recovery or revocation, it is
# an escalation, or it is the requester's confirmation (which may reopen the case).
TASK_MEASURES = ("resolution", "recovery", "revocation", "escalation", "confirmation")


class _Batch:
    """The files of one deploy, parsed, with every problem found so far."""

    def __init__(self) -> None:
        self.problems: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.bpmn: list[tuple[str, bytes, etree._ElementTree]] = []
        self.dmn: list[tuple[str, bytes, etree._ElementTree]] = []
        self.executable: list[tuple[str, etree._Element]] = []

    def problem(self, file: str, element_id: str | None, line: int | None, message: str,
                rule: str | None = None) -> None:
        self.problems.append(checks.problem(file, element_id, line, message, rule))


def _read_files(files: list[tuple[str, bytes]]) -> _Batch:
    batch = _Batch()
    for given, source in files:
        filename = safe_name(given)
        try:
            tree = bpmn_xml.parse_xml(source)
            kind = bpmn_xml.kind_of(tree)
            source = bpmn_xml.as_utf8(source, tree)
        except bpmn_xml.XmlProblem as err:
            batch.problem(filename, None, err.line, scripting.why(err))
            continue
        (batch.bpmn if kind == "bpmn" else batch.dmn).append((filename, source, tree))
    if not batch.bpmn and not batch.problems:
        batch.problem(files[0][0] if files else "", None, None,
                      said("no BPMN file given: a DMN file deploys together with the BPMN file that calls it"))
    return batch


def _check_expressions(batch: _Batch, filename: str, tree: etree._ElementTree) -> None:
    """Compile every condition, script and timer expression under the restricted rules."""
    root = tree.getroot()
    ns = bpmn_xml.NS
    for node in root.iter(f"{{{bpmn_xml.BPMN_NS}}}conditionExpression"):
        owner = node.getparent()
        expr = bpmn_xml.translate_condition(node.text or "")
        if not expr:
            batch.problem(filename, owner.get("id"), node.sourceline, said("empty condition"))
            continue
        try:
            scripting.compile_code(expr, "eval")
        except scripting.ScriptError as err:
            batch.problem(filename, owner.get("id"), node.sourceline,
                          said("condition %(expression)s: %(why)s", expression=repr(expr), why=scripting.why(err)))
    scripts = list(root.iter(f"{{{bpmn_xml.BPMN_NS}}}script"))
    scripts += root.xpath("//spiffworkflow:preScript | //spiffworkflow:postScript", namespaces=ns)
    for node in scripts:
        owner = node.getparent()
        while owner is not None and not owner.get("id"):
            owner = owner.getparent()
        try:
            scripting.compile_code(node.text or "", "exec")
        except scripting.ScriptError as err:
            batch.problem(filename, owner.get("id") if owner is not None else None, node.sourceline,
                          said("script: %(why)s", why=scripting.why(err)))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(f"{{{bpmn_xml.BPMN_NS}}}{tag}"):
            event = node.getparent().getparent()
            _check_timer(batch, filename, event.get("id"), node, tag)


def _check_timer(batch: _Batch, filename: str, element_id: str | None, node: etree._Element, tag: str) -> None:
    text = (node.text or "").strip()
    literal = bpmn_xml.timer_literal(text)
    if literal is None:
        if not text:
            batch.problem(filename, element_id, node.sourceline, said("empty %(tag)s", tag=tag))
            return
        if bpmn_xml.looks_like_iso(text):
            batch.problem(filename, element_id, node.sourceline,
                          said("%(tag)s %(value)s is not a valid ISO 8601 value", tag=tag, value=repr(text)))
            return
        try:
            scripting.compile_code(text, "eval")
        except scripting.ScriptError as err:
            batch.problem(filename, element_id, node.sourceline, said("%(tag)s expression %(expression)s: %(why)s",
                                                                      tag=tag, expression=repr(text),
                                                                      why=scripting.why(err)))
            return
        literal = _string_constant(text)
        if literal is None:
            return  # a data-dependent expression: checked when it runs
    try:
        # The parse the running timer does (engine.timing.definitions): a value deploys if it runs.
        definitions.BY_TAG[tag].parse_value(literal, clock.now())
    except definitions.InvalidTimerValue as err:
        batch.problem(filename, element_id, node.sourceline, scripting.why(err))


def _string_constant(text: str) -> str | None:
    """Return the value of an expression that is one string literal ("PT4H"), else None."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    body = tree.body
    return body.value if isinstance(body, ast.Constant) and isinstance(body.value, str) else None


def _build_manifest(batch: _Batch, filename: str, tree: etree._ElementTree, unit: collaborations.Unit,
                    spec: Any, subprocess_specs: dict[str, Any], known_groups: set[str]) -> Manifest:
    index = bpmn_xml.element_index(tree)
    if unit.collaboration is not None:  # the main pool stands for the process: its start form, its end events
        spec = subprocess_specs[str(unit.process.get("id"))]
    start_form: Form | None = None
    tasks: dict[str, TaskRules] = {}
    end_events: dict[str, EndRules] = {}
    timers: dict[str, TimerInfo] = {}
    message_starts: list[str] = []
    for each in [spec, *subprocess_specs.values()]:
        for ts in each.task_specs.values():
            bpmn_id: str | None = getattr(ts, "bpmn_id", None)
            element = index.get(bpmn_id) if bpmn_id else None
            if bpmn_id is None or element is None:
                continue
            local = etree.QName(element).localname
            event = getattr(ts, "event_definition", None)
            if local == "startEvent" and each is spec and isinstance(event, MessageEventDefinition) and event.name:
                message_starts.append(str(event.name))
            if local == "startEvent" and each is spec and not (start_form and start_form.fields):
                start_form = _read_form(batch, filename, element)
            elif getattr(ts, "manual", False):
                tasks[bpmn_id] = _user_task(batch, filename, element, ts, known_groups,
                                            bpmn_xml.default_group(bpmn_xml.process_of(element)))
            elif local == "endEvent" and each is spec:
                ending = bpmn_xml.end_rules(element)
                if ending is not None:
                    end_events[bpmn_id] = ending
            if element.xpath("./bpmn:timerEventDefinition", namespaces=bpmn_xml.NS):
                kind = {"boundaryEvent": "boundary", "startEvent": "start"}.get(local, "intermediate")
                timers[bpmn_id] = TimerInfo(kind=kind, escalation=bpmn_xml.timer_escalates(element),
                                            name=ts.bpmn_name or bpmn_id, top_level=each is spec,
                                            name_zh=bpmn_xml.name_zh(element), sla=bpmn_xml.sla_kind(element))
    for task_id, rules in tasks.items():
        if rules.vote is not None and rules.vote.deadline:
            timers[votes.deadline_id(task_id)] = TimerInfo(
                kind="boundary", escalation=rules.vote.on_deadline == "escalate", name="Vote deadline",
                top_level=task_id in {getattr(t, "bpmn_id", None) for t in spec.task_specs.values()},
                name_zh="表决截止")
        for other in rules.sod_not_actor_of:
            if other not in tasks:
                batch.problem(filename, task_id, None, said("sod_not_actor_of names %(other)s, which is not a user task",
                                                           other=repr(other)))
        if rules.measure and rules.measure not in TASK_MEASURES:
            batch.problem(filename, task_id, None, said("measure %(measure)s is not one of %(measures)s",
                                                       measure=repr(rules.measure), measures=", ".join(TASK_MEASURES)))
        if bool(rules.opens_cases) != bool(rules.opens_cases_from) or not (
                rules.opens_cases_from or "x").isidentifier():
            batch.problem(filename, task_id, None, said("opens_cases needs opens_cases_from (the name of a list in "
                                                        "the case data), and the other way round"))
    info = bpmn_xml.process_properties(unit.process)
    if unit.collaboration is not None:
        info = replace(info, key=unit.key, name=unit.name)
    return Manifest(process=info, start_form=start_form or Form(), tasks=tasks,
                    end_events=end_events, timers=timers, message_starts=tuple(dict.fromkeys(message_starts)))


def _read_form(batch: _Batch, filename: str, element: etree._Element) -> Form:
    read = bpmn_xml.read_form(element)
    for p in read.problems:
        batch.problem(filename, p.element_id, p.line, p.message)
    return Form.from_list(read.fields)


# What a user or manual task without a form offers: "Done", with an optional comment.
DEFAULT_FORM = [{"name": "comment", "label": "Comment", "type": "text", "required": False}]


def _user_task(batch: _Batch, filename: str, element: etree._Element, ts: Any, known_groups: set[str],
               default_group: str) -> TaskRules:
    """A user task's rules, its groups checked against the known ones and its form read.

    A task with no lane or candidate group goes to the process's default group, one with no form
    gets the plain completion form (an optional comment); each is deployed with a warning."""
    bpmn_id = ts.bpmn_id
    form = _read_form(batch, filename, element)
    rules = bpmn_xml.task_rules(element)
    groups = rules.candidate_groups or ((ts.lane,) if ts.lane else ())
    if not groups:
        groups = (default_group,)
        batch.warnings.append(checks.problem(
            filename, bpmn_id, element.sourceline,
            said("task has no candidate group: it goes to the process's default group %(group)s (set a lane named "
                 "after a group, camunda:candidateGroups, or the process property default_group)",
                 group=repr(default_group)), "opsgate/no-group"))
    for group in groups:
        if group.startswith("${") and bpmn_xml.GROUP_REFERENCE.match(group):
            continue  # named by case data when the task becomes ready
        if group.startswith("${"):
            batch.problem(filename, bpmn_id, element.sourceline,
                          said("candidate group %(group)s: only a plain group name or one case data field "
                               "(${approver_group}) is understood", group=repr(group)))
            continue
        if group not in known_groups:
            batch.problem(filename, bpmn_id, element.sourceline,
                          said("group %(group)s (lane or candidate group) is not a known group; known: %(known)s",
                               group=repr(group), known=", ".join(sorted(known_groups))))
    if not form.fields:
        form = Form.from_list(DEFAULT_FORM)
        batch.warnings.append(checks.problem(
            filename, bpmn_id, element.sourceline,
            said("task has no form: people complete it with a plain Done and an optional comment "
                 "(add camunda:formData fields to ask for more)"), "opsgate/no-form"))
    if rules.vote is not None or any(p.startswith("vote") for p in bpmn_xml.property_names(element)):
        _check_vote(batch, filename, element, rules, groups, form, known_groups)
    return replace(rules, name=ts.bpmn_name or bpmn_id, lane=ts.lane, candidate_groups=groups, form=form)


def _check_vote(batch: _Batch, filename: str, element: etree._Element, rules: TaskRules, groups: tuple[str, ...],
                form: Form, known_groups: set[str]) -> None:
    """A vote task (docs/bpmn.md, "Votes"): one group to vote, an approve/reject gate form, a
    known chair group, a deadline that parses, and no loop of its own."""
    bpmn_id, line = element.get("id"), element.sourceline
    for message in bpmn_xml.vote_problems(element):
        batch.problem(filename, bpmn_id, line, message)
    vote = rules.vote
    if vote is None:
        return
    if len(groups) != 1 or groups[0] == roles.REQUESTER:
        batch.problem(filename, bpmn_id, line, said("a vote is cast by the members of one staff group: give the "
                                                    "task exactly one lane or candidate group, not requester"))
    decision = next((f for f in form.fields if f.name == "decision"), None)
    if decision is None or {value for value, _label in decision.choices} != {"approve", "reject"}:
        batch.problem(filename, bpmn_id, line, said("a vote task's form needs a decision field with exactly the "
                                                    "choices approve and reject"))
    if vote.chair and vote.chair not in known_groups:
        batch.problem(filename, bpmn_id, line, said("vote_chair %(group)s is not a known group; known: %(known)s",
                                                    group=repr(vote.chair), known=", ".join(sorted(known_groups))))
    if element.xpath("./bpmn:multiInstanceLoopCharacteristics|./bpmn:standardLoopCharacteristics",
                     namespaces=bpmn_xml.NS):
        batch.problem(filename, bpmn_id, line, said("a vote task makes its own instances (one per voter): "
                                                    "remove its loop or multi-instance marker"))
    if vote.deadline:
        node = etree.Element(f"{{{bpmn_xml.BPMN_NS}}}timeDuration")
        node.text = vote.deadline
        _check_timer(batch, filename, bpmn_id, node, "timeDuration")


def _check_gateways(batch: _Batch, filename: str, tree: etree._ElementTree) -> None:
    """Every sequence flow joins two elements that exist (conditions: lint's conditional-flows)."""
    ns = bpmn_xml.NS
    index = bpmn_xml.element_index(tree)
    for flow in tree.getroot().xpath("//bpmn:sequenceFlow", namespaces=ns):
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if ref not in index:
                batch.problem(filename, flow.get("id"), flow.sourceline,
                              said("%(end)s %(ref)s names no element", end=end, ref=repr(ref)))


def _known_groups(session: Session) -> set[str]:
    return set(roles.GROUPS) | set(session.scalars(select(Group.name)))


def _deployed_sources(session: Session, keys: set[str], skip: set[str]) -> dict[str, ProcessDefinition]:
    """Latest deployed definitions of `keys` and what they call, transitively."""
    found: dict[str, ProcessDefinition] = {}
    todo = set(keys) - skip
    while todo:
        key = todo.pop()
        definition = latest(session, key)
        if definition is None:
            continue
        found[key] = definition
        todo |= set(definition.dependencies or {}) - skip - set(found)
    return found


def _parse_batch(session: Session, batch: _Batch) -> list[tuple[str, bytes, collaborations.Unit, etree._ElementTree, Any,
                                                               dict[str, Any], dict[str, int | None]]]:
    """Parse the batch with SpiffWorkflow (opsgate's timer definitions adopted, as when cases run);
    return (file, source, process, tree, spec, subspecs, deps)."""
    parser = new_parser()
    for filename, _source, tree in batch.dmn:
        try:
            parser.add_dmn_xml(tree.getroot(), filename)
        except (ValidationException, SpiffWorkflowException, etree.LxmlError) as err:
            batch.problem(filename, getattr(err, "id", None), getattr(err, "line_number", None), _msg(err))
        except (LookupError, ValueError, TypeError, AttributeError, RecursionError) as err:
            batch.problem(filename, None, None, said(
                "the decision table cannot be read (%(error)s: %(why)s): check that every rule has one entry per "
                "input and output", error=type(err).__name__, why=str(err)))
    executable: list[tuple[str, bytes, collaborations.Unit, etree._ElementTree]] = []
    for filename, source, tree in batch.bpmn:
        try:
            add_bpmn(parser, tree, filename)
        except ValidationException as err:
            batch.problem(filename, err.id or None, err.line_number or _line_of(tree, err.id), _words(err))
            continue
        except (SpiffWorkflowException, etree.LxmlError, LookupError, ValueError, TypeError, AttributeError) as err:
            batch.problem(filename, None, None, said("the engine cannot read this file: %(why)s", why=_msg(err)))
            continue
        except RecursionError:
            batch.problem(filename, None, None, TOO_DEEP)
            continue
        found = collaborations.units(tree)
        if not found:
            batch.problem(filename, None, None,
                          said("no executable process: set isExecutable=\"true\" on the process to deploy "
                               "(or keep it as a descriptive model, Processes > Descriptive models, to view it)"))
        executable += [(filename, source, u, tree) for u in found]
    if batch.problems:
        return []
    keys = {u.key for _f, _s, u, _t in executable}
    in_batch = keys | {m for _f, _s, u, _t in executable for m in u.members}  # pools run inside their collaboration
    called = {el.get("calledElement") for _f, _s, _p, t in executable
              for el in t.getroot().iter(f"{{{bpmn_xml.BPMN_NS}}}callActivity")}
    deployed = _deployed_sources(session, {c for c in called if c}, in_batch)
    for key, definition in deployed.items():
        add_bpmn(parser, bpmn_xml.parse_xml(definition.bpmn.encode()), f"{key} v{definition.version}")
    out = []
    for filename, source, unit, tree in executable:
        key = unit.key
        try:
            spec, subspecs = build(parser, key)
        except ValidationException as err:
            batch.problem(filename, err.id or key, err.line_number or _line_of(tree, err.id), _words(err))
            continue
        except (SpiffWorkflowException, LookupError, ValueError, TypeError, AttributeError) as err:
            batch.problem(filename, key, None, said("cannot build the process: %(why)s", why=_msg(err)))
            continue
        except RecursionError:
            batch.problem(filename, key, None, TOO_DEEP)
            continue
        deps = {k: (deployed[k].version if k in deployed else None) for k in subspecs
                if (k in deployed or k in keys) and k not in unit.members}
        out.append((filename, source, unit, tree, spec, subspecs, deps))
    return out


def _msg(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return " ".join(str(text).split())


# SpiffWorkflow's parse messages, said as what the process owner must change.
_SPIFF_WORDS: list[tuple[str, Callable[[str], str]]] = [
    ("There is no support implemented for this task type",
     lambda what: said("%(what)s is not supported by the engine: replace it with a supported element (docs/bpmn.md "
                       "lists them)", what=what)),
    ("Multiple outgoing flows are not supported for tasks of type",
     lambda what: said("%(what)s has more than one outgoing flow: split the flow with a gateway after it", what=what)),
    ("No start event found", lambda what: said("%(what)s has no start event: add one", what=what)),
    ("A SubWorkflow Must contain an End event", lambda what: said("%(what)s has no end event: add one inside it",
                                                                  what=what)),
    ("When looking for a task spec, we found two items",
     lambda what: said("%(what)s leads to an element whose id is also used by a form field or value: give them "
                       "different ids", what=what)),
    ("Duplicate process ID",
     lambda what: said("%(what)s: the same process id is defined twice in this deploy; give each its own id",
                       what=what)),
    ("RecursionError", lambda _what: TOO_DEEP),
]


# SpiffWorkflow's parse messages kept in its own words (they say what to change), made sayable.
_SPIFF_SAID: list[tuple[re.Pattern[str], Callable[..., str]]] = [
    (re.compile(r"Exactly one start event is required in a SubWorkflow Task; found (\d+)\.\."),
     lambda n: said("Exactly one start event is required in a SubWorkflow Task; found %(n)s..", n=n)),
    (re.compile(r"A multiinstance task must specify a cardinality or a loop input data reference\."),
     lambda: said("A multiinstance task must specify a cardinality or a loop input data reference.")),
    (re.compile(r'No DMN Diagram available with id "([^"]*)", Available DMN ids are: (.*)\.'),
     lambda ident, ids: said('No DMN Diagram available with id "%(id)s", Available DMN ids are: %(ids)s.', id=ident,
                             ids=ids)),
]


_XSD_VALUE = re.compile(r"Element '(?:\{[^}]*\})?(\w+)'(?:, attribute '(\w+)')?: '(.*)' is not a valid value of "
                        r"the atomic type 'xs:(\w+)'")
_XSD_KINDS = {"ID": said("id (a letter or _ first, then letters, digits, -, _ or ., no spaces)"),
              "IDREF": said("reference to an element id"), "QName": said("reference to an element id")}


def _words(err: ValidationException) -> str:
    """A SpiffWorkflow validation message in words, naming the element and what to change."""
    text = _msg(err)
    xsd = _XSD_VALUE.search(text)
    if xsd:
        element, attribute, value, kind = xsd.groups()
        where = said("attribute %(attribute)s of %(element)s", attribute=attribute, element=element) \
            if attribute else element
        return said("%(where)s: %(value)s is not a valid %(kind)s; correct it", where=where, value=repr(value),
                    kind=_XSD_KINDS.get(kind, kind))
    if "Unknown Time Specification" in text:
        timer = getattr(err, "id", "") or ""
        if not timer:
            return said("timer event has no time: give it a timeDuration, timeDate or timeCycle")
        return said("timer event %(timer)s has no time: give it a timeDuration, timeDate or timeCycle", timer=timer)
    tag = str(getattr(err, "tag", None) or "the element").rpartition("}")[2].rpartition(":")[2]
    what = f"{tag} {err.id}" if getattr(err, "id", None) else tag
    for needle, words in _SPIFF_WORDS:
        if needle in text:
            return words(what)
    for pattern, sentence in _SPIFF_SAID:
        match = pattern.fullmatch(text)
        if match:
            found = sentence(*match.groups())
            return found if found == text else text  # said only when the English is exactly SpiffWorkflow's
    return text


def _summary(problems: list[dict[str, Any]]) -> str:
    """The refusal's sentence: where the first problem is, what it is, and how many more there are."""
    first = problems[0]
    where: str = first["file"]
    if first["element_id"]:
        where = said("%(where)s, element %(element)s", where=where, element=first["element_id"])
    if first["line"]:
        where = said("%(where)s, line %(line)s", where=where, line=first["line"])
    if len(problems) > 1:
        return said("%(where)s: %(message)s (and %(more)s more)", where=where, message=first["message"],
                    more=len(problems) - 1)
    return said("%(where)s: %(message)s", where=where, message=first["message"])


def _line_of(tree: etree._ElementTree, element_id: str | None) -> int | None:
    if not element_id:
        return None
    found = bpmn_xml.element_index(tree).get(element_id)
    return found.sourceline if found is not None else None


def safe_name(filename: str) -> str:
    """A deploy file's name reduced to a safe base name (stored, shown, reused in evidence packs)."""
    name = clean_filename(filename or "")
    return name if name not in ("", ".", "..") else "upload.bpmn"


def source_hash(source: bytes, dmn: list[tuple[str, bytes, Any]]) -> str:
    digest = hashlib.sha256(source)
    for name, data, _tree in sorted(dmn, key=lambda d: d[0]):
        digest.update(b"\0" + name.encode() + b"\0" + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Checked:
    """One executable process of a deploy batch that passed every check."""

    filename: str
    source: bytes
    key: str
    manifest: Manifest
    dependencies: dict[str, int | None]  # called process -> deployed version (None: in this batch)
    dmn: list[tuple[str, bytes, Any]]
    warnings: tuple[dict[str, Any], ...] = ()  # lint findings that do not block, for this file


def _check_structure(batch: _Batch) -> None:
    """Lint and size every BPMN file; compile every DMN cell (before SpiffWorkflow reads them)."""
    for filename, _source, tree in batch.bpmn:
        too_big = checks.size_problems(filename, tree)
        batch.problems += too_big
        if too_big:
            continue
        _check_gateways(batch, filename, tree)
        errors, warnings = checks.lint_findings(filename, tree)
        batch.problems += errors
        batch.warnings += warnings
        errors, warnings = dialect.problems(filename, tree)
        batch.problems += errors
        batch.warnings += warnings
        executable = tree.getroot().xpath("//bpmn:process[@isExecutable='true']", namespaces=bpmn_xml.NS)
        for process in executable:
            batch.executable.append((filename, process))
    for filename, _source, tree in batch.dmn:
        batch.problems += checks.dmn_problems(filename, tree)


def validate(session: Session, files: list[tuple[str, bytes]]) -> list[Checked]:
    """Validate a deploy batch completely; raise InvalidDefinition listing every problem."""
    batch = _read_files(files)
    if not batch.problems:
        _check_structure(batch)
        batch.problems += checks.call_cycle_problems(session, batch.executable)
    if not batch.problems:
        batch.dmn += checks.resolve_decisions(session, batch.bpmn, batch.dmn)
    parsed = _parse_batch(session, batch) if not batch.problems else []
    known = _known_groups(session)
    max_instances = settings(session).max_instances
    manifests = []
    for filename, source, unit, tree, spec, subspecs, deps in parsed:
        _check_expressions(batch, filename, tree)
        batch.problems += checks.loop_problems(filename, tree, max_instances)
        manifest = _build_manifest(batch, filename, tree, unit, spec, subspecs, known)
        manifests.append((filename, source, unit, manifest, deps))
    if not batch.problems:
        batch.problems += checks.prefix_problems(
            session, [(f, u.key, m, u.process.sourceline) for f, _s, u, m, _d in manifests])
    if batch.problems:
        raise InvalidDefinition(_summary(batch.problems), batch.problems)
    return [Checked(f, s, u.key, m, d, batch.dmn,
                    tuple(w for w in batch.warnings if w["file"] == f)) for f, s, u, m, d in manifests]
