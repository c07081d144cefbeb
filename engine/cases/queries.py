"""Reading cases and tasks for someone: each reader takes the actor and applies
engine.cases.access; `find_case` is the system's unchecked lookup."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, exists, func, literal, or_, select, union, union_all
from sqlalchemy.orm import Session, aliased, contains_eager, defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from engine import logcontext
from engine.cases import access, persistence
from engine.errors import InvalidData, NotAllowed, NotFound, said
from engine.people import delegations, roles
from engine.processes import catalog, specs
from engine.processes.forms import Form
from engine.timing import clock
from models import Case, Delegation, Group, HumanTask, HumanTaskBar, HumanTaskGroup, ProcessDefinition, User, user_group

PAGE_SIZE = 50
MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL: a larger one finds nothing


def find_case(session: Session, ref: str | int) -> Case:
    """Return a case by id or key (e.g. INC-000001) with no access check: for the system's own
    callers (the CLI, the worker); people's requests go through `get_case`."""
    text = str(ref).strip()
    if text.isascii() and text.isdigit():  # "²" is a digit to str.isdigit, not to int()
        case = session.get(Case, int(text)) if int(text) <= MAX_ROW_ID else None
    else:
        case = session.scalars(select(Case).where(Case.key == text.upper())).first()
    if case is None:
        raise NotFound(said("no case %(case)s", case=str(ref)))
    logcontext.set_case(case.key)
    return case


def get_case(session: Session, ref: str | int, *, actor: User) -> Case:
    """Return a case by id or key (e.g. INC-000001) that the actor may read."""
    case = find_case(session, ref)
    if not access.may_read_case(actor, case):
        raise NotAllowed(said("role: %(person)s may read only their own cases", person=actor.name))
    return case


def list_cases(session: Session, *, actor: User, process: str | None = None, status: str | None = None,
               page: int = 1, per_page: int = PAGE_SIZE, before: int | None = None) -> tuple[list[Case], int | None]:
    """Return one page of the cases the actor may read, newest first, and the next page number.

    `before` (a case id) pages by key instead: the cases below it, read from the index where
    the previous page stopped, so a deep page costs what the first does; `page` then counts
    from there. A page number alone skips `(page - 1) * per_page` rows: it skips them over ids
    only (`_page_ids`), so PostgreSQL walks an index without visiting the rows it skips (77 ms
    at page 10,000 of a million cases, where skipping whole rows took 0.56 s)."""
    where: list[ColumnElement[bool]] = []
    if not roles.staff_groups(actor):
        where.append(Case.requester_id == actor.id)
    if process:
        where.append(Case.process_key == process)
    if status:
        if status not in ("open", "closed", "cancelled"):
            raise InvalidData(said("unknown status"), {"status": [said("must be open, closed or cancelled")]})
        where.append(Case.status == status)
    page = max(1, int(page))
    skip = (page - 1) * per_page
    if before is not None:
        where.append(Case.id < before)
        skip = 0
    query = select(Case).where(*where)
    if skip:
        query = select(Case).where(Case.id.in_(_page_ids(where, skip, per_page + 1)))
    rows = list(session.scalars(query.options(*LIST_CASE_OPTIONS).order_by(Case.id.desc()).limit(per_page + 1)))
    return rows[:per_page], (page + 1 if len(rows) > per_page else None)


def _page_ids(where: list[ColumnElement[bool]], skip: int, count: int) -> Select[int]:
    """The ids of a deep page, newest first: an index-only scan on PostgreSQL (the primary key,
    or `(process_key, id)`, `(status, id)`, `(process_key, status, id)` with the list's filters;
    a requester's own cases are few) that never reads the rows it skips. It relies on the
    visibility map that (auto)vacuum keeps; rows changed since are read, as any index scan would."""
    return select(Case.id).where(*where).order_by(Case.id.desc()).offset(skip).limit(count)


def get_task(session: Session, task_id: str, *, actor: User) -> HumanTask:
    """Return a task (ready or ended) by id, checking the actor may read its case."""
    task = session.get(HumanTask, str(task_id))
    if task is None:
        raise NotFound(said("no task %(task)s", task=str(task_id)))
    if not access.may_read_case(actor, task.case) and not actor.group_names & set(task.candidate_groups or ()):
        raise NotAllowed(said("role: %(person)s may not see this task", person=actor.name))
    logcontext.set_case(task.case.key)
    return task


def task_form(session: Session, task: HumanTask) -> Form:
    """Return the form of a task."""
    loaded = specs.load_by_id(session, task.case.definition_id)
    return loaded.manifest.task(task.element_id).form


def start_form(session: Session, process_key: str, version: int | None = None) -> Form:
    """Return the start form of a process version (the latest by default)."""
    definition = catalog.get_definition(session, process_key, version)
    return specs.manifest_of(definition).start_form


