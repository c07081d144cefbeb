"""Read models for the web pages: the home summary, case lists with their open steps, a case's
page (timeline, path taken, SLA clocks), inboxes, process versions and audit search.

Read-only: nothing here writes, except verify_chain, which records nothing either (an
audit check changes no data). Who may read what is engine.cases.access's rule, applied through
engine.cases.services' readers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import access, attachments, external_jobs, queries, readable, serializer, services, voting
from engine.config import settings
from engine.errors import Conflict, NotAllowed, said
from engine.people import delegations, providers, roles, users
from engine.processes import catalog, specs
from engine.processes.forms import Field
from engine.records import audit
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, ProcessDefinition, Timer, User

SOON = dt.timedelta(hours=4)


@dataclass(frozen=True)
class Warning:
    """An SLA clock that ran out or soon will."""

    due_at: dt.datetime
    case_key: str
    what: tuple[str, str | None]  # the task's or timer's name, and its Chinese name where the BPMN gives one
    task_id: str | None = None


@dataclass
class HomeSummary:
    tasks: list[HumanTask]
    cases: list[Case]
    steps: dict[int, list[str]]
    warnings: list[Warning]


@dataclass
class CaseListing:
    items: list[Case]
    next_page: int | None
    steps: dict[int, list[str]]
    due: dict[int, dt.datetime]
    processes: list[ProcessDefinition]
    all_cases: bool
    escalated: set[int] = field(default_factory=set)


@dataclass
class CasePage:
    case: Case
    tasks: list[HumanTask]
    timers: list[Timer]
    timeline: list[AuditEvent]
    marks: dict[str, list[str]]
    names: dict[str, str]
    attachments: list[Any]
    can_attach: bool
    can_audit: bool
    values: list[readable.Shown] = field(default_factory=list)
    history: list[readable.Entry] = field(default_factory=list)
    decisions: list[readable.Decision] = field(default_factory=list)
    clocks: list[readable.Clock] = field(default_factory=list)
    response: readable.Target | None = None
    outcome: tuple[str, str | None] | None = None
    votes: list[voting.VoteView] = field(default_factory=list)
    jobs: list[external_jobs.JobView] = field(default_factory=list)  # external tasks it waits on


@dataclass
class TaskPage:
    task: HumanTask
    fields: list[Field]
    gate: bool
    essentials: list[readable.Shown]
    refusal: str | None
    # The person the actor would act for, as their deputy (engine.people.delegations).
    behalf: User | None = None
    may_reassign: bool = False


def open_steps(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    """Name the ready tasks of each case."""
    steps: dict[int, list[str]] = {i: [] for i in case_ids}
    if case_ids:
        rows = session.execute(select(HumanTask.case_id, HumanTask.name).where(
            HumanTask.case_id.in_(case_ids), HumanTask.state == "ready").order_by(HumanTask.created_at))
        for case_id, name in rows:
            steps[case_id].append(name)
    return steps


def next_due(session: Session, case_ids: list[int]) -> dict[int, dt.datetime]:
    """Return each case's soonest running SLA clock (its deadline, not the 75% warning)."""
    due: dict[int, dt.datetime] = {}
    if case_ids:
        for timer in session.scalars(select(Timer).where(Timer.case_id.in_(case_ids), Timer.kind != "sla_warning")):
            if timer.case_id is not None and (timer.case_id not in due or timer.due_at < due[timer.case_id]):
                due[timer.case_id] = timer.due_at
    return due


def home_summary(session: Session, *, actor: User) -> HomeSummary:
    """Collect the home page: my tasks, my open cases, SLA warnings on both."""
    tasks = queries.list_tasks(session, actor=actor, scope="group", limit=20)
    cases = list(session.scalars(select(Case).where(Case.requester_id == actor.id, Case.status == "open")
                                 .options(*queries.LIST_CASE_OPTIONS).order_by(Case.updated_at.desc()).limit(20)))
    queries.load_definitions(session, [*cases, *(t.case for t in tasks)])
    horizon = clock.now() + SOON
    warnings = [Warning(t.due_at, t.case.key, specs.manifest_of(t.case.definition).element_names(t.element_id, t.name),
                        t.id) for t in tasks if t.due_at and t.due_at <= horizon]
    mine = {c.id: c for c in cases}
    if mine:
        for timer in session.scalars(select(Timer).where(Timer.case_id.in_(mine), Timer.due_at <= horizon)):
            case = mine.get(timer.case_id or 0)
            if case is not None and not any(w.case_key == case.key for w in warnings):
                warnings.append(Warning(timer.due_at, case.key,
                                        specs.manifest_of(case.definition).element_names(timer.element_id)))
    warnings.sort(key=lambda w: w.due_at)
    return HomeSummary(tasks, cases, open_steps(session, list(mine)), warnings)


