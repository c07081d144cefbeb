"""The names people read for groups: an admin's title for the group if set, else the shipped
catalogue's (engine.people.roles.GROUP_TITLES), else the group's key.

Decision: names live with the groups. The shipped groups are named in code so that a new
install reads well in both languages with no setup; `group.title` / `group.title_zh` (set on
the admin's groups page) override them and name the groups an admin adds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotFound, said
from engine.people.roles import GROUP_TITLES, check_role
from engine.records import audit
from models import Group, User

MAX_TITLE = 200


@dataclass(frozen=True)
class GroupTitle:
    """A group's key and the names people read for it."""

    key: str
    name: str
    name_zh: str | None


def group_titles(session: Session) -> dict[str, GroupTitle]:
    """Return every known group's names by key (shipped groups even before their row exists)."""
    titles = {key: GroupTitle(key, en, zh) for key, (en, zh) in GROUP_TITLES.items()}
    for key, title, title_zh in session.execute(select(Group.name, Group.title, Group.title_zh)):
        shipped = titles.get(key)
        titles[key] = GroupTitle(key, title or (shipped.name if shipped else key),
                                 title_zh or (shipped.name_zh if shipped else None))
    return titles


def rename_group(session: Session, key: str, title: str, title_zh: str, *, actor: User) -> Group:
    """Set the names people read for a group (empty: the shipped name, or the key)."""
    check_role(actor, "admin", action=said("Naming a group"))
    group = session.scalars(select(Group).where(Group.name == key)).first()
    if group is None:
        raise NotFound(said("There is no group %(group)s.", group=repr(key)))
    title, title_zh = (title or "").strip(), (title_zh or "").strip()
    errors = {name: [said("must be at most %(n)s characters", n=MAX_TITLE)] for name, value in
              (("title", title), ("title_zh", title_zh)) if len(value) > MAX_TITLE}
    if errors:
        raise InvalidData(said("A group's name is too long."), errors)
    if (group.title, group.title_zh) != (title, title_zh):
        group.title, group.title_zh = title, title_zh
        audit.append_system(session, actor=actor, type="group_renamed",
                            data={"group": key, "title": title, "title_zh": title_zh})
    session.flush()
    return group
