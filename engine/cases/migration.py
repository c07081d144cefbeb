"""Moving an open case to another version of its process (docs/migration.md).

A case can move when every task it has completed or is waiting on (ready, waiting, started)
has a counterpart in the target version: the element with the same id and a compatible type,
or the element an explicit mapping names (`{"old_id": "new_id"}`). The comparison is
SpiffWorkflow's (`SpiffWorkflow.bpmn.util.diff.diff_workflow`, whose `SpecDiff` aligns the specs
by id), and the move is its `migrate_workflow`: tasks keep their ids, and the ready and
waiting ones are predicted again from the target version. opsgate then steps the case, gives
its SLA clocks the time they had already used (`timers.carry_clock_use`), rewrites its task
rows, timer rows and SLA clocks from the target version, and appends `case_migrated` naming
both versions by number and sha256. A move back is a move to the earlier version.

`plan_case` only reads; `migrate_case` acts in the caller's transaction and never commits.
The case row's optimistic version guards the move: a case changed since it was planned
(`expected_version`) or during the move is refused with Conflict and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import persistence, services, stepping
from engine.cases.serializer import REGISTRY, restore
from engine.config import settings
from engine.errors import Conflict, InvalidData, NotAllowed
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
        """The reason in English, for the command line and the API."""
        what = f"{self.name or self.element_id} ({self.element_id}, {self.kind})" if self.kind else self.element_id
        return {
            "missing": f"{what} is not in the target version; map it to an element of the target",
            "type": f"{what} is a {self.target} in the target version",
            "mapped_missing": f"{what} is mapped to {self.target}, which the target version does not have",
            "called_process": f"the called process {self.element_id} is not in the target version",
            "same_version": "the case already runs on the target version",
            "not_open": "the case is not open",
        }.get(self.rule, self.rule)


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

    @property
    def can_move(self) -> bool:
        return not self.reasons


def check_may_migrate(actor: User | None) -> None:
    """Only process owners and admins move cases (None is the system: the command line)."""
    if actor is not None and not (actor.group_names & {"process_owner", "admin"}):
        raise NotAllowed("role: only process owners and admins move cases to another version")


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """Read `old=new` element pairs (the command line's --map, the page's mapping box)."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        pair = pair.strip()
        if not pair:
            continue
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidData(f"a mapping is written old_element=new_element, not {pair!r}",
                              {"mapping": [f"{pair!r} is not old_element=new_element"]})
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


def _align(workflow: Any, loaded: specs.Loaded, mapping: Mapping[str, str]) -> tuple[Any, dict[str, Any], list[Reason]]:
    """Diff the instance against the target; apply the mapping; return the diffs and the reasons it cannot move."""
    top, sub_diffs = diff_workflow(REGISTRY, workflow, loaded.spec, loaded.subprocess_specs)
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
    unique = list(dict.fromkeys(reasons))
    return top, sub_diffs, unique


def _kept_open(case: Case) -> list[Reason]:
    return [] if case.status == "open" else [Reason("not_open")]


def plan_case(session: Session, case: Case, target: ProcessDefinition,
              mapping: Mapping[str, str] | None = None) -> CasePlan:
    """Tell whether a case can move to `target`, and why not (reads only)."""
    source = session.get(ProcessDefinition, case.definition_id)
    from_version = source.version if source is not None else 0
    plan = CasePlan(case.id, case.key, from_version, target.version, case.version_id, _kept_open(case), case.title)
    if case.definition_id == target.id:
        plan.reasons.append(Reason("same_version"))
    if plan.reasons:
        return plan
    workflow = restore(case.state, specs.load_by_id(session, case.definition_id), settings(session))
    _top, _subs, reasons = _align(workflow, specs.load(session, target), mapping or {})
    plan.reasons.extend(reasons)
    return plan


@dataclass(frozen=True)
class Moved:
    """A case that moved: from and to which version."""

    case_key: str
    from_version: int
    to_version: int


def migrate_case(session: Session, case: Case, target: ProcessDefinition, *, actor: User | None,
                 mapping: Mapping[str, str] | None = None, expected_version: int | None = None) -> Moved:
    """Move one open case to `target` in the caller's transaction, or refuse with nothing written."""
    check_may_migrate(actor)
    mapping = dict(mapping or {})
    if expected_version is not None and case.version_id != expected_version:
        raise Conflict(f"{case.key} changed since it was planned; plan it again")
    source = session.get(ProcessDefinition, case.definition_id)
    if source is None or source.key != target.key:
        raise InvalidData(f"{case.key} is not a case of {target.key}", {"case": [case.key]})
    reasons = _kept_open(case) + ([Reason("same_version")] if source.id == target.id else [])
    if reasons:
        raise InvalidData(f"{case.key} cannot move: {reasons[0].message}", {"case": [r.message for r in reasons]})
    instance = persistence.open_instance(session, case)
    loaded = specs.load(session, target)
    top, sub_diffs, reasons = _align(instance.workflow, loaded, mapping)
    if reasons:
        raise InvalidData(f"{case.key} cannot move: " + "; ".join(r.message for r in reasons),
                          {"case": [r.message for r in reasons]})
    workflow = instance.workflow
    used = timer_events.clock_use(workflow, stepping.sla_elements(instance))
    migrate_workflow(top, workflow, loaded.spec)
    for sp_id, sub_diff in sub_diffs.items():
        subprocess = workflow.subprocesses[sp_id]
        migrate_workflow(sub_diff, subprocess, loaded.subprocess_specs[subprocess.spec.name])
    workflow.subprocess_specs = loaded.subprocess_specs
    instance.loaded = loaded
    case.definition_id = target.id
    stepping.step(instance)
    timer_events.carry_clock_use(workflow, used, stepping.sla_elements(instance))
    _check_moved(workflow, loaded, case.key)
    audit.append(session, case, actor=actor, type="case_migrated", data={
        "process": target.key,
        "from": {"version": source.version, "sha256": source.sha256},
        "to": {"version": target.version, "sha256": target.sha256},
        "mapping": mapping, "at": clock.now().isoformat(),
    })
    persistence.save_migrated(session, instance, actor=actor)
    services.flush(session)
    return Moved(case.key, source.version, target.version)


def _check_moved(workflow: Any, loaded: specs.Loaded, case_key: str) -> None:
    """Refuse a move that left a task on a spec of the old version (nothing is then saved)."""
    known = {id(s) for s in loaded.spec.task_specs.values()}
    for sub in loaded.subprocess_specs.values():
        known |= {id(s) for s in sub.task_specs.values()}
    for task in workflow.get_tasks():
        if id(task.task_spec) not in known:
            raise InvalidData(f"{case_key} cannot move: {task.task_spec.name} has no counterpart in the target version",
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
