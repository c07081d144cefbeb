"""People, groups, API tokens and providers: the administrative use cases."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import memo
from engine.errors import InvalidData, NotFound, Said, said
from engine.people import roles
from engine.records import audit
from engine.timing import clock
from models import Group, User

# RFC 9106's low-memory profile (argon2-cffi's defaults): argon2id, 64 MiB, 3 passes, 4 lanes, about
# 0.2 s of CPU a hash or a check. A sign-in with a hash made with other parameters stores a new one.
DEFAULT_HASHING = profiles.RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(DEFAULT_HASHING)


def use_hashing(parameters: Parameters) -> None:
    """Make and check password hashes with these argon2 parameters from now on, in this process.

    For the test suite, whose sign-ins would otherwise cost a minute of CPU: it uses argon2's cheapest profile
    (`argon2.profiles.CHEAPEST`), and tests/engine/test_passwords.py checks the defaults."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(parameters)
    _dummy_hash.cache_clear()


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this keeps the time of an unknown-user login like that of a known one.
    # Made at the first sign-in, not at import: every CLI command would pay for it.
    return _hasher.hash("opsgate-dummy-password")


def hash_password(password: str) -> str:
    """Return the argon2 hash of a password."""
    return _hasher.hash(password)


def end_sessions(user: User) -> None:
    """End every browser session of a user at once (logout, password change, deactivation):
    a session remembers the epoch it began in, and a changed epoch ends it."""
    user.session_epoch = (user.session_epoch or 0) + 1


MIN_PASSWORD = 10


def _check_name(name: str, what: Said) -> str:
    clean = (name or "").strip()
    if not clean or len(clean) > 120 or any(c.isspace() for c in clean):
        raise InvalidData(said("%(what)s must be 1-120 characters without spaces", what=what),
                          {"name": [said("invalid %(what)s", what=what)]})
    return clean


def get_group(session: Session, name: str, *, create: bool = False) -> Group:
    """Return a group by name; the product's groups are created on first use."""
    group = session.scalars(select(Group).where(Group.name == name)).first()
    if group is None:
        if not create and name not in roles.GROUPS:
            raise NotFound(said("no group %(group)s; known groups: %(groups)s", group=repr(name),
                                groups=", ".join(roles.GROUPS)))
        group = Group(name=name)
        session.add(group)
        session.flush()
    return group


def find_user(session: Session, name: str) -> User | None:
    """Return a user by name, or None."""
    return session.scalars(select(User).where(User.name == name)).first()


def get_user(session: Session, name: str) -> User:
    """Return a user by name or raise NotFound."""
    user = find_user(session, name)
    if user is None:
        raise NotFound(said("no user %(name)s", name=repr(name)))
    return user


def create_user(session: Session, name: str, groups: list[str], password: str | None = None, *,
                actor: User | None, display_name: str = "", email: str = "") -> User:
    """Create a user, or add groups to an existing one; every user is a requester."""
    name = _check_name(name, said("user name"))
    if password is not None and len(password) < MIN_PASSWORD:
        raise short_password()
    wanted = [get_group(session, g) for g in dict.fromkeys(["requester", *groups])]
    found = session.scalars(select(User).where(User.name == name)).first()
    created = found is None
    if found is None:
        user = User(name=name, display_name=display_name or name, email=email, created_at=clock.now(),
                    password_hash=hash_password(password) if password else None, groups=[])
        session.add(user)
    else:
        user = found
    if password and not created:
        user.password_hash = hash_password(password)
        end_sessions(user)
    added = [g.name for g in wanted if g not in user.groups]
    user.groups.extend(g for g in wanted if g not in user.groups)
    session.flush()
    audit.append_system(session, actor=actor, type="user_created" if created else "user_changed",
                        data={"user": name, "groups_added": added, "password_set": bool(password)})
    return user


def short_password() -> InvalidData:
    """The refusal of a password shorter than MIN_PASSWORD (creating or changing a user)."""
    return InvalidData(said("password must be at least %(n)s characters", n=MIN_PASSWORD),
                       {"password": [said("at least %(n)s characters", n=MIN_PASSWORD)]})


def no_user_id(user_id: int) -> NotFound:
    """The refusal of a user id nobody has."""
    return NotFound(said("no user #%(user)s", user=user_id))


def authenticate(session: Session, name: str, password: str) -> User | None:
    """Return the active user with this name and password, or None (timing-safe)."""
    user = session.scalars(select(User).where(User.name == (name or "").strip())).first()
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or not user.active:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


def list_people(session: Session, *, limit: int = 1000) -> list[tuple[str, str]]:
    """Active users as (user name, display name), by display name: the callers a service desk
    picks from when it opens a case for someone."""
    rows = session.execute(select(User.name, User.display_name).where(User.active)
                           .order_by(User.display_name, User.name).limit(limit))
    return [(name, display or name) for name, display in rows]


def _read_names(session: Session, user_ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())


_names = memo.memo(_read_names)


def _read_ids(session: Session, names: list[str]) -> dict[str, int]:
    return dict(session.execute(select(User.name, User.id).where(User.name.in_(sorted(names)))).all())


_ids = memo.memo(_read_ids)


def ids_of(session: Session, names: Iterable[str]) -> dict[str, int]:
    """The ids of the users so named, by name; names of nobody are left out. Read once per
    process (a name names the same user for good: no rename, no deleted user), the names not
    yet known in one statement, none for names all known."""
    return _ids.get_many(session, names)


def name_of(session: Session, user_id: int | None) -> str | None:
    """Return a user's name by id (read once per process: names are never changed), None for None."""
    if user_id is None:
        return None
    name = _names.get(session, user_id)
    if name is None:
        raise no_user_id(user_id)
    return name
