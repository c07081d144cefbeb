"""People, groups, API tokens and providers: the administrative use cases."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine.cases import access
from engine.errors import Conflict, InvalidData, NotFound
from engine.records import audit
from engine.timing import clock
from models import ApiToken, Group, Provider, ProviderSystem, User

_hasher = PasswordHasher()
# Verifying against this keeps the time of an unknown-user login like that of a known one.
_DUMMY_HASH = _hasher.hash("opsgate-dummy-password")
MIN_PASSWORD = 10


def _check_name(name: str, what: str) -> str:
    clean = (name or "").strip()
    if not clean or len(clean) > 120 or any(c.isspace() for c in clean):
        raise InvalidData(f"{what} must be 1-120 characters without spaces", {"name": [f"invalid {what}"]})
    return clean


def get_group(session: Session, name: str, *, create: bool = False) -> Group:
    """Return a group by name; the product's groups are created on first use."""
    group = session.scalars(select(Group).where(Group.name == name)).first()
    if group is None:
        if not create and name not in access.GROUPS:
            raise NotFound(f"no group {name!r}; known groups: {', '.join(access.GROUPS)}")
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
        raise NotFound(f"no user {name!r}")
    return user


def create_user(session: Session, name: str, groups: list[str], password: str | None = None, *,
                actor: User | None, display_name: str = "", email: str = "") -> User:
    """Create a user, or add groups to an existing one; every user is a requester."""
    name = _check_name(name, "user name")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidData(f"password must be at least {MIN_PASSWORD} characters",
                          {"password": [f"at least {MIN_PASSWORD} characters"]})
    wanted = [get_group(session, g) for g in dict.fromkeys(["requester", *groups])]
    user = session.scalars(select(User).where(User.name == name)).first()
    created = user is None
    if created:
        user = User(name=name, display_name=display_name or name, email=email, created_at=clock.now(),
                    password_hash=_hasher.hash(password) if password else None, groups=[])
        session.add(user)
    elif password:
        user.password_hash = _hasher.hash(password)
    added = [g.name for g in wanted if g not in user.groups]
    user.groups.extend(g for g in wanted if g not in user.groups)
    session.flush()
    audit.append_system(session, actor=actor, type="user_created" if created else "user_changed",
                        data={"user": name, "groups_added": added, "password_set": bool(password)})
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """Return the active user with this name and password, or None (timing-safe)."""
    user = session.scalars(select(User).where(User.name == (name or "").strip())).first()
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or not user.active:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_name: str, *, actor: User | None, name: str = "") -> str:
    """Create an API token for a user; return it (shown once, stored only as a hash)."""
    user = get_user(session, user_name)
    token = "og_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_digest(token), created_at=clock.now()))
    session.flush()
    audit.append_system(session, actor=actor, type="token_created", data={"user": user.name, "name": name})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """Return the active user an API token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_digest(token))).first()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row.user


# How fresh a token's last-use stamp is kept: a busy integration writes it once a minute, not
# on every call.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


def record_token_use(session: Session, token: str, *, now: dt.datetime | None = None) -> bool:
    """Stamp an API token's last use (at most once per TOKEN_USE_RESOLUTION); return whether
    the row changed (the caller commits)."""
    now = now or clock.now()
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None),
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_USE_RESOLUTION))
        .values(last_used_at=now), execution_options={"synchronize_session": False})
    return result.rowcount == 1


def add_provider(session: Session, name: str, systems: list[str], *, actor: User | None) -> Provider:
    """Register a provider (or add systems to it); a system has exactly one provider."""
    name = (name or "").strip()
    if not name:
        raise InvalidData("provider name is required", {"name": ["required"]})
    provider = session.scalars(select(Provider).where(Provider.name == name)).first()
    if provider is None:
        provider = Provider(name=name, created_at=clock.now(), systems=[])
        session.add(provider)
        session.flush()
    for system in dict.fromkeys(s.strip() for s in systems if s.strip()):
        owner = session.scalars(select(ProviderSystem).where(ProviderSystem.system == system)).first()
        if owner is not None and owner.provider_id != provider.id:
            raise Conflict(f"system {system!r} is already served by provider {owner.provider.name!r}")
        if owner is None:
            provider.systems.append(ProviderSystem(system=system))
    session.flush()
    audit.append_system(session, actor=actor, type="provider_added",
                        data={"provider": name, "systems": [s.system for s in provider.systems]})
    return provider


def provider_for_system(session: Session, system: str | None) -> str | None:
    """Name the provider responsible for a system, or None."""
    if not system:
        return None
    row = session.scalars(select(ProviderSystem).where(ProviderSystem.system == system)).first()
    return row.provider.name if row is not None else None
