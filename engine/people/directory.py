"""Sign-in against LDAP or Active Directory (ldap3), and `opsgate directory sync`.

Configured by a TOML file named in OPSGATE_DIRECTORY_CONFIG (read when it changes)::

    [ldap]
    url = "ldaps://dc1.corp.example:636"     # ldaps://, or ldap:// with start_tls = true
    start_tls = false
    ca_file = "/etc/opsgate/corp-ca.pem"      # the CA that signed the server's certificate
    timeout = 10                              # seconds
    # Either bind as the user straight away ...
    user_dn_template = "uid={username},ou=people,dc=corp,dc=example"
    # ... or search for the user with a service account, then bind as what was found:
    bind_dn = "cn=opsgate,ou=services,dc=corp,dc=example"
    bind_password_file = "/etc/opsgate/ldap-bind-password"   # or bind_password = "..."
    user_base = "ou=people,dc=corp,dc=example"
    user_filter = "(&(objectClass=inetOrgPerson)(uid={username}))"  # AD: (sAMAccountName={username})
    name_attribute = "uid"                    # AD: sAMAccountName
    display_name_attribute = "cn"             # AD: displayName
    email_attribute = "mail"
    group_base = "ou=groups,dc=corp,dc=example"
    group_filter = "(&(objectClass=groupOfNames)(member={user_dn}))"  # AD: (member={user_dn}) on group objects
    require_mapped_group = true               # refuse people in no mapped group

    [ldap.groups]                             # directory group (cn or full DN) -> opsgate groups
    "ops-engineers" = ["engineer"]
    "cn=ops-cab,ou=groups,dc=corp,dc=example" = ["cab", "change_manager"]

What it does, and the choices made:

* Only `ldaps://` or StartTLS, with the certificate checked (`allow_plaintext = true` exists for
  a lab, and says so in the log on every bind). An empty password is refused before any bind:
  LDAP servers take a simple bind with an empty password as an anonymous bind.
* The user name is escaped for the filter and the DN (RFC 4515 / 4514): `*)(uid=*` finds nobody.
* The opsgate user is created on the first sign-in (`auth_source` "ldap", `external_id` the DN,
  no local password). Groups named in `[ldap.groups]`' values are the directory's to give and
  take at each sign-in and sync; other opsgate groups an admin gave the person stay.
* A local account (`auth_source` "local", e.g. `admin` or a break-glass account) signs in with
  its local password and is never looked up in, or taken over by, the directory.
* `sync()` (`opsgate directory sync`, needs the service account) looks every directory user up:
  one the directory no longer has (deleted, or filtered out: put AD's "disabled" bit in
  `user_filter`) is deactivated; one in no mapped group any more is deactivated when
  `require_mapped_group` is on; the others get their groups, name and address updated. Each
  change is an audit event. Sync never reactivates: an admin does that.
"""
from __future__ import annotations

import contextlib
import logging
import ssl
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldap3 import BASE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import settings
from engine.errors import InvalidData, TooManyAttempts
from engine.people import logins, throttle, users
from engine.records import audit
from engine.timing import clock
from models import User

log = logging.getLogger(__name__)
SOURCE = "ldap"


class DirectoryError(Exception):
    """The directory could not be asked (unreachable, TLS refused, service bind failed)."""


@dataclass(frozen=True)
class DirectoryConfig:
    """The [ldap] table of the directory configuration file."""

    url: str
    start_tls: bool = False
    ca_file: str | None = None
    verify: bool = True
    allow_plaintext: bool = False
    timeout: int = 10
    user_dn_template: str | None = None
    bind_dn: str | None = None
    bind_password: str | None = field(default=None, repr=False)
    user_base: str | None = None
    user_filter: str = "(uid={username})"
    name_attribute: str = "uid"
    display_name_attribute: str = "cn"
    email_attribute: str = "mail"
    group_base: str | None = None
    group_filter: str = "(member={user_dn})"
    group_name_attribute: str = "cn"
    require_mapped_group: bool = True
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def managed_groups(self) -> set[str]:
        """The opsgate groups the directory gives and takes."""
        return {g for _, names in self.groups for g in names}

    def mapped(self, directory_groups: dict[str, str]) -> set[str]:
        """The opsgate groups for a person's directory groups ({DN: name}); keys match by DN or name."""
        wanted: set[str] = set()
        for key, names in self.groups:
            low = key.lower()
            if any(low == dn.lower() or low == name.lower() for dn, name in directory_groups.items()):
                wanted.update(names)
        return wanted


