"""Who may act: roles, candidate groups and separation of duties, decided here and only here."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from engine.errors import Conflict, NotAllowed
from engine.people import delegations, users
from engine.people.roles import REQUESTER, group_titles_text, staff_groups
from engine.processes.manifest import TaskRules
from models import Case, HumanTask, User


def check_may_act(actor: User, case: Case, task: HumanTask, rules: TaskRules,
                  task_names: Mapping[str, str] | None = None, *, principal: User | None = None) -> None:
    """Refuse unless `actor` may claim or complete `task`; the message is a sentence that names
    the rule (candidate group, separation of duties, role). `task_names` names the other tasks
    a separation-of-duties rule refers to (by element id). `principal` is the person a deputy
    acts for: the task must be theirs to do, and separation of duties holds for both."""
    if not actor.active:
        raise NotAllowed("Your account is disabled, so you cannot act on cases (role rule).")
    if principal is not None:
        check_may_act(principal, case, task, rules, task_names)
        _check_duties(actor, case, task, rules, task_names, deputy_for=principal)
        return
    groups = set(task.candidate_groups or ())
    if not acting_groups(actor, case) & groups:
        if groups == {REQUESTER}:
            raise NotAllowed(f"“{task.name}” is for the person who requested {case.key} only "
                             "(candidate group rule).")
        raise NotAllowed(f"“{task.name}” is work for {group_titles_text(groups)}, and you are not a member "
                         "(candidate group rule).")
    _check_duties(actor, case, task, rules, task_names)


def _check_duties(actor: User, case: Case, task: HumanTask, rules: TaskRules, task_names: Mapping[str, str] | None,
                  deputy_for: User | None = None) -> None:
    """Separation of duties for the one who acts (a deputy included: as for the person)."""
    behalf = f" (as deputy for {deputy_for.name})" if deputy_for is not None else ""
    if (rules.sod_not_requester or rules.vote is not None) and case.requester_id == actor.id:
        raise NotAllowed(f"You requested {case.key}, so someone else must do “{task.name}”{behalf}: "
                         "separation of duties keeps requesters from approving or carrying out their own request.")
    for other in rules.sod_not_actor_of:
        if actor.name in (case.actors or {}).get(other, ()):
            did = (task_names or {}).get(other) or other
            raise NotAllowed(f"You did “{did}” on {case.key}, so someone else must do “{task.name}”{behalf}: "
                             "separation of duties asks for a second person.")


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
            raise NotAllowed(f"This vote on “{task.name}” is {(users.name_of(session, holder) or 'someone')}'s: each member "
                             "of the board casts their own, or their deputy for them (candidate group rule).")
        raise Conflict(f"{task.name} is claimed by {(users.name_of(session, holder) or 'someone')}")
    groups = set(task.candidate_groups or ())
    if holder == actor.id or acting_groups(actor, case) & groups:
        return None
    for person in delegations.principals(session, actor):
        if acting_groups(person, case) & groups:
            return person
    return None