def list_tasks(session: Session, *, actor: User, scope: str = "group", limit: int = 500,
               offset: int = 0) -> list[HumanTask]:
    """Return a page of the ready tasks the actor may act on, soonest due first (no due time
    last): `mine` (claimed by them) or `group` (unclaimed or theirs, in their groups;
    `requester` tasks of their own cases), leaving out those separation of duties bars them from.

    One statement per page, bounded by the work waiting, not by history (human_task_group
    holds only ready tasks' rows; ready rows have partial indexes). It unites arms, each
    ordered and cut at the page's end on its own:

    * the tasks of the actor's staff groups, in one of two forms, and the statement picks
      which by counting the groups' live rows up to `MANY_GROUP_ROWS` (an uncorrelated
      subquery: PostgreSQL evaluates it once and skips the other form's plan entirely). Many
      rows (an engineer's): walk ix_human_task_ready in due order, probing each task's group
      row, and stop after a page. Few (finance's): read the groups' rows from the group index
      and sort them. PostgreSQL cannot choose between the two by itself: it estimates the
      group EXISTS against every task that ever existed (1 % of ready tasks match, where 70 %
      do), so at 1,000,000 cases it hashed and sorted all 25,000 of an engineer's tasks for a
      page of 200 (100 ms instead of 3; docs/performance.md). The walk's probe is a scalar
      subquery, which PostgreSQL does not turn into a join;
    * the `requester` tasks of the open cases the actor requested (ix_case_open_requester:
      a few cases for most people, never all the cases they ever opened; a ready task's case
      is open, `persistence.save` closes a case only when its workflow has completed);
    * the tasks of the people the actor stands in for (`_deputy_arm`).

    Each task comes with its case (without the instance state and the case data, which no
    inbox shows: parsing 200 cases' data cost a fifth of the API page's CPU) and assignee."""
    if scope not in ("mine", "group"):
        raise InvalidData(said("unknown scope"), {"scope": [said("must be mine or group")]})
    staff = sorted(roles.staff_groups(actor))
    params = {"actor": actor.id, "staff": staff, "now": clock.now(), "many_rows": MANY_GROUP_ROWS,
              "end": max(0, offset) + limit, "limit": limit, "offset": max(0, offset)}
    return list(session.scalars(_inbox_statement(scope, bool(staff)), params).unique())


_INBOX_ORDER = (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)
# From this many live rows in the actor's staff groups, the inbox walks the ready tasks in due
# order instead of reading the groups' rows (list_tasks). Counting them stops here.
MANY_GROUP_ROWS = 1000


@functools.cache
def _inbox_statement(scope: str, staff: bool) -> Select[HumanTask]:
    """The inbox's statement for a scope, with or without staff groups, built on first use and
    run with the actor's values as parameters (actor, staff, now, many_rows, end, limit,
    offset): building it took about 3 ms of CPU a request, more than running it for an
    engineer's 50 tasks, and a statement built once also keeps its cache key."""
    groups = bindparam("staff", expanding=True, type_=HumanTaskGroup.group.type)
    in_my_groups = exists().where(HumanTaskGroup.task_id == HumanTask.id, HumanTaskGroup.group.in_(groups))
    actor = bindparam("actor", type_=Case.requester_id.type)
    my_open_cases = select(Case.id).where(Case.requester_id == actor, Case.status == "open")
    waits_on_requester = exists().where(HumanTaskGroup.task_id == HumanTask.id,
                                        HumanTaskGroup.group == roles.REQUESTER)
    requested = HumanTask.case_id.in_(my_open_cases) & waits_on_requester
    arms = [_ready_arm(requested & ~in_my_groups if staff else requested, scope)]
    if staff:
        many_rows = bindparam("many_rows", type_=Integer)
        group_rows = select(HumanTaskGroup.task_id).where(HumanTaskGroup.group.in_(groups)).limit(many_rows)
        many = select(func.count()).select_from(group_rows.subquery()).scalar_subquery() >= many_rows
        probe = (select(literal(1)).where(HumanTaskGroup.task_id == HumanTask.id, HumanTaskGroup.group.in_(groups))
                 .limit(1).scalar_subquery())
        arms[:0] = [_ready_arm(many & probe.is_not(None), scope), _ready_arm(~many & in_my_groups, scope)]
        arms.append(_deputy_arm(groups, scope))
    page = union_all(*arms).subquery("page") if len(arms) > 1 else arms[0].subquery("page")
    return (select(HumanTask).join(page, page.c.id == HumanTask.id).join(Case, Case.id == HumanTask.case_id)
            .options(contains_eager(HumanTask.case).options(*_CASE_LIGHT, defer(Case.data)),
                     joinedload(HumanTask.assignee).lazyload(User.groups))
            .order_by(*_INBOX_ORDER).limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)))