_KNOWN = set(DirectoryConfig.__dataclass_fields__) | {"bind_password_file"}


def parse(text: str, *, origin: str = "the directory configuration") -> DirectoryConfig:
    """Read the TOML text; every problem is named with its key."""
    problems: dict[str, list[str]] = {}
    try:
        table = tomllib.loads(text).get("ldap")
    except tomllib.TOMLDecodeError as err:
        raise InvalidData(f"{origin} is not valid TOML", {"file": [str(err)]}) from None
    if not isinstance(table, dict):
        raise InvalidData(f"{origin} has no [ldap] table", {"ldap": ["add an [ldap] table"]})
    for key in set(table) - _KNOWN:
        problems[key] = [f"unknown setting (known: {', '.join(sorted(_KNOWN))})"]
    url = str(table.get("url", ""))
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("ldap", "ldaps") or not urllib.parse.urlsplit(url).hostname:
        problems["url"] = ["an ldaps:// or ldap:// address with a host"]
    elif scheme == "ldap" and not table.get("start_tls") and not table.get("allow_plaintext"):
        problems["url"] = ["ldap:// sends passwords in clear: use ldaps://, or set start_tls = true"]
    if not table.get("user_dn_template") and not (table.get("bind_dn") and table.get("user_base")):
        problems["user_dn_template"] = ["give user_dn_template, or bind_dn, a bind password and user_base"]
    if table.get("user_dn_template") and "{username}" not in str(table["user_dn_template"]):
        problems["user_dn_template"] = ["must contain {username}"]
    if "{username}" not in str(table.get("user_filter", "{username}")):
        problems["user_filter"] = ["must contain {username}"]
    password = table.get("bind_password")
    if table.get("bind_password_file"):
        try:
            password = Path(table["bind_password_file"]).read_text().strip()
        except OSError as err:
            problems["bind_password_file"] = [f"cannot be read: {err.strerror}"]
    groups = table.get("groups", {})
    if not isinstance(groups, dict) or not all(
            isinstance(v, list) and all(isinstance(g, str) and g for g in v) for v in groups.values()):
        problems["groups"] = ['a table of directory group = ["opsgate", "groups"]']
        groups = {}
    if problems:
        raise InvalidData(f"{origin} has problems", problems)
    values = {k: v for k, v in table.items() if k in DirectoryConfig.__dataclass_fields__ and k != "groups"}
    values["bind_password"] = password
    return DirectoryConfig(**values, groups=tuple((k, tuple(v)) for k, v in groups.items()))


_loaded: dict[Path, tuple[float, DirectoryConfig]] = {}


def configured(session: Session) -> DirectoryConfig | None:
    """The installation's directory settings, or None when no directory is configured."""
    path = settings(session).directory_config
    if path is None:
        return None
    try:
        stamp = path.stat().st_mtime
    except OSError as err:
        raise InvalidData("the directory configuration cannot be read",
                          {"OPSGATE_DIRECTORY_CONFIG": [f"{path}: {err.strerror}"]}) from None
    cached = _loaded.get(path)
    if cached is None or cached[0] != stamp:
        cached = _loaded[path] = (stamp, parse(path.read_text(), origin=str(path)))
    return cached[1]


@dataclass(frozen=True)
class Person:
    """What the directory says about one person."""

    dn: str
    name: str
    display_name: str
    email: str
    groups: dict[str, str]  # DN -> name


