"""Moving an open case to another version of its process (docs/migration.md).

A case can move when every task it has completed or is waiting on (ready, waiting, started)
has a counterpart in the target version: the element with the same id and a compatible type,
or the element an explicit mapping names (`{"old_id": "new_id"}`). The comparison is
SpiffWorkflow's (`SpiffWorkflow.bpmn.util.diff`: its `SpecDiff` aligns the specs by id, once per
pair of versions in a run, and its `WorkflowDiff` aligns each case's tasks), and the move is its
`migrate_workflow`: tasks keep their ids, and the ready and waiting ones are predicted again from
the target version. opsgate then steps the case, gives its SLA clocks the time they had already
used (`timers.carry_clock_use`), rewrites its task rows, timer rows and SLA clocks from the target
version, and appends `case_migrated` naming both versions by number and sha256. A move back is a
move to the earlier version.

A run plans and moves with one `Planner`: `plan` only reads; `move_planned` acts in the caller's
transaction and never commits. The case row's optimistic version guards the move: a case changed
since it was planned or during the move is refused and nothing is written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import logcontext
from engine.cases import persistence, services, stepping
from engine.cases.serializer import REGISTRY, restore
from engine.config import settings
from engine.errors import InvalidData, NotAllowed, NotFound, said
from engine.processes import specs
from engine.records import audit
from engine.timing import clock
from engine.timing import timers as timer_events
from models import Case, ProcessDefinition, User

# The task states whose element must exist in the target: what the case did and what it waits on.
_KEPT = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class Reason:
    """Why a case cannot move: a rule and the element it concerns (pages translate the rule)."""

    rule: str            # missing | type | mapped_missing | called_process | same_version | not_open
    element_id: str = ""
    name: str = ""
    kind: str = ""       # the element's type in the case's version, e.g. "UserTask"
    target: str = ""     # the element the mapping named, or the new type

    @property
    def message(self) -> str:
        """The reason in English, for the command line and the API (said: a page's form says it in
        the reader's language)."""
        what = said("%(name)s (%(element)s, %(kind)s)", name=self.name or self.element_id, element=self.element_id,
                    kind=self.kind) if self.kind else self.element_id
        if self.rule == "missing":
            return said("%(what)s is not in the target version; map it to an element of the target", what=what)
        if self.rule == "type":
            return said("%(what)s is a %(kind)s in the target version", what=what, kind=self.target)
        if self.rule == "mapped_missing":
            return said("%(what)s is mapped to %(target)s, which the target version does not have", what=what,
                        target=self.target)
        if self.rule == "called_process":
            return said("the called process %(element)s is not in the target version", element=self.element_id)
        if self.rule == "same_version":
            return said("the case already runs on the target version")
        if self.rule == "not_open":
            return said("the case is not open")
        return self.rule


def _cannot_move(case_key: str, reasons: list[Reason]) -> InvalidData:
    """A refused move, its reasons joined by "; " (each said in the reader's language on a page)."""
    messages = [r.message for r in reasons]
    why = functools.reduce(lambda first, then: said("%(first)s; %(then)s", first=first, then=then),
                           messages) if messages else ""
    return InvalidData(said("%(case)s cannot move: %(why)s", case=case_key, why=why),
                       {"case": [r.message for r in reasons]})


@dataclass
class CasePlan:
    """One case's answer in a dry run."""

    case_id: int
    case_key: str
    from_version: int
    to_version: int
    version_id: int              # the case row's version when planned
    reasons: list[Reason] = field(default_factory=list)
    title: str = ""
    # What a move reuses (a movable case only): the case row as read, its restored instance and
    # that instance's alignment with the target (Planner.align).
    case: Case | None = field(default=None, repr=False, compare=False)
    aligned: tuple[Any, WorkflowDiff, dict[str, WorkflowDiff | None]] | None = \
        field(default=None, repr=False, compare=False)

    @property
    def can_move(self) -> bool:
        return not self.reasons


def check_may_migrate(actor: User | None) -> None:
    """Only process owners and admins move cases (None is the system: the command line)."""
    if actor is not None and not (actor.group_names & {"process_owner", "admin"}):
        raise NotAllowed(said("role: only process owners and admins move cases to another version"))


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """Read `old=new` element pairs (the command line's --map, the page's mapping box)."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        pair = pair.strip()
        if not pair:
            continue
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidData(said("a mapping is written old_element=new_element, not %(pair)s", pair=repr(pair)),
                              {"mapping": [said("%(pair)s is not old_element=new_element", pair=repr(pair))]})
        mapping[old.strip()] = new.strip()
    return mapping


def _target_spec(loaded: specs.Loaded, old_spec: Any, mapping: Mapping[str, str]) -> Any:
    """The target's task spec an explicitly mapped spec moves to (its internal parts follow it:
    `triage.BoundaryEventSplit` goes with `triage`)."""
    name = str(old_spec.name)
    element, dot, rest = name.partition(".")
    if element in mapping:
        return loaded.spec.task_specs.get(mapping[element] + dot + rest)
    return None


def _kept_open(case: Case) -> list[Reason]:
    return [] if case.status == "open" else [Reason("not_open")]


@dataclass(frozen=True)
class Moved:
    """A case that moved: from and to which version."""

    case_key: str
    from_version: int
    to_version: int


class Planner:
    """Plans and moves cases to one target version with one mapping.

    What is the same for every case of a run is done once: the target is parsed once, each
    version the cases are on is read and parsed once, and compared with the target once
    (SpiffWorkflow's `SpecDiff`); a case then costs its restore and the alignment of its own
    tasks (`WorkflowDiff`), which is what `diff_workflow` does per case. A plan keeps the case
    and its restored instance, so that `move_planned` need not read or restore it again."""

    def __init__(self, session: Session, target: ProcessDefinition, mapping: Mapping[str, str] | None = None):
        self.target = target
        self.mapping = dict(mapping or {})
        self.loaded = specs.load(session, target)
        self._sources: dict[int, tuple[ProcessDefinition, specs.Loaded] | None] = {}
        self._spec_diffs: dict[tuple[int, int], tuple[Any, Any, SpecDiff]] = {}
        known = {id(s) for s in self.loaded.spec.task_specs.values()}
        for sub in self.loaded.subprocess_specs.values():
            known |= {id(s) for s in sub.task_specs.values()}
        self._known = known

    def source(self, session: Session, definition_id: int) -> tuple[ProcessDefinition, specs.Loaded] | None:
        """A version cases are on, and its parsed spec (read once per run)."""
        if definition_id not in self._sources:
            definition = session.get(ProcessDefinition, definition_id)
            self._sources[definition_id] = None if definition is None else (definition, specs.load(session, definition))
        return self._sources[definition_id]

    def _spec_diff(self, spec: Any, new: Any) -> SpecDiff:
        key = (id(spec), id(new))
        hit = self._spec_diffs.get(key)
        if hit is None or hit[0] is not spec or hit[1] is not new:  # the specs are kept alive with it
            hit = self._spec_diffs[key] = (spec, new, SpecDiff(REGISTRY, spec, new))
        return hit[2]

    def _diff(self, workflow: Any) -> tuple[WorkflowDiff, dict[str, WorkflowDiff | None]]:
        """SpiffWorkflow's `diff_workflow`, with the spec comparisons made once per run."""
        top = WorkflowDiff(workflow, self._spec_diff(workflow.spec, self.loaded.spec))
        subs: dict[str, WorkflowDiff | None] = {}
        for sp_id, sp in workflow.subprocesses.items():
            new = self.loaded.subprocess_specs.get(sp.spec.name)
            subs[sp_id] = None if new is None else WorkflowDiff(sp, self._spec_diff(sp.spec, new))
        return top, subs

    def align(self, workflow: Any) -> tuple[WorkflowDiff, dict[str, WorkflowDiff | None], list[Reason]]:
        """Diff an instance against the target; apply the mapping; return the diffs and the reasons it cannot move."""
        top, sub_diffs = self._diff(workflow)
        loaded, mapping = self.loaded, self.mapping
        reasons: list[Reason] = []
        for task in workflow.get_tasks(skip_subprocesses=True):
            spec = task.task_spec
            mapped = _target_spec(loaded, spec, mapping)
            if mapped is not None:
                top.alignment[task] = mapped
            element = getattr(spec, "bpmn_id", None)
            if element is None or not task.state & _KEPT:
                continue  # an engine-internal task, or one only predicted: it is predicted again
            target = top.alignment.get(task)
            if str(element) in mapping and mapped is None:
                reasons.append(Reason("mapped_missing", str(element), spec.bpmn_name or "", type(spec).__name__,
                                      mapping[str(element)]))
            elif target is None or (mapped is None and target.name != spec.name):
                reasons.append(Reason("missing", str(element), spec.bpmn_name or "", type(spec).__name__))
            elif type(target).__name__ != type(spec).__name__:
                reasons.append(Reason("type", str(element), spec.bpmn_name or "", type(spec).__name__,
                                      type(target).__name__))
        for sp_id, sub_diff in sub_diffs.items():
            if sub_diff is None:
                reasons.append(Reason("called_process", str(workflow.subprocesses[sp_id].spec.name)))
        return top, sub_diffs, list(dict.fromkeys(reasons))

    def plan(self, session: Session, case: Case) -> CasePlan:
        """Tell whether a case can move to the target, and why not (reads only)."""
        source = self.source(session, case.definition_id)
        from_version = source[0].version if source is not None else 0
        plan = CasePlan(case.id, case.key, from_version, self.target.version, case.version_id, _kept_open(case),
                        case.title)
        if case.definition_id == self.target.id:
            plan.reasons.append(Reason("same_version"))
        if plan.reasons:
            return plan
        if source is None:
            raise NotFound(said("no process definition #%(definition)s", definition=case.definition_id))
        workflow = restore(case.state, source[1], settings(session))
        top, subs, reasons = self.align(workflow)
        plan.reasons.extend(reasons)
        if plan.can_move:
            plan.case, plan.aligned = case, (workflow, top, subs)
        return plan

    def move_planned(self, session: Session, plan: CasePlan, *, actor: User | None) -> Moved:
        """Move a case that `plan` found movable, in the caller's transaction, with the case row and
        instance the plan read: nothing is read or restored again.

        The writes themselves refuse a case that changed since it was planned, as they refuse a
        racing action on any save: the case row is written only where its version is still the
        planned one (else Conflict), a kept task row only while it is still ready (else Conflict),
        and the audit event's sequence number is unique in its chain (else IntegrityError). The
        caller rolls back, and nothing of the case is written."""
        if plan.case is None or plan.aligned is None:
            raise _cannot_move(plan.case_key, plan.reasons)
        check_may_migrate(actor)
        case, (workflow, top, subs) = plan.case, plan.aligned
        plan.case = plan.aligned = None  # a move changes both: never reused
        session.add(case)  # the row as planned, unchanged since (its version guards the write)
        logcontext.set_case(case.key)
        source = self._movable_source(session, case)
        return self._move(session, case, source, persistence.instance_of(case, source[1], workflow), actor,
                          (top, subs))

    def _movable_source(self, session: Session, case: Case) -> tuple[ProcessDefinition, specs.Loaded]:
        """The version an open case of the target's process is on (refused: another process,
        a closed case, a case already on the target)."""
        source = self.source(session, case.definition_id)
        if source is None or source[0].key != self.target.key:
            raise InvalidData(said("%(case)s is not a case of %(process)s", case=case.key, process=self.target.key),
                              {"case": [case.key]})
        reasons = _kept_open(case) + ([Reason("same_version")] if source[0].id == self.target.id else [])
        if reasons:
            raise InvalidData(said("%(case)s cannot move: %(why)s", case=case.key, why=reasons[0].message),
                              {"case": [r.message for r in reasons]})
        return source

    def _move(self, session: Session, case: Case, source: tuple[ProcessDefinition, specs.Loaded],
              instance: stepping.Instance, actor: User | None,
              diffs: tuple[WorkflowDiff, dict[str, WorkflowDiff | None]]) -> Moved:
        """Move an instance the target aligns with (no reason against it)."""
        target, loaded, mapping = self.target, self.loaded, self.mapping
        workflow = instance.workflow
        top, sub_diffs = diffs
        used = timer_events.clock_use(workflow, stepping.sla_elements(instance))
        migrate_workflow(top, workflow, loaded.spec)
        for sp_id, sub_diff in sub_diffs.items():
            if sub_diff is None:
                raise InvalidData(said("%(case)s cannot move: the called process is not in the target version",
                                       case=case.key), {"case": [str(workflow.subprocesses[sp_id].spec.name)]})
            subprocess = workflow.subprocesses[sp_id]
            migrate_workflow(sub_diff, subprocess, loaded.subprocess_specs[subprocess.spec.name])
        workflow.subprocess_specs = loaded.subprocess_specs
        instance.loaded = loaded
        case.definition_id = target.id
        stepping.step(instance)
        timer_events.carry_clock_use(workflow, used, stepping.sla_elements(instance))
        self._check_moved(workflow, case.key)
        audit.append(session, case, actor=actor, type="case_migrated", data={
            "process": target.key,
            "from": {"version": source[0].version, "sha256": source[0].sha256},
            "to": {"version": target.version, "sha256": target.sha256},
            "mapping": mapping, "at": clock.now().isoformat(),
        })
        persistence.save_migrated(session, instance, actor=actor)
        services.flush(session)
        return Moved(case.key, source[0].version, target.version)

    def _check_moved(self, workflow: Any, case_key: str) -> None:
        """Refuse a move that left a task on a spec of the old version (nothing is then saved)."""
        for task in workflow.get_tasks():
            if id(task.task_spec) not in self._known:
                raise InvalidData(said("%(case)s cannot move: %(element)s has no counterpart in the target version",
                                       case=case_key, element=str(task.task_spec.name)),
                                  {"case": [str(task.task_spec.name)]})


def open_cases(session: Session, key: str, *, from_version: int | None = None, case_keys: Iterable[str] = (),
               after_id: int = 0, limit: int = 200) -> list[Case]:
    """Open cases of a process in id order, from one version or all (a page of `limit`); named
    cases are listed whatever their status, so a dry run can say that one is closed."""
    keys = list(case_keys)
    query = select(Case).where(Case.process_key == key, Case.id > after_id)
    if not keys:
        query = query.where(Case.status == "open")
    if from_version is not None:
        query = query.join(ProcessDefinition, ProcessDefinition.id == Case.definition_id).where(
            ProcessDefinition.version == from_version)
    if keys:
        query = query.where(Case.key.in_(keys))
    return list(session.scalars(query.order_by(Case.id).limit(limit)))
