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
# What people read for the shipped groups, in English and Simplified Chinese. An admin may name
# any group (these included) on the groups page; engine.people.groups.group_titles merges both.
GROUP_TITLES: dict[str, tuple[str, str]] = {
    "requester": ("Requester", "申请人"),
    "manager": ("Manager", "部门经理"),
    "service_desk": ("Service desk", "服务台"),
    "engineer": ("Engineer", "运维工程师"),
    "change_manager": ("Change manager", "变更经理"),
    "cab": ("Change advisory board", "变更委员会"),
    "finance": ("Finance", "财务主管部门"),
    "security_admin": ("Security administrator", "安全管理员"),
    "auditor": ("Auditor", "审计员"),
    "process_owner": ("Process owner", "流程负责人"),
    "supervisor": ("Supervisor", "监管人员"),
    "admin": ("Administrator", "系统管理员"),
}
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