class Directory:
    """Talk to the configured directory."""

    def __init__(self, config: DirectoryConfig) -> None:
        self.config = config
        parts = urllib.parse.urlsplit(config.url)
        tls = Tls(validate=ssl.CERT_REQUIRED if config.verify else ssl.CERT_NONE, ca_certs_file=config.ca_file)
        self.server = Server(parts.hostname, port=parts.port, use_ssl=parts.scheme == "ldaps", tls=tls,
                             connect_timeout=config.timeout)

    def _connect(self, dn: str, password: str) -> Connection | None:
        """A bound connection, None for wrong credentials, DirectoryError when the server cannot be used."""
        conn = Connection(self.server, user=dn, password=password, authentication=SIMPLE,
                          receive_timeout=self.config.timeout, raise_exceptions=False)
        try:
            conn.open()
            if self.config.start_tls and not conn.start_tls():
                raise DirectoryError(f"StartTLS was refused: {conn.result.get('description')}")
            if not self.config.start_tls and not self.server.ssl and self.config.allow_plaintext:
                log.warning("binding to %s without TLS (allow_plaintext): passwords travel in clear", self.config.url)
            if conn.bind():
                return conn
            description = conn.result.get("description") if conn.result else None
        except LDAPException as err:
            self._close(conn)
            raise DirectoryError(f"{self.config.url}: {type(err).__name__}: {err}") from None
        except DirectoryError:
            self._close(conn)
            raise
        self._close(conn)
        if description == "invalidCredentials":
            return None
        raise DirectoryError(f"{self.config.url} refused the bind: {description}")

    @staticmethod
    def _close(conn: Connection) -> None:
        with contextlib.suppress(LDAPException):
            conn.unbind()
        sock = getattr(conn, "socket", None)  # ldap3 leaves a half-opened (TLS-refused) socket open
        if sock is not None:
            sock.close()

    def _service(self) -> Connection:
        if not self.config.bind_dn:
            raise DirectoryError("searching the directory needs bind_dn and a bind password")
        conn = self._connect(self.config.bind_dn, self.config.bind_password or "")
        if conn is None:
            raise DirectoryError("the service account's bind_dn or password is wrong")
        return conn

    def _attrs(self) -> list[str]:
        c = self.config
        return [c.name_attribute, c.display_name_attribute, c.email_attribute]

    def _person(self, conn: Connection, dn: str, entry: dict[str, Any]) -> Person:
        c = self.config

        def first(name: str) -> str:
            value = entry.get(name)
            if isinstance(value, list):
                value = value[0] if value else ""
            return str(value or "")

        groups: dict[str, str] = {}
        if c.group_base:
            conn.search(c.group_base, c.group_filter.format(user_dn=escape_filter_chars(dn)), SUBTREE,
                        attributes=[c.group_name_attribute])
            for found in conn.response or []:
                if found.get("type") == "searchResEntry":
                    value = found["attributes"].get(c.group_name_attribute)
                    groups[found["dn"]] = str(value[0] if isinstance(value, list) and value else value or "")
        return Person(dn=dn, name=first(c.name_attribute), display_name=first(c.display_name_attribute),
                      email=first(c.email_attribute), groups=groups)

    def _find(self, conn: Connection, username: str) -> tuple[str, dict[str, Any]] | None:
        c = self.config
        conn.search(c.user_base, c.user_filter.format(username=escape_filter_chars(username)), SUBTREE,
                    attributes=self._attrs(), size_limit=2)
        found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(found) != 1:  # nobody, or an ambiguous filter: never guess who is signing in
            return None
        return found[0]["dn"], dict(found[0]["attributes"])

    def authenticate(self, username: str, password: str) -> Person | None:
        """The person, when the directory accepts this name and password; else None."""
        if not username or not password:
            return None  # an empty password would be an anonymous bind, which "succeeds"
        if self.config.user_dn_template:
            dn = self.config.user_dn_template.format(username=escape_rdn(username))
        else:
            service = self._service()
            try:
                hit = self._find(service, username)
            finally:
                service.unbind()
            if hit is None:
                return None
            dn = hit[0]
        conn = self._connect(dn, password)
        if conn is None:
            return None
        try:
            conn.search(dn, "(objectClass=*)", BASE, attributes=self._attrs())
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            person = self._person(conn, dn, dict(entries[0]["attributes"]) if entries else {})
        finally:
            conn.unbind()
        return person if person.name else Person(dn, username, person.display_name, person.email, person.groups)

    def lookup(self, names: list[str]) -> dict[str, Person | None]:
        """Look people up by user name with the service account (None: not in the directory)."""
        conn = self._service()
        try:
            out: dict[str, Person | None] = {}
            for name in names:
                hit = self._find(conn, name) if self.config.user_base else None
                out[name] = self._person(conn, hit[0], hit[1]) if hit else None
            return out
        finally:
            conn.unbind()


