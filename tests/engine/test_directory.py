"""Sign-in against a real OpenLDAP (Debian's slapd, started here with a test directory): bind as
the user over LDAPS, search-then-bind over StartTLS, group mapping, wrong passwords, people in
no mapped group, and `opsgate directory sync` after someone leaves."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from ldap3 import MODIFY_REPLACE, Connection, Server
from sqlalchemy import select

from engine import db
from engine.config import EngineConfig
from engine.errors import InvalidData
from engine.people import directory, throttle, users
from models import AuditEvent, LoginThrottle, User
from tests import directory_server as ds

pytestmark = [pytest.mark.ldap, pytest.mark.skipif(not ds.available(), reason="Debian's slapd is not installed")]

GROUPS = """
[ldap.groups]
"ops-engineers" = ["engineer"]
"cn=ops-cab,ou=groups,dc=example,dc=org" = ["cab", "change_manager"]
"""


def bind_config(slapd: ds.Directory) -> str:
    """Bind as the user over LDAPS (a DN template; no service account)."""
    return f"""[ldap]
url = "{slapd.ldaps_url}"
ca_file = "{slapd.ca_file}"
user_dn_template = "uid={{username}},ou=people,{ds.BASE}"
group_base = "ou=groups,{ds.BASE}"
group_filter = "(&(objectClass=groupOfNames)(member={{user_dn}}))"
""" + GROUPS


def search_config(slapd: ds.Directory, tmp: Path) -> str:
    """Search with a service account over StartTLS, then bind as the person found."""
    secret = tmp / "bind-password"
    secret.write_text(ds.SYNC_PASSWORD + "\n")
    return f"""[ldap]
