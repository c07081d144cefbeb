"""The groups people act in (roles): the shipped catalogue, staff versus plain requesters, and the
role checks every use case makes first."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import GroupName, Names, NotAllowed, Said, said
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


def group_titles_text(groups: Iterable[str]) -> Said:
    """Name groups for a sentence: "the Change manager group", "the groups Auditor, Administrator".

    The English names are the shipped ones (or the key), as they always were in the API's
    messages; each group keeps its key, so a page names it as the admin titled it."""
    names = []
    for key in sorted(groups):
        en, zh = GROUP_TITLES.get(key, (key, None))
        names.append(GroupName(en, zh, key=key))
    if len(names) == 1:
        return said("the %(group)s group", group=names[0])
    return said("the groups %(groups)s", groups=Names(tuple(names)))


def check_role(actor: User, *roles: str, action: str) -> None:
    """Refuse unless the actor is in one of `roles`. `action` starts the sentence: a `said(...)`
    beginning with a capital is said in the reader's language on pages; a plain str is English."""
    if not actor.group_names & set(roles):
        what: str = action if isinstance(action, Said) else f"{action[:1].upper()}{action[1:]}"
        raise NotAllowed(said("%(action)s is for %(groups)s, and you are not a member (role rule).",
                              action=what, groups=group_titles_text(roles)))


def check_may_write(actor: User) -> None:
    """Refuse any change by an auditor (read-only) or an inactive user."""
    if not actor.active:
        raise NotAllowed(said("Your account is disabled, so you cannot change anything (role rule)."))
    if staff_groups(actor) == {"auditor"}:
        raise NotAllowed(said("Auditors read cases and change nothing (role rule)."))


def check_may_start(actor: User) -> None:
    """Refuse an auditor (read-only) or an inactive user opening a case."""
    check_may_write(actor)


def staff_groups(actor: User) -> set[str]:
    """The actor's groups besides `requester` (which everyone has); empty for a plain requester."""
    return actor.group_names - {REQUESTER}
