"""What a verified OpenID sign-in does to opsgate's users: created on first sign-in with mapped
groups, kept by (provider, subject), refused (and audited) when no group maps, when the name is
a local account's, or when the account was deactivated. The redirect flow itself is tested in a
real browser against a real provider (tests/browser/test_browser_sso.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import InvalidData, NotAllowed
from engine.people import oidc, users
from models import AuditEvent, User

CONFIG = """
[oidc.corp]
title = "Corporate sign-on"
issuer = "https://sso.corp.example/realms/ops"
client_id = "opsgate"
client_secret = "s3cret"
scopes = ["openid", "profile", "email", "groups"]

[oidc.corp.groups]
"ops-engineers" = ["engineer"]
"/ops/cab" = ["cab", "change_manager"]

[oidc.partner]
title = "Partner sign-on"
issuer = "https://login.partner.example"
client_id = "opsgate-partner"
require_mapped_group = false
"""


@pytest.fixture
def corp() -> oidc.Provider:
    return oidc.parse(CONFIG)["corp"]


def claims(sub: str = "u-1", name: str = "erin", groups: list[str] | None = None, **extra) -> dict:
    return {"sub": sub, "preferred_username": name, "name": "Erin Example", "email": f"{name}@corp.example",
            "groups": ["ops-engineers"] if groups is None else groups, **extra}


def test_several_providers_are_read(corp):
    found = oidc.parse(CONFIG)
    assert list(found) == ["corp", "partner"]
    assert corp.metadata_url == "https://sso.corp.example/realms/ops/.well-known/openid-configuration"
    assert found["partner"].title == "Partner sign-on" and found["partner"].require_mapped_group is False


def test_first_sign_in_creates_the_user_and_later_ones_follow_the_groups(session, corp):
    erin = oidc.sign_in(session, corp, claims(groups=["ops-engineers", "/ops/cab"]), source="10.1.1.1")
    assert (erin.auth_source, erin.external_id, erin.password_hash) == ("oidc:corp", "u-1", None)
    assert erin.group_names == {"requester", "engineer", "cab", "change_manager"}
    users.get_user(session, "erin").groups.append(users.get_group(session, "auditor"))  # an admin's own grant
    again = oidc.sign_in(session, corp, claims(groups=["ops-engineers"]))
    assert again.id == erin.id
    assert again.group_names == {"requester", "engineer", "auditor"}  # the provider took cab away, not auditor
    types = [e.type for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert types.count("user_logged_in") == 2 and "user_created" in types


def test_refusals_are_audited_with_their_reason(session, corp):
    users.create_user(session, "admin", ["admin"], "local-admin-pw", actor=None)
    with pytest.raises(NotAllowed, match="in no group mapped"):
        oidc.sign_in(session, corp, claims(name="mallory", groups=["marketing"]))
    with pytest.raises(NotAllowed, match="belongs to another account"):
        oidc.sign_in(session, corp, claims(sub="u-9", name="admin"))
    with pytest.raises(NotAllowed, match="no preferred_username claim"):
        oidc.sign_in(session, corp, {"sub": "u-3"})
    erin = oidc.sign_in(session, corp, claims())
    erin.active = False
    with pytest.raises(NotAllowed, match="deactivated"):
        oidc.sign_in(session, corp, claims())
    reasons = [e.data["reason"] for e in session.scalars(select(AuditEvent).where(
        AuditEvent.type == "user_login_failed").order_by(AuditEvent.id))]
    assert reasons == ["in no group mapped to opsgate", "the name admin belongs to another account (local)",
                       "the provider sent no preferred_username claim", "the opsgate account is deactivated"]
    assert session.scalars(select(User).where(User.name == "mallory")).first() is None


@pytest.mark.parametrize(("text", "key"), [
    ('[oidc.x]\nissuer = "http://sso.example"\nclient_id = "a"', "x.issuer"),
    ('[oidc.x]\nissuer = "https://sso.example"', "x.client_id"),
    ('[oidc.x]\nissuer = "https://sso.example"\nclient_id = "a"\nscopes = ["profile"]', "x.scopes"),
    ('[oidc.x]\nissuer = "https://sso.example"\nclient_id = "a"\nclient_secret_file = "/nonexistent"', "x.client_secret_file"),
    ('[oidc.x]\nissuer = "https://sso.example"\nclient_id = "a"\nredirect = "b"', "x.redirect"),
])
def test_configuration_mistakes_are_named(text, key):
    with pytest.raises(InvalidData) as caught:
        oidc.parse(text)
    assert key in caught.value.details
