"""People, their groups (roles) and their API tokens."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, intpk, name_str, timestamp

user_group = Table(
    "user_group",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("group.id", ondelete="CASCADE"), primary_key=True),
    # Members of a group (task notices, inboxes): the primary key only serves a user's groups.
    Index("ix_user_group_group_id", "group_id", "user_id"),
)


class Group(Base):
    __tablename__ = "group"

    id: Mapped[intpk]
    name: Mapped[name_str] = mapped_column(unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    # What people read for the group (engine.people.groups: the shipped groups have names in a
    # catalogue; these columns, when set by an admin, take their place).
    title: Mapped[str] = mapped_column(String(200), default="")
    title_zh: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "user"

    id: Mapped[intpk]
    name: Mapped[name_str] = mapped_column(unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    created_at: Mapped[timestamp]
    # Where the account comes from: "local" (a password here), "ldap", or "oidc:<provider>";
    # `external_id` is the directory's DN or the provider's subject.
    auth_source: Mapped[str] = mapped_column(String(60), server_default="local")
    external_id: Mapped[str | None] = mapped_column(String(500))
    # Bumped when every session of this person must end (logout, password change, deactivation):
    # a browser session remembers the epoch it began in and dies when they differ.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    groups: Mapped[list[Group]] = relationship(secondary=user_group, lazy="selectin", order_by=Group.name)

    @property
    def group_names(self) -> set[str]:
        """Names of the groups this user belongs to."""
        return {g.name for g in self.groups}

    # Flask-Login protocol, kept here so webui needs no wrapper class.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.name}>"


class LoginThrottle(Base):
    """Failed sign-ins counted per account or client address in a window: the security log
    (engine.people.throttle). `key` is "account:<name>" or "address:<ip>"."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[timestamp] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(default=0)
    locks: Mapped[int] = mapped_column(default=0)  # locks in a row: each lasts twice the last
    locked_until: Mapped[timestamp | None]


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[timestamp]
    last_used_at: Mapped[timestamp | None]
    revoked_at: Mapped[timestamp | None]
    # None: never expires. Scope "all" may do what its user may; "read" only GET (dashboards).
    expires_at: Mapped[timestamp | None]
    scope: Mapped[str] = mapped_column(String(10), default="all", server_default="all")

    user: Mapped[User] = relationship(lazy="joined")