url = "{slapd.ldap_url}"
start_tls = true
ca_file = "{slapd.ca_file}"
bind_dn = "{ds.SYNC_DN}"
bind_password_file = "{secret}"
user_base = "ou=people,{ds.BASE}"
user_filter = "(&(objectClass=inetOrgPerson)(uid={{username}}))"
group_base = "ou=groups,{ds.BASE}"
""" + GROUPS


@pytest.fixture(params=["bind", "search"])
def configured(request, slapd, session, tmp_path) -> Path:
    path = tmp_path / "directory.toml"
    path.write_text(bind_config(slapd) if request.param == "bind" else search_config(slapd, tmp_path))
    session.info["opsgate.config"] = EngineConfig(directory_config=path)
    return path


def failures(session, name: str) -> list[str]:
    rows = session.scalars(select(AuditEvent).where(AuditEvent.type == "user_login_failed")).all()
    return [r.data.get("reason") for r in rows if r.data.get("user") == name]


def test_first_sign_in_creates_the_user_with_mapped_groups(configured, session):
    bob = directory.log_in(session, "bob", ds.password("bob"), source="10.0.0.7")
    assert bob is not None and bob.auth_source == "ldap"
    assert bob.external_id == f"uid=bob,ou=people,{ds.BASE}" and bob.password_hash is None
    assert bob.group_names == {"requester", "engineer", "cab", "change_manager"}
    assert (bob.display_name, bob.email) == ("Bob Example", "bob@example.org")
    again = directory.log_in(session, "bob", ds.password("bob"))
    assert again is not None and again.id == bob.id
    assert session.scalars(select(User).where(User.name == "bob")).one() is bob
    logged = session.scalars(select(AuditEvent).where(AuditEvent.type == "user_logged_in")).all()
    assert [e.data for e in logged] == [{"from": "10.0.0.7", "via": "ldap"}, {"from": "", "via": "ldap"}]


def test_a_wrong_password_or_an_empty_one_or_a_filter_trick_signs_nobody_in(configured, session):
    assert directory.log_in(session, "alice", "not-her-password") is None
    assert directory.log_in(session, "alice", "") is None  # would be an anonymous bind
    assert directory.log_in(session, "*", ds.password("alice")) is None
    assert directory.log_in(session, "alice)(uid=*", ds.password("alice")) is None
    assert directory.log_in(session, "nobody", "whatever-pw") is None
    assert session.scalars(select(User).where(User.auth_source == "ldap")).all() == []
    # The first failure per name and window is audited; the second is only counted (issue 13).
    assert failures(session, "alice") == ["wrong name or password"]
    assert session.get(LoginThrottle, throttle.account_key("alice")).failures == 2


def test_someone_in_no_mapped_group_is_refused(configured, session):
    assert directory.log_in(session, "carol", ds.password("carol")) is None
    assert failures(session, "carol") == ["in no directory group mapped to opsgate"]
    assert session.scalars(select(User).where(User.name == "carol")).first() is None


def test_local_accounts_keep_working_and_are_never_taken_over(configured, session):
    users.create_user(session, "alice", ["admin"], "local-break-glass-pw", actor=None)
    # The directory's alice password does not open the local alice account...
    assert directory.log_in(session, "alice", ds.password("alice")) is None
    # ... and the local password does.
    local = directory.log_in(session, "alice", "local-break-glass-pw")
    assert local is not None and local.auth_source == "local" and "admin" in local.group_names


def test_an_unreachable_directory_is_a_refusal_that_says_so(session, tmp_path, slapd):
    path = tmp_path / "directory.toml"
    path.write_text(bind_config(slapd).replace(slapd.ldaps_url, "ldaps://127.0.0.1:1"))
    session.info["opsgate.config"] = EngineConfig(directory_config=path)
    assert directory.log_in(session, "bob", ds.password("bob")) is None
    assert "could not be asked" in failures(session, "bob")[0]


def test_a_certificate_from_another_ca_is_refused(session, tmp_path, slapd):
    path = tmp_path / "directory.toml"
    path.write_text(bind_config(slapd).replace(f'ca_file = "{slapd.ca_file}"\n', ""))
    session.info["opsgate.config"] = EngineConfig(directory_config=path)
    assert directory.log_in(session, "bob", ds.password("bob")) is None
    assert "could not be asked" in failures(session, "bob")[0]


@pytest.mark.parametrize(("text", "key"), [
    ('[ldap]\nurl = "ldap://dc1/"\nuser_dn_template = "uid={username}"', "url"),
    ('[ldap]\nurl = "ldaps://dc1/"', "user_dn_template"),
    ('[ldap]\nurl = "ldaps://dc1/"\nuser_dn_template = "uid=x"', "user_dn_template"),
    ('[ldap]\nurl = "ldaps://dc1/"\nuser_dn_template = "uid={username}"\nbind_pasword = "x"', "bind_pasword"),
    ('[ldap]\nurl = "ldaps://dc1/"\nuser_dn_template = "uid={username}"\n[ldap.groups]\nx = "engineer"', "groups"),
])
def test_configuration_mistakes_are_named(text, key):
    with pytest.raises(InvalidData) as caught:
        directory.parse(text)
    assert key in caught.value.details


def test_sync_deactivates_who_left_and_updates_groups_audited(slapd, tmp_path):
    url = f"sqlite:///{tmp_path}/sync.db"
    engine = db.make_engine(url)
    db.upgrade(engine)
    path = tmp_path / "directory.toml"
    path.write_text(search_config(slapd, tmp_path))
    config = EngineConfig(database_url=url, directory_config=path)
    maker = db.make_sessionmaker(engine, config)
    with maker.begin() as s:
        for name in ("alice", "bob", "dave"):
            assert directory.log_in(s, name, ds.password(name)) is not None
        users.create_user(s, "admin", ["admin"], "local-admin-password", actor=None)
    admin = Connection(Server(slapd.ldap_url), user=ds.ADMIN_DN, password=ds.ADMIN_PASSWORD, auto_bind=True)
    try:
        assert admin.delete(f"uid=dave,ou=people,{ds.BASE}")  # dave left the company
        # The CAB is alice now (a groupOfNames keeps at least one member): bob left it.
        assert admin.modify(f"cn=ops-cab,ou=groups,{ds.BASE}",
                            {"member": [(MODIFY_REPLACE, [f"uid=alice,ou=people,{ds.BASE}"])]}), admin.result
        result = CliRunner().invoke(__import__("webui.cli", fromlist=["main"]).main,
                                    ["--database-url", url, "directory", "sync"],
                                    env={"OPSGATE_DIRECTORY_CONFIG": str(path), "OPSGATE_SECRET_KEY": "k"})
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "checked 3 directory user(s); updated 2 (alice, bob); deactivated 1 (dave)"
        with maker() as s:
            people = {u.name: u for u in s.scalars(select(User))}
            assert people["dave"].active is False
            assert people["bob"].group_names == {"requester", "engineer"}
            assert people["alice"].group_names == {"requester", "engineer", "cab", "change_manager"}
            assert people["alice"].active and people["admin"].active  # local accounts are not the directory's
            events = [(e.type, e.data["user"], e.data.get("reason") or e.data.get("groups"))
                      for e in s.scalars(select(AuditEvent).where(AuditEvent.type.in_(("user_deactivated", "user_changed")))
                                         .order_by(AuditEvent.id)) if e.data.get("via") == "directory sync"]
            assert events == [("user_changed", "alice", ["cab", "change_manager", "engineer", "requester"]),
                              ("user_changed", "bob", ["engineer", "requester"]),
                              ("user_deactivated", "dave", "not in the directory any more")]
        with maker.begin() as s:  # a deactivated person cannot sign in again, even with the right password
            assert directory.log_in(s, "dave", ds.password("dave")) is None
            assert directory.log_in(s, "bob", ds.password("bob")) is not None
    finally:
        admin.unbind()
        engine.dispose()


def test_sync_without_a_directory_says_what_to_set(session):
    session.info["opsgate.config"] = dataclasses.replace(EngineConfig(), directory_config=None)
    with pytest.raises(InvalidData, match="no directory is configured"):
        directory.sync(session)


def test_a_broken_directory_file_leaves_local_sign_in_working(session, tmp_path):
    path = tmp_path / "directory.toml"
    path.write_text("[ldap]\nurl = 'not a url'\n")
    session.info["opsgate.config"] = EngineConfig(directory_config=path)
    users.create_user(session, "admin", ["admin"], "break-glass-password", actor=None)
    assert directory.log_in(session, "admin", "break-glass-password") is not None
    assert directory.log_in(session, "bob", ds.password("bob")) is None
