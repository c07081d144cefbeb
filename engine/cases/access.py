"""Who may act: roles, candidate groups and separation of duties, decided here and only here."""

from __future__ import annotations

from engine.errors import NotAllowed
from engine.people.roles import REQUESTER, staff_groups
from engine.processes.manifest import TaskRules
from models import Case, HumanTask, User


def check_may_act(actor: User, case: Case, task: HumanTask, rules: TaskRules) -> None:
    """Refuse unless `actor` may claim or complete `task`; the message names the rule."""
    if not actor.active:
        raise NotAllowed("role: the account is disabled")
    groups = set(task.candidate_groups or ())
    if not acting_groups(actor, case) & groups:
        if groups == {REQUESTER}:
            raise NotAllowed(f"candidate group: {task.name} is for the case's requester only")
        raise NotAllowed(f"candidate group: {task.name} is for the group(s) {', '.join(sorted(groups))}, "
                         f"and {actor.name} is in none of them")
    if rules.sod_not_requester and case.requester_id == actor.id:
        raise NotAllowed(f"separation of duties: {task.name} may not be done by the case's requester")
    for other in rules.sod_not_actor_of:
        if actor.name in (case.actors or {}).get(other, ()):
            raise NotAllowed(f"separation of duties: {task.name} may not be done by whoever did {other} "
                             f"in this case ({actor.name})")


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