def _apply(session: Session, user: User, person: Person, config: DirectoryConfig) -> dict[str, Any]:
    """Bring a directory user's groups, name and address in line; return what changed."""
    before = set(user.group_names)
    wanted = (before - config.managed_groups) | config.mapped(person.groups) | {"requester"}
    changes: dict[str, Any] = {}
    if wanted != before:
        user.groups = [users.get_group(session, g) for g in sorted(wanted)]
        changes.update(groups_before=sorted(before), groups=sorted(wanted))
    if person.display_name and user.display_name != person.display_name:
        user.display_name = person.display_name
        changes["display_name"] = person.display_name
    if user.email != person.email:
        user.email = person.email
        changes["email"] = person.email
    if user.external_id != person.dn:
        user.external_id = person.dn
        changes["dn"] = person.dn
    return changes


def _refuse(session: Session, name: str, source: str, reason: str) -> None:
    throttle.record_failure(session, name, source, {"via": SOURCE, "reason": reason})


def log_in(session: Session, name: str, password: str, *, source: str = "") -> User | None:
    """Sign in with a name and password: local accounts locally, everyone else at the directory
    when one is configured; returns the user or None. Failures are counted and audited by
    engine.people.throttle; a locked name or address raises TooManyAttempts (429) before any
    password is checked."""
    name = (name or "").strip()
    lock = throttle.locked(session, name, source)
    if lock is not None:
        raise TooManyAttempts(f"too many failed sign-ins: refused until {lock.until.isoformat(timespec='minutes')}",
                              lock.until)
    try:
        config = configured(session)
    except InvalidData as err:  # a broken file must not lock out the local admin (break-glass)
        log.error("directory sign-in is off: %s %s", err.message, err.details)
        config = None
    if config is None:
        return logins.log_in(session, name, password, source=source)
    existing = session.scalars(select(User).where(User.name == name)).first()
    if existing is not None and existing.auth_source != SOURCE:
        return logins.log_in(session, name, password, source=source)
    try:
        person = Directory(config).authenticate(name, password)
    except DirectoryError as err:
        log.error("directory sign-in for %s failed: %s", name, err)
        _refuse(session, name, source, f"the directory could not be asked: {err}")
        return None
    if person is None:
        _refuse(session, name, source, "wrong name or password")
        return None
    if config.require_mapped_group and not config.mapped(person.groups):
        _refuse(session, name, source, "in no directory group mapped to opsgate")
        return None
    user = existing
    if user is None:
        user = users.create_user(session, name, [], actor=None, display_name=person.display_name,
                                 email=person.email)
        user.auth_source, user.external_id = SOURCE, person.dn
    elif not user.active:
        _refuse(session, name, source, "the opsgate account is deactivated")
        return None
    changes = _apply(session, user, person, config)
    session.flush()
    if changes:
        audit.append_system(session, actor=None, type="user_changed", data={"user": name, "via": SOURCE, **changes})
    throttle.record_success(session, name)
    audit.append_system(session, actor=user, type="user_logged_in", data={"from": source, "via": SOURCE})
    return user


@dataclass
class SyncReport:
    """What `sync` did."""

    checked: int = 0
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def sync(session: Session, *, actor: User | None = None) -> SyncReport:
    """Deactivate directory users the directory no longer has (or that lost every mapped group,
    with require_mapped_group), update everyone else's groups; audit each change."""
    config = configured(session)
    if config is None:
        raise InvalidData("no directory is configured", {"OPSGATE_DIRECTORY_CONFIG": ["name the TOML file"]})
    people = list(session.scalars(select(User).where(User.auth_source == SOURCE, User.active).order_by(User.name)))
    try:
        found = Directory(config).lookup([u.name for u in people])
    except DirectoryError as err:
        raise InvalidData("the directory could not be asked; nobody was changed", {"directory": [str(err)]}) from None
    report = SyncReport(checked=len(people))
    now = clock.now().isoformat()
    for user in people:
        person = found.get(user.name)
        reason = None
        if person is None:
            reason = "not in the directory any more"
        elif config.require_mapped_group and not config.mapped(person.groups):
            reason = "in no directory group mapped to opsgate"
        if reason is not None:
            user.active = False
            users.end_sessions(user)
            report.deactivated.append(user.name)
            audit.append_system(session, actor=actor, type="user_deactivated",
                                data={"user": user.name, "via": "directory sync", "reason": reason, "at": now})
            continue
        assert person is not None
        changes = _apply(session, user, person, config)
        if changes:
            report.updated.append(user.name)
            audit.append_system(session, actor=actor, type="user_changed",
                                data={"user": user.name, "via": "directory sync", **changes})
    session.flush()
    return report
