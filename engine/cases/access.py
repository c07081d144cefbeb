"""Who may act: roles, candidate groups and separation of duties, decided here and only here."""
from __future__ import annotations

from typing import Any

from engine.errors import NotAllowed
from models import Case, HumanTask, User

# As a candidate group, "requester" means the case's own requester, not every user.
REQUESTER = "requester"

GROUPS = (
    "requester", "manager", "service_desk", "engineer", "change_manager", "cab", "finance",
    "security_admin", "auditor", "process_owner", "supervisor", "admin",
)


def check_role(actor: User, *roles: str, action: str) -> None:
    """Refuse unless the actor is in one of `roles`."""
    if not actor.group_names & set(roles):
        raise NotAllowed(f"role: {action} needs one of the groups {', '.join(roles)}")


def check_may_write(actor: User) -> None:
    """Refuse any change by an auditor (read-only) or an inactive user."""
    if not actor.active:
        raise NotAllowed("role: the account is disabled")
    if staff_groups(actor) == {"auditor"}:
        raise NotAllowed("role: auditors read cases and change nothing")


def check_may_start(actor: User) -> None:
    """Refuse an auditor (read-only) or an inactive user opening a case."""
    check_may_write(actor)


def check_may_act(actor: User, case: Case, task: HumanTask, rules: dict[str, Any],
                  actors_of: dict[str, set[str]]) -> None:
    """Refuse unless `actor` may claim or complete `task`; the message names the rule."""
    if not actor.active:
        raise NotAllowed("role: the account is disabled")
    groups = set(task.candidate_groups or ())
    if not acting_groups(actor, case) & groups:
        if groups == {REQUESTER}:
            raise NotAllowed(f"candidate group: {task.name} is for the case's requester only")
        raise NotAllowed(f"candidate group: {task.name} is for the group(s) {', '.join(sorted(groups))}, "
                         f"and {actor.name} is in none of them")
    if rules.get("sod_not_requester") and case.requester_id == actor.id:
        raise NotAllowed(f"separation of duties: {task.name} may not be done by the case's requester")
    for other in rules.get("sod_not_actor_of", ()):
        if actor.name in actors_of.get(other, set()):
            raise NotAllowed(f"separation of duties: {task.name} may not be done by whoever did {other} "
                             f"in this case ({actor.name})")


def staff_groups(actor: User) -> set[str]:
    """The actor's groups besides `requester` (which everyone has); empty for a plain requester."""
    return actor.group_names - {REQUESTER}


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
