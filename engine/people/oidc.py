"""Single sign-on with OpenID Connect: the providers' settings and what a verified sign-in
does to opsgate's users. The redirects, PKCE and token checks are the web app's (webui.sso,
with Authlib); this module gets the ID token's claims once they are verified.

Configured by a TOML file named in OPSGATE_OIDC_CONFIG, one table per provider (several may be
configured; the login page shows a button for each)::

    [oidc.corp]
    title = "Corporate sign-on"                   # the button's text
    issuer = "https://sso.corp.example/realms/ops"   # discovery at {issuer}/.well-known/openid-configuration
    client_id = "opsgate"
    client_secret_file = "/etc/opsgate/oidc-corp-secret"   # or client_secret = "..."
    scopes = ["openid", "profile", "email", "groups"]
    username_claim = "preferred_username"
    groups_claim = "groups"                       # a list of names (Keycloak, Okta, Entra ID with group claims)
    require_mapped_group = true                   # refuse people in no mapped group

    [oidc.corp.groups]
    "ops-engineers" = ["engineer"]
    "/ops/cab" = ["cab", "change_manager"]

Choices: the account is keyed by (provider, subject), stored as `auth_source` "oidc:<name>"
and `external_id` the `sub` claim, so a renamed person stays one account; the opsgate user
name is the username claim. A name that belongs to a local account or another provider's
account is refused (an identity provider never takes over `admin`). Groups named in the
provider's `groups` values are the provider's to give and take at each sign-in; others stay.
A deactivated opsgate account is refused.
"""
from __future__ import annotations

import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import settings
from engine.errors import InvalidData, NotAllowed, Said, said
from engine.people import users
from engine.records import audit
from models import User


@dataclass(frozen=True)
class Provider:
    """One OpenID provider."""

    name: str
    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    title: str = ""
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    require_mapped_group: bool = True
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def source(self) -> str:
        return f"oidc:{self.name}"

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def managed_groups(self) -> set[str]:
        return {g for _, names in self.groups for g in names}

    def mapped(self, claimed: list[str]) -> set[str]:
        """The opsgate groups for the groups a sign-in claims."""
        have = {c.lower() for c in claimed}
        return {g for key, names in self.groups if key.lower() in have for g in names}


_KNOWN = {"title", "issuer", "client_id", "client_secret", "client_secret_file", "scopes", "username_claim",
          "groups_claim", "require_mapped_group", "groups"}


def parse(text: str, *, origin: str = "the OpenID configuration") -> dict[str, Provider]:
    """Read the TOML text into providers by name; every problem names its provider and key."""
    try:
        tables = tomllib.loads(text).get("oidc")
    except tomllib.TOMLDecodeError as err:
        raise InvalidData(f"{origin} is not valid TOML", {"file": [str(err)]}) from None
    if not isinstance(tables, dict) or not tables:
        raise InvalidData(f"{origin} names no provider", {"oidc": ["add an [oidc.NAME] table per provider"]})
    problems: dict[str, list[str]] = {}
    out: dict[str, Provider] = {}
    for name, table in tables.items():
        def bad(key: str, message: str, name: str = name) -> None:
            problems.setdefault(f"{name}.{key}", []).append(message)

        if not name.replace("-", "").replace("_", "").isalnum() or not isinstance(table, dict):
            bad("name", "a provider name is letters, digits, - and _")
            continue
        for key in set(table) - _KNOWN:
            bad(key, f"unknown setting (known: {', '.join(sorted(_KNOWN))})")
        issuer = str(table.get("issuer", ""))
        parts = urllib.parse.urlsplit(issuer)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            bad("issuer", "an https:// address (http:// only on this machine, for tests)")
        if not table.get("client_id"):
            bad("client_id", "required")
        secret = str(table.get("client_secret", ""))
        if table.get("client_secret_file"):
            try:
                secret = Path(table["client_secret_file"]).read_text().strip()
            except OSError as err:
                bad("client_secret_file", f"cannot be read: {err.strerror}")
        scopes = table.get("scopes", ["openid", "profile", "email"])
        if not isinstance(scopes, list) or "openid" not in scopes:
            bad("scopes", 'a list that includes "openid"')
            scopes = ["openid"]
        groups = table.get("groups", {})
        if not isinstance(groups, dict) or not all(
                isinstance(v, list) and all(isinstance(g, str) and g for g in v) for v in groups.values()):
            bad("groups", 'a table of provider group = ["opsgate", "groups"]')
            groups = {}
        out[name] = Provider(name=name, issuer=issuer, client_id=str(table.get("client_id", "")), client_secret=secret,
                             title=str(table.get("title") or name), scopes=tuple(scopes),
                             username_claim=str(table.get("username_claim", "preferred_username")),
                             groups_claim=str(table.get("groups_claim", "groups")),
                             require_mapped_group=bool(table.get("require_mapped_group", True)),
                             groups=tuple((k, tuple(v)) for k, v in groups.items()))
    if problems:
        raise InvalidData(f"{origin} has problems", problems)
    return out


