"""The groups people act in (roles): the shipped catalogue, staff versus plain requesters, and the
role checks every use case makes first."""

from __future__ import annotations

from collections.abc import Iterable

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


def group_titles_text(groups: Iterable[str]) -> str:
    """Name groups for a sentence: "the Change manager group", "the groups Auditor, Administrator"."""
    names = [GROUP_TITLES.get(g, (g, ""))[0] for g in sorted(groups)]
    if len(names) == 1:
        return f"the {names[0]} group"
    return "the groups " + ", ".join(names)


def check_role(actor: User, *roles: str, action: str) -> None:
    """Refuse unless the actor is in one of `roles`."""
    if not actor.group_names & set(roles):
        raise NotAllowed(f"{action[:1].upper()}{action[1:]} is for {group_titles_text(roles)}, "
                         "and you are not a member (role rule).")


def check_may_write(actor: User) -> None:
    """Refuse any change by an auditor (read-only) or an inactive user."""
    if not actor.active:
        raise NotAllowed("Your account is disabled, so you cannot change anything (role rule).")
    if staff_groups(actor) == {"auditor"}:
        raise NotAllowed("Auditors read cases and change nothing (role rule).")


def check_may_start(actor: User) -> None:
    """Refuse an auditor (read-only) or an inactive user opening a case."""
    check_may_write(actor)


def staff_groups(actor: User) -> set[str]:
    """The actor's groups besides `requester` (which everyone has); empty for a plain requester."""
    return actor.group_names - {REQUESTER}
