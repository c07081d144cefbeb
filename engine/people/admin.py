"""Administration reads and changes for the admin pages: users, groups, tokens, providers.

Creating users, tokens and providers is engine.people.users'; this module adds what the pages need
besides: lists, editing a user, creating a group, revoking a token. Every change is audited
in the system chain and needs the admin role.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotFound, said
from engine.people import roles, users
from engine.records import audit
from engine.timing import clock
from models import ApiToken, Group, Provider, User


def _check_admin(actor: User) -> None:
    roles.check_role(actor, "admin", action=said("Administration"))


def list_users(session: Session) -> list[User]:
    """Return every user by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def get_user(session: Session, user_id: int) -> User:
    """Return a user by id or raise NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise users.no_user_id(user_id)
    return user


def list_groups(session: Session) -> list[Group]:
    """Return every group by name."""
    return list(session.scalars(select(Group).order_by(Group.name)))


def groups_with_members(session: Session) -> list[tuple[Group, list[str]]]:
    """Return each group with the names of its members."""
    members: dict[int, list[str]] = {}
    for user in list_users(session):
        for group in user.groups:
            members.setdefault(group.id, []).append(user.name)
    return [(g, members.get(g.id, [])) for g in list_groups(session)]


def create_group(session: Session, name: str, description: str, *, actor: User) -> Group:
    """Create a group (a role a lane or candidate group may name)."""
    _check_admin(actor)
    name = (name or "").strip()
    if not name or any(c.isspace() for c in name):
        raise InvalidData(said("a group name is one word"), {"name": [said("one word, no spaces")]})
    group = users.get_group(session, name, create=True)
    group.description = description
    session.flush()
    audit.append_system(session, actor=actor, type="group_created", data={"group": name})
    return group


def update_user(session: Session, user: User, *, display_name: str, email: str, password: str | None,
                groups: list[str], active: bool, actor: User) -> User:
    """Change a user's details, password, groups or active flag."""
    _check_admin(actor)
    if user.id == actor.id and (not active or "admin" not in groups):
        raise InvalidData(said("you cannot lock yourself out"),
                          {"groups": [said("keep admin and active on your own account")]})
    if password is not None and len(password) < users.MIN_PASSWORD:
        raise users.short_password()
    before = sorted(user.group_names)
    if password or (user.active and not active):
        users.end_sessions(user)
    user.display_name, user.email, user.active = display_name or user.name, email, active
    user.groups = [users.get_group(session, g) for g in dict.fromkeys(["requester", *groups])]
    if password:
        user.password_hash = users.hash_password(password)
    session.flush()
    audit.append_system(session, actor=actor, type="user_changed",
                        data={"user": user.name, "groups_before": before, "groups": sorted(user.group_names),
                              "active": active, "password_set": bool(password)})
    return user


def list_tokens(session: Session) -> list[ApiToken]:
    """Return every API token, newest first (hashes only; tokens are never stored)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def revoke_token(session: Session, token_id: int, *, actor: User) -> ApiToken:
    """Revoke an API token."""
    _check_admin(actor)
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(said("no API token #%(token)s", token=token_id))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        session.flush()
        audit.append_system(session, actor=actor, type="token_revoked",
                            data={"user": token.user.name, "name": token.name})
    return token


def list_providers(session: Session) -> list[Provider]:
    """Return every provider with its systems."""
    return list(session.scalars(select(Provider).order_by(Provider.name)))
