"""The use cases: open a case, claim, release and complete tasks, fire due timers, and read them.

Each function works inside the caller's transaction and never commits. A case row carries an
optimistic version: two actions on one case at once leave exactly one winner, and the other
gets Conflict with nothing written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import logcontext, prepared
from engine.cases import access, action_read, events, persistence, review, stepping, voting
from engine.config import settings
from engine.errors import Conflict, InvalidData, Name, NotAllowed, NotFound, said
from engine.notifications import outbox, webhooks
from engine.people import delegations, providers, roles, users
from engine.processes import catalog, scripting, specs, votes
from engine.processes.forms import validate_form
from engine.records import audit
from engine.timing import clock
from engine.timing import timers as timer_events
from models import Case, CaseCounter, HumanTask, User

log = logging.getLogger(__name__)


P = ParamSpec("P")


R = TypeVar("R")


# Case data keys the engine sets itself; a form may not overwrite them.
RESERVED = {"case_key", "requester", "opened_by", "opened_from", "start_event"}


# A start-form field the engine understands: the user the case is for, when staff log it for them.
REQUESTED_FOR = "requested_for"


def flush(session: Session) -> None:
    """Flush, turning a lost race on a case into Conflict (the caller rolls back)."""
    with _races():
        session.flush()


@contextlib.contextmanager
def _races() -> Iterator[None]:
    try:
        yield
    except (StaleDataError, IntegrityError) as err:
        log.info("concurrent change refused: %s", err.__class__.__name__)
        raise Conflict(said("the case was changed by someone else at the same time; reload it and try again")) from None


def race_safe(fn: Callable[P, R]) -> Callable[P, R]:
    """A lost race may surface in any autoflush inside a use case: report it as Conflict.

    On PostgreSQL the use case's prepared writes are held and sent together at its end, in one
    pipeline, one round trip (`prepared.holding`); a guarded write that counted short there
    raises the Conflict it would have raised alone, or StaleDataError, here Conflict too. A
    read in between sends what is held first, so the use case reads its own writes."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session: Session = args[0]  # type: ignore[assignment]
        with _races(), session.no_autoflush, prepared.holding(session):
            return fn(*args, **kwargs)

    return wrapper


