"""Who may act: roles, candidate groups and separation of duties, decided here and only here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.errors import Conflict, Name, NotAllowed, Said, said
from engine.people import delegations, users
from engine.people.roles import REQUESTER, group_titles_text, staff_groups
from engine.processes.manifest import Manifest, ProcessInfo, TaskRules
from models import Case, HumanTask, User

# Who holds a task whose holder's row is gone.
SOMEONE = said("someone")


def check_may_act(actor: User, case: Case, task: HumanTask, rules: TaskRules,
                  manifest: Manifest | None = None, *, principal: User | None = None) -> None:
    """Refuse unless `actor` may claim or complete `task`; the message is a sentence that names
    the rule (candidate group, separation of duties, role). `manifest` (the case's version) names
    the other tasks a separation-of-duties rule refers to, when it refuses. `principal` is the
    person a deputy acts for: the task must be theirs to do, and separation of duties holds for both."""
    if not actor.active:
        raise NotAllowed(said("Your account is disabled, so you cannot act on cases (role rule)."))
    if principal is not None:
        check_may_act(principal, case, task, rules, manifest)
        _check_duties(actor, case, task, rules, manifest, deputy_for=principal)
        return
    groups = set(task.candidate_groups or ())
    if not acting_groups(actor, case) & groups:
        if groups == {REQUESTER}:
            raise NotAllowed(said("“%(task)s” is for the person who requested %(case)s only (candidate group rule).",
                                  task=task_name(task, rules), case=case.key))
        raise NotAllowed(said("“%(task)s” is work for %(groups)s, and you are not a member (candidate group rule).",
                              task=task_name(task, rules), groups=group_titles_text(groups)))
    _check_duties(actor, case, task, rules, manifest)


def may_not_start(process: ProcessInfo) -> NotAllowed:
    """The refusal of a case of `process` to someone outside its start groups."""
    return NotAllowed(said("Cases of “%(process)s” are opened by %(groups)s, and you are not a member (role rule).",
                           process=Name(process.name, process.name_zh), groups=group_titles_text(process.start_groups)))


def ended(task: HumanTask, name: Name, by: str | None) -> Said:
    """Say that a task is no longer ready, and who ended it: one sentence each, for a translation
    to word each its own way (English: "Review is already completed by erin")."""
    if by is None:
        if task.state == "completed":
            return said("%(task)s is already completed", task=name)
        if task.state == "cancelled":
            return said("%(task)s is already cancelled", task=name)
        return said("%(task)s is already %(state)s", task=name, state=task.state)
    if task.state == "completed":
        return said("%(task)s is already completed by %(person)s", task=name, person=by)
    if task.state == "cancelled":
        return said("%(task)s is already cancelled by %(person)s", task=name, person=by)
    return said("%(task)s is already %(state)s by %(person)s", task=name, state=task.state, person=by)


def task_name(task: HumanTask, rules: TaskRules) -> Name:
    """A task's name for a sentence, in both languages (the BPMN's name_zh)."""
    return Name(task.name, rules.name_zh)


def _check_duties(actor: User, case: Case, task: HumanTask, rules: TaskRules, manifest: Manifest | None,
                  deputy_for: User | None = None) -> None:
    """Separation of duties for the one who acts (a deputy included: as for the person)."""
    behalf = said(" (as deputy for %(person)s)", person=deputy_for.name) if deputy_for is not None else ""
    if (rules.sod_not_requester or rules.vote is not None) and case.requester_id == actor.id:
        raise NotAllowed(said("You requested %(case)s, so someone else must do “%(task)s”%(behalf)s: separation of "
                              "duties keeps requesters from approving or carrying out their own request.",
                              case=case.key, task=task_name(task, rules), behalf=behalf))
    for other in rules.sod_not_actor_of:
        if actor.name in (case.actors or {}).get(other, ()):
            did = Name(*manifest.element_names(other)) if manifest is not None else other
            raise NotAllowed(said("You did “%(done)s” on %(case)s, so someone else must do “%(task)s”%(behalf)s: "
                                  "separation of duties asks for a second person.",
                                  done=did, case=case.key, task=task_name(task, rules), behalf=behalf))


def acting_groups(actor: User, case: Case) -> set[str]:
    """The groups the actor acts in on this case: their staff groups, plus `requester` on their own."""
    groups = staff_groups(actor)
    if case.requester_id == actor.id:
        groups.add(REQUESTER)
    return groups


def may_read_case(actor: User, case: Case) -> bool:
    """Say whether the actor may read this case.

    Its requester may, and so may every member of a staff group (anything besides plain
    `requester`): operations staff look at each other's cases, auditors read all of them.
    A user who is only a requester sees their own cases.
    """
    return case.requester_id == actor.id or bool(staff_groups(actor))


def acting_for(session: Session, actor: User, case: Case, task: HumanTask, rules: TaskRules) -> User | None:
    """Whom the actor acts for on this task: None for themselves, else the person whose deputy
    they are now (engine.people.delegations). Refuse a task held by someone they do not stand in for."""
    holder = task.assignee_id
    if holder is not None and holder != actor.id:
        if delegations.stands_in(session, actor, holder):
            return session.get(User, holder)
        if rules.vote is not None:
            raise NotAllowed(said("This vote on “%(task)s” is %(person)s's: each member of the board casts their own, "
                                  "or their deputy for them (candidate group rule).",
                                  task=task_name(task, rules), person=users.name_of(session, holder) or SOMEONE))
        raise Conflict(said("%(task)s is claimed by %(person)s", task=task_name(task, rules),
                            person=users.name_of(session, holder) or SOMEONE))
    groups = set(task.candidate_groups or ())
    if holder == actor.id or acting_groups(actor, case) & groups:
        return None
    for person in delegations.principals(session, actor):
        if acting_groups(person, case) & groups:
            return person
    return None