def _ready_arm(offered: ColumnElement[bool], scope: str) -> Select:
    """The first `end` ready task ids (inbox order) that `offered` picks and separation of
    duties does not bar the actor from (human_task_bar)."""
    actor = bindparam("actor", type_=HumanTask.assignee_id.type)
    barred = exists().where(HumanTaskBar.task_id == HumanTask.id, HumanTaskBar.user_id == actor)
    mine = HumanTask.assignee_id == actor if scope == "mine" else \
        or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == actor)
    arm = (select(HumanTask.id).where(HumanTask.state == "ready", offered, mine, ~barred)
           .order_by(*_INBOX_ORDER).limit(bindparam("end", type_=Integer)).subquery())
    return select(arm.c.id)


def _deputy_arm(staff: Any, scope: str) -> Select:
    """The tasks offered to the people the actor stands in for now (engine.people.delegations):
    those they hold (a vote, a claim) and, in `group`, unclaimed work in their staff groups that
    the actor's own groups do not already bring. Driven from the actor's active delegations
    (ix_delegation_deputy): for someone who is nobody's deputy it reads no task row."""
    actor = bindparam("actor", type_=HumanTask.assignee_id.type)
    running = and_(Delegation.deputy_id == actor, delegations.running(bindparam("now", type_=Delegation.starts_at.type)))
    mine = aliased(HumanTaskGroup)
    task = aliased(HumanTask)  # the inner statements stand alone (no correlation to the arm's rows)
    ids: Any = select(task.id).join(Delegation, Delegation.user_id == task.assignee_id) \
        .where(running, task.state == "ready")
    if scope == "group":
        unclaimed = (select(HumanTaskGroup.task_id)
                     .join(Group, Group.name == HumanTaskGroup.group)
                     .join(user_group, user_group.c.group_id == Group.id)
                     .join(Delegation, Delegation.user_id == user_group.c.user_id)
                     .join(task, task.id == HumanTaskGroup.task_id)
                     .where(running, HumanTaskGroup.group != roles.REQUESTER, task.state == "ready",
                            task.assignee_id.is_(None),
                            ~exists().where(mine.task_id == task.id, mine.group.in_(staff))))
        ids = union(ids, unclaimed)
    barred = exists().where(HumanTaskBar.task_id == HumanTask.id, HumanTaskBar.user_id == actor)
    arm = (select(HumanTask.id).where(HumanTask.id.in_(ids), ~barred)
           .order_by(*_INBOX_ORDER).limit(bindparam("end", type_=Integer)).subquery())
    return select(arm.c.id)


# A list shows a case's key, title and status, never its serialized instance (the largest
# column by far): loaded on demand by the case page and actions.
_CASE_LIGHT = (defer(Case.state), defer(Case.actors))
LIST_CASE_OPTIONS = (*_CASE_LIGHT, joinedload(Case.requester).lazyload(User.groups))


def load_definitions(session: Session, cases: Iterable[Case]) -> None:
    """Load the process versions of the cases in one statement (pages name tasks and processes
    from them) and hand each case its own, so that reading `case.definition` runs none."""
    cases = list(cases)
    ids = {c.definition_id for c in cases}
    if ids:
        found = {d.id: d for d in session.scalars(select(ProcessDefinition)
                                                  .where(ProcessDefinition.id.in_(sorted(ids))))}
        for case in cases:
            if case.definition_id in found:
                set_committed_value(case, "definition", found[case.definition_id])


def open_tasks_of(session: Session, cases: Iterable[Case]) -> dict[int, list[HumanTask]]:
    """Return the ready tasks of each case of a page (with their assignees), in one statement."""
    tasks: dict[int, list[HumanTask]] = {c.id: [] for c in cases}
    if tasks:
        for task in session.scalars(select(HumanTask).where(HumanTask.case_id.in_(sorted(tasks)),
                                                            HumanTask.state == "ready")
                                    .options(joinedload(HumanTask.assignee).lazyload(User.groups))
                                    .order_by(HumanTask.created_at, HumanTask.id)):
            tasks[task.case_id].append(task)
    return tasks


def held_open_tasks(session: Session, case: Case) -> list[HumanTask] | None:
    """Return a case's open tasks as the action just saved in this session left them (None if
    none did): an action's answer without reading them back (engine.cases.persistence)."""
    return persistence.held_open_tasks(session, case)


def open_tasks(session: Session, case: Case) -> list[HumanTask]:
    """Return a case's ready tasks."""
    return list(session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready")
                                .order_by(HumanTask.created_at)))