def case_listing(session: Session, *, actor: User, page: int = 1, process: str | None = None,
                 status: str | None = None, before: int | None = None) -> CaseListing:
    """List one page of the cases the actor may read, with their open steps and SLA (`before`:
    the cases below that id, as queries.list_cases reads them)."""
    rows, next_page = queries.list_cases(session, actor=actor, process=process or None, status=status or None,
                                          page=page, before=before)
    ids = [c.id for c in rows]
    queries.load_definitions(session, rows)
    return CaseListing(rows, next_page, open_steps(session, ids), next_due(session, ids),
                       catalog.list_definitions(session), bool(roles.staff_groups(actor)),
                       escalated_cases(session, rows))


def escalated_cases(session: Session, cases: list[Case]) -> set[int]:
    """Return which of the cases were escalated (an SLA ran out on them): their own chains are
    read through the (chain, seq) index, never the case_escalated events of every case."""
    if not cases:
        return set()
    by_key = {c.key: c.id for c in cases}
    return {by_key[chain] for chain in session.scalars(select(AuditEvent.chain).where(
        AuditEvent.chain.in_(sorted(by_key)), AuditEvent.type == "case_escalated")) if chain in by_key}


def path_marks(session: Session, case: Case, workflow: Any = None) -> dict[str, list[str]]:
    """Say which BPMN elements the case has passed (done) and which wait for people (current)."""
    if workflow is None:
        workflow = serializer.restore(case.state, specs.load_by_id(session, case.definition_id), settings(session))
    done: set[str] = set()
    current: set[str] = set()
    for each in [workflow, *workflow.subprocesses.values()]:
        for task in each.tasks.values():
            element = getattr(task.task_spec, "bpmn_id", None)
            if not element:
                continue
            if task.state == TaskState.READY and getattr(task.task_spec, "manual", False):
                current.add(element)
            elif task.state in (TaskState.COMPLETED, TaskState.STARTED) or \
                    (task.state == TaskState.READY and not getattr(task.task_spec, "manual", False)):
                done.add(element)
    return {"done": sorted(done - current), "current": sorted(current)}


def element_names(definition: ProcessDefinition) -> dict[str, str]:
    """Map the element ids of a version's tasks and timers to their names."""
    manifest = specs.manifest_of(definition)
    return {element: manifest.element_name(element) for element in [*manifest.timers, *manifest.tasks]}


def case_page(session: Session, ref: str, *, actor: User) -> CasePage:
    """Collect everything the case page shows."""
    case = queries.get_case(session, ref, actor=actor)
    timers = list(session.scalars(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at)))
    manifest = specs.manifest_of(case.definition)
    timeline = audit.history(session, case)
    entries = readable.history(session, case, manifest, timeline)
    loaded = specs.load_by_id(session, case.definition_id)
    workflow = serializer.restore(case.state, loaded, settings(session))
    return CasePage(case=case, tasks=queries.open_tasks(session, case), timers=timers,
                    timeline=timeline, marks=path_marks(session, case, workflow),
                    votes=voting.views(session, workflow, manifest, timers),
                    jobs=external_jobs.jobs_of_case(session, case.id, loaded) if case.status == "open" else [],
                    names=element_names(case.definition),
                    attachments=attachments.list_attachments(session, case),
                    can_attach=case.status == "open" and attachments.may_attach(session, case, actor),
                    can_audit=bool(actor.group_names & roles.READ_ALL),
                    values=readable.case_values(manifest, case.data or {}), history=entries,
                    decisions=readable.decisions(entries), clocks=readable.clocks(case, timers, manifest, timeline),
                    response=readable.response_target(case, timeline),
                    outcome=readable.outcome_names(manifest, case.outcome) if case.outcome else None)


INBOX_PAGE = 50


@dataclass
class InboxPage:
    tasks: list[HumanTask]
    page: int
    next_page: int | None


