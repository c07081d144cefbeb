"""The groups people act in (roles): the shipped catalogue, staff versus plain requesters, and the
role checks every use case makes first."""

from __future__ import annotations

from engine.errors import NotAllowed
from models import User

# As a candidate group, "requester" means the case's own requester, not every user.
REQUESTER = "requester"


GROUPS = (
    "requester", "manager", "service_desk", "engineer", "change_manager", "cab", "finance",
    "security_admin", "auditor", "process_owner", "supervisor", "admin",
)
# Groups that read every case and the whole audit trail.
READ_ALL = frozenset({"auditor", "admin"})


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


def staff_groups(actor: User) -> set[str]:
    """The actor's groups besides `requester` (which everyone has); empty for a plain requester."""
    return actor.group_names - {REQUESTER}