_loaded: dict[Path, tuple[float, dict[str, Provider]]] = {}


def providers(session: Session) -> dict[str, Provider]:
    """The configured providers by name (none without OPSGATE_OIDC_CONFIG)."""
    return providers_from(settings(session).oidc_config)


def providers_from(path: Path | None) -> dict[str, Provider]:
    """The providers a configuration file names (read again when it changes)."""
    if path is None:
        return {}
    try:
        stamp = path.stat().st_mtime
    except OSError as err:
        raise InvalidData("the OpenID configuration cannot be read",
                          {"OPSGATE_OIDC_CONFIG": [f"{path}: {err.strerror}"]}) from None
    cached = _loaded.get(path)
    if cached is None or cached[0] != stamp:
        cached = _loaded[path] = (stamp, parse(path.read_text(), origin=str(path)))
    return cached[1]


def _claimed_groups(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def _refuse(session: Session, provider: Provider, name: str, source: str, reason: Said) -> NotAllowed:
    audit.append_system(session, actor=None, type="user_login_failed",
                        data={"user": name[:120], "from": source, "via": provider.source, "reason": str(reason)})
    return NotAllowed(said("sign-in refused: %(reason)s", reason=reason))


def sign_in(session: Session, provider: Provider, claims: dict[str, Any], *, source: str = "") -> User:
    """Sign in the person whose verified ID token (or userinfo) claims these; create them on the
    first sign-in; raise NotAllowed (audited) with the reason when refused."""
    subject = str(claims.get("sub") or "")
    name = str(claims.get(provider.username_claim) or "").strip()
    if not subject or not name:
        raise _refuse(session, provider, name or subject, source,
                      said("the provider sent no %(claim)s claim",
                           claim="sub" if not subject else provider.username_claim))
    claimed = _claimed_groups(claims.get(provider.groups_claim))
    mapped = provider.mapped(claimed)
    if provider.require_mapped_group and not mapped:
        raise _refuse(session, provider, name, source, said("in no group mapped to opsgate"))
    user = session.scalars(select(User).where(User.auth_source == provider.source, User.external_id == subject)).first()
    if user is None:
        clash = session.scalars(select(User).where(User.name == name)).first()
        if clash is not None:
            raise _refuse(session, provider, name, source,
                          said("the name %(name)s belongs to another account (%(source)s)", name=name,
                               source=clash.auth_source))
        user = users.create_user(session, name, [], actor=None, display_name=str(claims.get("name") or name),
                                 email=str(claims.get("email") or ""))
        user.auth_source, user.external_id = provider.source, subject
    elif not user.active:
        raise _refuse(session, provider, name, source, said("the opsgate account is deactivated"))
    before = set(user.group_names)
    wanted = (before - provider.managed_groups) | mapped | {"requester"}
    changes: dict[str, Any] = {}
    if wanted != before:
        user.groups = [users.get_group(session, g) for g in sorted(wanted)]
        changes.update(groups_before=sorted(before), groups=sorted(wanted))
    email = str(claims.get("email") or user.email)
    if email != user.email:
        user.email = changes["email"] = email
    session.flush()
    if changes:
        audit.append_system(session, actor=None, type="user_changed",
                            data={"user": user.name, "via": provider.source, **changes})
    audit.append_system(session, actor=user, type="user_logged_in", data={"from": source, "via": provider.source})
    return user