def inbox(session: Session, *, actor: User, scope: str, page: int = 1, per_page: int = INBOX_PAGE) -> InboxPage:
    """Return a page of the actor's inbox, soonest due first (no due time last), with each
    task's case, assignee and process version loaded (two statements, whatever the page size)."""
    page = max(1, page)
    rows = queries.list_tasks(session, actor=actor, scope=scope, limit=per_page + 1, offset=(page - 1) * per_page)
    tasks = rows[:per_page]
    queries.load_definitions(session, (t.case for t in tasks))
    return InboxPage(tasks, page, page + 1 if len(rows) > per_page else None)


def refusal_for(session: Session, task: HumanTask, actor: User) -> str | None:
    """Say in words why the actor may not complete this task, or None if they may (a Said: the
    page says it in the reader's language)."""
    manifest = specs.load_by_id(session, task.case.definition_id).manifest
    rules = manifest.task(task.element_id)
    if task.state != "ready":
        by = task.completed_by.name if task.completed_by is not None else None
        return said("%(refusal)s.", refusal=access.ended(task, access.task_name(task, rules), by))
    try:
        principal = access.acting_for(session, actor, task.case, task, rules)
        access.check_may_act(actor, task.case, task, rules, manifest, principal=principal)
    except (NotAllowed, Conflict) as err:
        return err.message if isinstance(err, NotAllowed) else said("%(refusal)s.", refusal=err.message)
    return None


def task_page(session: Session, task_id: str, *, actor: User) -> TaskPage:
    """Collect the task page: the task, its form, the case's essentials, any refusal."""
    task = queries.get_task(session, task_id, actor=actor)
    form = queries.task_form(session, task)
    start = specs.manifest_of(task.case.definition).start_form
    data = task.case.data or {}
    essentials = [readable.shown_value(f, data[f.name]) for f in start.fields if data.get(f.name) not in (None, "")]
    refusal = refusal_for(session, task, actor)
    behalf = None
    if refusal is None and task.state == "ready":
        manifest = specs.load_by_id(session, task.case.definition_id).manifest
        behalf = access.acting_for(session, actor, task.case, task, manifest.task(task.element_id))
    return TaskPage(task, list(form.fields), form.is_gate, essentials, refusal, behalf=behalf,
                    may_reassign=task.state == "ready" and bool(actor.group_names & delegations.MANAGERS)
                    and manifest_vote(session, task) is None)


def manifest_vote(session: Session, task: HumanTask) -> Any:
    """A task's vote rules, if it is a vote."""
    return specs.load_by_id(session, task.case.definition_id).manifest.task(task.element_id).vote


def deputising(session: Session, tasks: list[HumanTask], *, actor: User) -> dict[str, str]:
    """For an inbox: the tasks offered to the actor as someone's deputy, with that person's name
    as people read it. The tasks themselves were selected in SQL (queries.list_tasks)."""
    people = delegations.principals(session, actor)
    if not people:
        return {}
    mine = roles.staff_groups(actor)
    out = {}
    for task in tasks:
        groups = set(task.candidate_groups or ())
        if task.assignee_id == actor.id or (task.assignee_id is None and mine & groups):
            continue
        for person in people:
            if task.assignee_id == person.id or (task.assignee_id is None and person.group_names & groups):
                out[task.id] = person.display_name or person.name
                break
    return out


def start_suggestions(session: Session, fields: list[Field], *, actor: User) -> dict[str, list[tuple[str, str]]]:
    """What a start form offers to pick from: the registered systems for `system`, and for
    staff the people a case may be opened for (`requested_for`)."""
    names = {f.name for f in fields if f.type == "string"}
    out: dict[str, list[tuple[str, str]]] = {}
    if "system" in names:
        out["system"] = [(system, f"{system} · {provider}") for system, provider in providers.list_systems(session)]
    if services.REQUESTED_FOR in names and roles.staff_groups(actor):
        out[services.REQUESTED_FOR] = [(name, f"{display} ({name})") for name, display in users.list_people(session)]
    return {k: v for k, v in out.items() if v}


def startable(session: Session, *, actor: User) -> list[ProcessDefinition]:
    """The latest version of each process the actor may open a case of (`start_groups`)."""
    return [d for d in catalog.list_definitions(session)
            if specs.manifest_of(d).process.may_start(actor.group_names)]


def start_form(definition: ProcessDefinition, actor: User | None = None) -> list[Field]:
    """Return a version's start form fields (refused to an actor who may not open such a case)."""
    manifest = specs.manifest_of(definition)
    if actor is not None and not manifest.process.may_start(actor.group_names):
        raise access.may_not_start(manifest.process)
    return list(manifest.start_form.fields)