def _next_key(session: Session, prefix: str) -> str:
    """Hand out the next case number for a prefix, atomically on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(CaseCounter).values(prefix=prefix, last=1).on_conflict_do_update(
        index_elements=[CaseCounter.prefix], set_={"last": CaseCounter.last + 1})
    number = session.execute(upsert.returning(CaseCounter.last)).scalar_one()
    return f"{prefix}-{number:06d}"


@race_safe
def start_case(session: Session, process_key: str, data: Any, *, actor: User | None,
               title: str | None = None, start_event: str | None = None, opened_from: Case | None = None,
               message: str | None = None, message_key: str | None = None) -> Case:
    """Open a case of the latest version of a process, its data checked against the start form.

    `actor` None is the system; `start_event` is the element id of the timer start event that
    fired (a scheduled start), which then counts as the event the case started from;
    `opened_from` is the case this one follows up (its key lands in the data as `opened_from`);
    `message` is the name of the message that starts it at a message start event
    (engine.cases.messages), its payload the start data (`message_key` its idempotency key, for
    the audit trail).
    """
    if actor is not None:
        roles.check_may_start(actor)
    definition = catalog.get_definition(session, process_key)
    loaded = specs.load(session, definition)
    info = loaded.manifest.process
    if actor is not None and not start_event and not info.may_start(actor.group_names):
        raise access.may_not_start(info)
    cleaned = validate_form(loaded.manifest.start_form, data)
    clash = RESERVED & set(cleaned)
    if clash:
        raise InvalidData(said("reserved field names"), {k: [said("is set by the engine")] for k in clash})
    requester = _requested_for(session, cleaned.get(REQUESTED_FOR), actor)
    title = (title or cleaned.get("title") or "").strip()
    if len(title) > 300:
        raise InvalidData(said("title is too long"), {"title": [said("must be at most %(n)s characters", n=300)]})
    now = clock.now()
    key = _next_key(session, loaded.manifest.process.case_prefix)
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=scripting.script_engine(settings(session)))
    workflow.task_tree.data.update(cleaned, case_key=key, requester=audit.actor_name(requester),
                                   opened_by=audit.actor_name(actor))
    if opened_from is not None:
        workflow.task_tree.data["opened_from"] = opened_from.key
    if loaded.manifest.start_timers():
        # Which schedule opened the case (None: by hand), for processes with several (docs/bpmn.md).
        workflow.task_tree.data["start_event"] = start_event
    if start_event:
        timer_events.fire_start_event(workflow, start_event)
    case = Case(key=key, process_key=definition.key, definition_id=definition.id, title=title or key,
                requester_id=requester.id if requester else None, status="open", data={}, actors={}, state="",
                serializer_version="",
                created_at=now, updated_at=now, audit_seq=0, audit_head="")
    case.provider = cleaned.get("provider") or providers.provider_for_system(session, cleaned.get("system"))
    session.add(case)
    flush(session)
    started = {"process": definition.key, "version": definition.version, "title": case.title,
               "requester": audit.actor_name(requester), "data": cleaned}
    if opened_from is not None:
        started["opened_from"] = opened_from.key
    audit.append(session, case, actor=actor, type="case_started", data=started)
    instance = stepping.Instance(case, workflow, loaded)
    voting.prime(session, instance, root=True)
    stepping.step(instance)
    if message is not None:
        elements = events.deliver(workflow, "message", message, cleaned)
        if not elements:
            raise NotFound(said("%(process)s does not start with message %(message)s",
                                 process=Name(info.name, info.name_zh), message=repr(message)))
        stepping.step(instance)
        audit.append(session, case, actor=actor, type="message_received", task=elements[0],
                     data={"name": message, "elements": elements, "data": cleaned,
                           **({"idempotency_key": message_key} if message_key else {})})
    persistence.save(session, instance, actor=actor)
    system = (case.data or {}).get("system")
    if case.provider is None and system and system != cleaned.get("system"):
        # A scheduled case learns its system from its first steps (a script sets it).
        case.provider = providers.provider_for_system(session, str(system))
    flush(session)
    logcontext.set_case(key)
    webhooks.emit(session, "case.opened", case)
    log.info("%s started %s (%s v%s)", audit.actor_name(actor), key, definition.key, definition.version)
    return case


def _requested_for(session: Session, name: Any, actor: User | None) -> User | None:
    """Return who a new case is for: the actor, or the user staff (or the system) named in
    `requested_for`."""
    if name in (None, "") or (actor is not None and name == actor.name):
        return actor
    if actor is not None and not roles.staff_groups(actor):
        raise NotAllowed(said("role: only staff open cases for someone else"))
    user = users.find_user(session, str(name).strip())
    if user is None or not user.active:
        nobody = said("no active user named %(name)s", name=repr(name))
        raise InvalidData(nobody, {REQUESTED_FOR: [nobody]})
    return user


def _ready_task(session: Session, task_id: str) -> tuple[HumanTask, Case]:
    """Return a ready task and its case, as the session's objects (or raise NotFound / Conflict).
    Every action on a task starts here: one statement reads the task with its case."""
    read = action_read.task_with_case(session, str(task_id))
    if read is None:
        raise NotFound(said("no task %(task)s", task=str(task_id)))
    task, case = read
    if task.state != "ready":
        by = _holder(session, task.completed_by_id) if task.completed_by_id is not None else None
        raise Conflict(access.ended(task, _task_name(session, task, case), by))
    return task, case


def _task_name(session: Session, task: HumanTask, case: Case) -> Name:
    """A task's name in both languages for a refusal (its version's manifest: cached, and read
    only when refusing)."""
    return Name(task.name, specs.load_by_id(session, case.definition_id).manifest.task(task.element_id).name_zh)


def _user_name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else "someone"


def _holder(session: Session, user_id: int | None) -> str:
    """Who holds or did a task, for a sentence ("someone" said in the reader's language)."""
    user = session.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else access.SOMEONE


@race_safe
def claim_task(session: Session, task_id: str, *, actor: User) -> HumanTask:
    """Take a ready task so that others in the group see it as taken."""
    roles.check_may_write(actor)
    task, case = _ready_task(session, task_id)
    if task.assignee_id == actor.id:
        return task
    if task.assignee_id is not None:
        raise Conflict(said("%(task)s is claimed by %(person)s", task=_task_name(session, task, case),
                            person=_holder(session, task.assignee_id)))
    manifest = specs.load_by_id(session, case.definition_id).manifest
    rules = manifest.task(task.element_id)
    principal = access.acting_for(session, actor, case, task, rules)
    access.check_may_act(actor, case, task, rules, manifest, principal=principal)
    task.assignee_id, task.claimed_at = actor.id, clock.now()
    behalf = {"on_behalf_of": principal.name} if principal is not None else {}
    audit.append(session, case, actor=actor, type="task_claimed", task=task.element_id,
                 data={"task_id": task.id, **behalf})
    case.updated_at = clock.now()
    flush(session)
    return task


@race_safe
def release_task(session: Session, task_id: str, *, actor: User) -> HumanTask:
    """Give a claimed task back to its group (its holder, or an admin)."""
    roles.check_may_write(actor)
    task, case = _ready_task(session, task_id)
    if task.assignee_id is None:
        return task
    if task.assignee_id != actor.id and "admin" not in actor.group_names:
        raise NotAllowed(said("“%(task)s” is claimed by %(person)s; only they or an admin may release it (role rule).",
                              task=_task_name(session, task, case), person=_holder(session, task.assignee_id)))
    task.assignee_id, task.claimed_at = None, None
    audit.append(session, case, actor=actor, type="task_released", task=task.element_id,
                 data={"task_id": task.id})
    case.updated_at = clock.now()
    flush(session)
    return task


@race_safe
def reassign_task(session: Session, task_id: str, *, to: str, reason: str, actor: User) -> HumanTask:
    """Give a ready task to someone else, with a reason (a manager or an admin): it becomes
    theirs as if they had claimed it. The new holder must be allowed to do it (candidate group,
    separation of duties); a vote stays its member's (their deputy may cast it)."""
    roles.check_may_write(actor)
    if not actor.group_names & delegations.MANAGERS:
        raise NotAllowed(said("Only a manager or an admin reassigns a task (role rule)."))
    why = (reason or "").strip()
    if not why or len(why) > 500:
        raise InvalidData(said("a reason is required"),
                          {"reason": [said("say why the task is reassigned (1-500 characters)")]})
    task, case = _ready_task(session, task_id)
    target = users.find_user(session, (to or "").strip())
    if target is None or not target.active:
        nobody = said("no active user named %(name)s", name=repr(to))
        raise InvalidData(nobody, {"to": [nobody]})
    manifest = specs.load_by_id(session, case.definition_id).manifest
    rules = manifest.task(task.element_id)
    if rules.vote is not None:
        raise NotAllowed(said("“%(task)s” is a vote, cast by each member (or their deputy): it is not reassigned "
                              "(role rule).", task=access.task_name(task, rules)))
    try:
        access.check_may_act(target, case, task, rules, manifest)
    except NotAllowed as err:
        raise NotAllowed(said("%(person)s cannot take “%(task)s”: %(why)s", person=target.name,
                              task=access.task_name(task, rules), why=err.message)) from None
    before = _user_name(session, task.assignee_id) if task.assignee_id is not None else None
    task.assignee_id, task.claimed_at = target.id, clock.now()
    audit.append(session, case, actor=actor, type="task_reassigned", task=task.element_id,
                 data={"task_id": task.id, "name": task.name, "from": before, "to": target.name, "reason": why})
    outbox.notify(session, kind="task_assigned", recipients=[target], subject=f"{case.key}: {task.name}"[:300],
                  body=f"{actor.name} gave you {task.name} on {case.key} ({case.title}): {why}",
                  case_id=case.id, task_id=task.id)
    case.updated_at = clock.now()
    flush(session)
    return task


@race_safe
def complete_task(session: Session, task_id: str, data: Any, *, actor: User) -> Case:
    """Complete a ready task for the actor with the submitted form data, and move the case on."""
    roles.check_may_write(actor)
    task, case = _ready_task(session, task_id)
    instance = persistence.open_instance(session, case)
    rules = instance.task_rules(task.element_id)
    principal = access.acting_for(session, actor, case, task, rules)
    access.check_may_act(actor, case, task, rules, instance.loaded.manifest, principal=principal)
    form = rules.form
    cleaned = validate_form(form, data)
    spiff_task = instance.workflow.get_task_from_id(UUID(task.id))
    if spiff_task is None or spiff_task.state != TaskState.READY:
        raise Conflict(said("%(task)s is no longer ready", task=access.task_name(task, rules)))
    voting.prime(session, instance)
    if rules.vote is not None:
        voting.cast(session, instance, task, spiff_task, cleaned, actor=actor,
                    voter=(principal or actor).name)
    else:
        _complete_plain(session, instance, task, spiff_task, cleaned, actor=actor, principal=principal)
    actors = dict(case.actors or {})
    actors[task.element_id] = sorted(set(actors.get(task.element_id, [])) | {actor.name})
    case.actors = actors
    persistence.save(session, instance, actor=actor, completed=task)
    flush(session)
    if rules.opens_cases and rules.opens_cases_from:
        _open_follow_ups(session, case, rules.opens_cases, case.data.get(rules.opens_cases_from), actor=actor)
    if case.status == "closed" and case.process_key == review.PROCESS:
        review.settle(session, case, actor=actor)
    return case


def _complete_plain(session: Session, instance: stepping.Instance, task: HumanTask, spiff_task: Any,
                    cleaned: dict[str, Any], *, actor: User, principal: User | None = None) -> None:
    """Complete a task that is not a vote: its data into the case, its audit event (a gate's
    decision under `<task>_decision` too)."""
    values = dict(cleaned)
    gate = instance.task_rules(task.element_id).form.is_gate
    if gate:
        values[f"{task.element_id}_decision"] = cleaned["decision"]
        values[f"{task.element_id}_by"] = actor.name
    spiff_task.data.update(values)
    stepping.run_task(instance, spiff_task)
    kind = "task_completed"
    if gate:
        kind = {"approve": "gate_approved", "reject": "gate_rejected", "rework": "gate_reworked"}[cleaned["decision"]]
    behalf = {"on_behalf_of": principal.name} if principal is not None else {}
    audit.append(session, instance.case, actor=actor, type=kind, task=task.element_id,
                 data={"task_id": task.id, "name": task.name, "data": cleaned, **behalf})


def _open_follow_ups(session: Session, case: Case, process_key: str, items: Any, *, actor: User) -> None:
    """Open one case of `process_key` per item (its start data; `title` is the title), each linked
    to `case` and recorded on it as `follow_up_opened` (a task's `opens_cases`, docs/bpmn.md)."""
    for number, item in enumerate(items or [], start=1):
        if not isinstance(item, dict):
            raise InvalidData(said("follow-up %(n)s for %(process)s is not an object of start-form fields", n=number,
                                   process=process_key), {"opens_cases_from": [said("must be a list of objects")]})
        data = {k: v for k, v in item.items() if k != "title"}
        try:
            follow_up = start_case(session, process_key, data, actor=actor, title=item.get("title"),
                                   opened_from=case)
        except InvalidData as err:
            raise InvalidData(said("follow-up %(n)s (%(process)s) is invalid: %(why)s", n=number, process=process_key,
                                   why=err.message), err.details) from None
        audit.append(session, case, actor=actor, type="follow_up_opened",
                     data={"case": follow_up.key, "process": process_key, "title": follow_up.title})
    flush(session)


@race_safe
def fire_case_timers(session: Session, case: Case, *, now: dt.datetime) -> int:
    """Fire what is due in one case as of `now`; audit each firing (a late cycle once per period)."""
    with clock.frozen(now):
        instance = persistence.open_instance(session, case)
        before = [t for t in timer_events.waiting_timers(instance.workflow, stepping.sla_elements(instance))
                  if t.kind != "sla_warning" and t.due_at < now]
        if not before:
            return 0
        voting.prime(session, instance)
        stepping.refresh_timers(instance)
        fired = timer_events.fired_timers(before, instance.workflow, now)
        manifest_timers = instance.loaded.manifest.timers
        deadlines = {votes.deadline_id(k): k for k in instance.loaded.manifest.votes()}
        for timer, due in fired:
            element = timer.element_id
            info = manifest_timers.get(element)
            name = instance.loaded.manifest.element_name(element)
            audit.append(session, case, actor=None, type="timer_fired", task=element,
                         data={"task_id": timer.task_id, "name": name, "due_at": due.isoformat()})
            if info is not None and info.escalation:
                audit.append(session, case, actor=None, type="case_escalated", task=element,
                             data={"timer": element, "name": name})
                outbox.case_notice(session, case, kind="case_escalated", subject=f"escalated: {name}",
                                   body=f"{name} ran out at {due:%Y-%m-%d %H:%M} UTC; the case is escalated.")
                webhooks.emit(session, "case.escalated", case, sla={"timer": element, "name": name, "due_at": due})
            vote = deadlines.get(element)
            if vote is not None:
                voting.close_at_deadline(session, instance, vote)
        persistence.save(session, instance, actor=None)
        flush(session)
        return len(fired)
