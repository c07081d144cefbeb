"""Single sign-on in a real browser (Debian's Chromium) against a real OpenID provider (the npm
package oidc-provider, run with node): the whole redirect flow with PKCE, group claims mapped
to opsgate groups, a refusal for someone in no mapped group, and logout at the provider."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from engine import db
from engine.config import EngineConfig
from engine.people import roles, users
from models import AuditEvent, User
from tests import oidc_server
from tests.browser.conftest import serving

pytestmark = [pytest.mark.oidc,
              pytest.mark.skipif(not oidc_server.available(), reason="npm ci --prefix tests/oidc (and node) first")]

ACCOUNTS = {"erin": {"groups": ["ops-engineers"], "email": "erin@corp.example"},
            "mallory": {"groups": ["marketing"], "email": "mallory@corp.example"}}


@pytest.fixture(scope="module")
def sso_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from waitress import create_server  # noqa: F401 - serving() uses it

    from webui import create_app

    folder = tmp_path_factory.mktemp("sso")
    url = f"sqlite:///{folder / 'sso.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.make_sessionmaker(engine).begin() as s:
        for name in roles.GROUPS:
            users.get_group(s, name)
    config_file = folder / "oidc.toml"
    config = EngineConfig(database_url=url, oidc_config=config_file, secret_key="sso-tests")
    app = create_app({"TESTING": True, "SECRET_KEY": "sso-tests", "START_WORKER": False, "ENGINE_CONFIG": config})
    with serving(app) as base:
        provider = oidc_server.start(client_id="opsgate", client_secret="client-secret-123",
                                     redirect_uri=f"{base}/login/oidc/corp/callback",
                                     post_logout_uri=f"{base}/login", accounts=ACCOUNTS)
        config_file.write_text(f"""
[oidc.corp]
title = "Corporate SSO"
issuer = "{provider.issuer}"
client_id = "opsgate"
client_secret = "client-secret-123"
scopes = ["openid", "profile", "email", "groups"]
[oidc.corp.groups]
"ops-engineers" = ["engineer"]

[oidc.partner]
title = "Partner SSO"
issuer = "https://login.partner.example"
client_id = "opsgate-partner"
""")
        try:
            yield {"url": base, "engine": engine}
        finally:
            provider.stop()
            engine.dispose()


def sign_in_at_provider(page, login: str) -> None:
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the development login accepts it")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.locator("button[type=submit]").count() and "/interaction/" in page.url:  # the consent page
        page.click("button[type=submit]")


def test_sign_in_through_the_provider_and_out_again(browser, sso_site):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(sso_site["url"] + "/login")
        buttons = page.locator(".sso a")
        assert buttons.all_inner_texts() == ["Sign in with Corporate SSO", "Sign in with Partner SSO"]
        page.click("text=Sign in with Corporate SSO")
        sign_in_at_provider(page, "erin")
        page.wait_for_url(lambda u: u.startswith(sso_site["url"]) and "/login" not in u, timeout=15000)
        assert "erin" in page.inner_text("header")
        [authorize] = [u for u in requests if "/auth?" in u]
        assert "code_challenge_method=S256" in authorize and "code_challenge=" in authorize
        assert "nonce=" in authorize and "state=" in authorize and "scope=openid+profile+email+groups" in authorize
        with db.make_sessionmaker(sso_site["engine"])() as s:
            erin = s.scalars(select(User).where(User.name == "erin")).one()
            assert erin.auth_source == "oidc:corp" and erin.email == "erin@corp.example"
            assert erin.group_names == {"requester", "engineer"}
        assert page.goto(sso_site["url"] + "/tasks").status == 200  # the engineer's inbox

        # Log out: opsgate, then the provider (its confirmation page), then back at opsgate's login.
        page.goto(sso_site["url"] + "/")
        page.click("header form[action$='/logout'] button")
        page.wait_for_url(lambda u: "/session/end" in u, timeout=15000)
        assert "id_token_hint=" in page.url or any("id_token_hint=" in u for u in requests)
        page.click("button[autofocus], button[type=submit]")  # the provider's "Yes, sign me out"
        page.wait_for_url(lambda u: u.startswith(sso_site["url"] + "/login"), timeout=15000)
        # Signed out at the provider too: signing in again asks for the login again.
        page.click("text=Sign in with Corporate SSO")
        page.wait_for_selector("input[name=login]", timeout=15000)
    finally:
        context.close()


def test_someone_in_no_mapped_group_is_refused_in_words(browser, sso_site):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        page.goto(sso_site["url"] + "/login")
        page.click("text=Sign in with Corporate SSO")
        sign_in_at_provider(page, "mallory")
        page.wait_for_url(lambda u: u.startswith(sso_site["url"] + "/login"), timeout=15000)
        assert "in no group mapped to opsgate" in page.inner_text("body")
        with db.make_sessionmaker(sso_site["engine"])() as s:
            assert s.scalars(select(User).where(User.name == "mallory")).first() is None
            refused = s.scalars(select(AuditEvent).where(AuditEvent.type == "user_login_failed")).all()
            assert any(e.data.get("user") == "mallory" and e.data.get("via") == "oidc:corp" for e in refused)
    finally:
        context.close()

