"""More of the engine's refusals said in the reader's language on pages (engine.errors.said through
webui.i18n.say): the admin pages, the sign-in refusals of an OpenID provider, the process owner's
migrate page, the supervisor's inputs page and the modeler's deploy answer. Each sentence reads
in Chinese on a Chinese page, and as the engine's English, byte for byte, on an English one."""
from __future__ import annotations

from typing import Any

import pytest
from markupsafe import escape

from engine.cases import services
from engine.errors import InvalidData
from engine.people import oidc, providers, users
from engine.processes.forms import Field, Form, validate_form
from webui.i18n import say

LOCALES = ["en", "zh_Hans"]


def _reader(login, user, locale: str):
    client = login(user)
    client.post("/language", data={"locale": locale, "next": "/"})
    return client


def _refusal(page: str) -> str:
    start = page.index('id="refusal">')
    return page[start:page.index("</div>", start)]


@pytest.mark.parametrize(("locale", "said"), [
    ("en", ["<strong>you cannot lock yourself out</strong>", "groups: keep admin and active on your own account"]),
    ("zh_Hans", ["<strong>您不能把自己锁在系统之外</strong>", "groups: 请在您自己的账户上保留系统管理员组和启用状态"]),
])
def test_an_admin_who_would_lock_themselves_out(login, people, locale, said):
    admin = people["admin"]
    response = _reader(login, admin, locale).post(f"/admin/users/{admin.id}", data={
        "display_name": "Ada", "email": "", "password": "", "groups": ["requester"], "active": "y",
        "whole_form": "1"})
    assert response.status_code == 422
    refusal = _refusal(response.get_data(as_text=True))
    assert all(part in refusal for part in said)


@pytest.mark.parametrize(("locale", "said"), [
    ("en", "system 'mail' is already served by provider 'Acme'"),
    ("zh_Hans", "系统 'mail' 已由服务商 'Acme' 负责"),
])
def test_a_system_another_provider_serves(login, people, session, locale, said):
    providers.add_provider(session, "Acme", ["mail"], actor=None)
    session.commit()
    response = _reader(login, people["admin"], locale).post("/admin/providers", data={"name": "Bolt",
                                                                                       "systems": "mail"})
    assert response.status_code == 409
    assert f"<strong>{escape(said)}</strong>" in _refusal(response.get_data(as_text=True))


@pytest.mark.parametrize(("locale", "said"), [
    ("en", ["<strong>A group&#39;s name is too long.</strong>", "title_zh: must be at most 200 characters"]),
    ("zh_Hans", ["<strong>用户组名称过长。</strong>", "title_zh: 最多 200 个字符"]),
])
def test_a_group_title_too_long(login, people, locale, said):
    response = _reader(login, people["admin"], locale).post("/admin/groups/engineer/name", data={
        "title": "Engineers", "title_zh": "工" * 201})
    assert response.status_code == 422
    refusal = _refusal(response.get_data(as_text=True))
    assert all(part in refusal for part in said), refusal


class _Provider:
    """The Authlib client an OpenID sign-in comes back through, answering these claims."""

    def __init__(self, claims: dict[str, Any]):
        self.claims = claims

    def authorize_access_token(self) -> dict[str, Any]:
        return {"userinfo": self.claims, "id_token": "t"}

    def load_server_metadata(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize(("locale", "said"), [
    ("en", "sign-in refused: in no group mapped to opsgate"),
    ("zh_Hans", "登录被拒绝：不属于任何映射到 opsgate 的组"),  # noqa: RUF001
])
def test_an_openid_sign_in_refused_on_the_login_page(app, monkeypatch, locale, said):
    import webui.sso

    corp = oidc.parse('[oidc.corp]\ntitle = "Corp"\nissuer = "https://sso.corp.example"\nclient_id = "og"\n'
                      'client_secret = "s"\n[oidc.corp.groups]\n"ops-engineers" = ["engineer"]\n')["corp"]
    claims = {"sub": "u-9", "preferred_username": "olga", "groups": ["visitors"]}
    monkeypatch.setattr(webui.sso, "_client", lambda name: (corp, _Provider(claims)))
    client = app.test_client()
    language = {"Accept-Language": "zh-CN" if locale == "zh_Hans" else "en"}
    back = client.get("/login/oidc/corp/callback", headers=language)
    assert back.status_code == 302 and back.headers["Location"].endswith("/login")
    page = client.get("/login", headers=language).get_data(as_text=True)
    assert said in page


@pytest.fixture
def mig_case(deploy, session, people) -> str:
    deploy("migrate_v1.bpmn")
    users.create_user(session, "sam", ["service_desk"], actor=None)
    key = services.start_case(session, "mig", {}, actor=people["requester"], title="Case 0").key
    deploy("migrate_v3.bpmn")
    session.commit()
    return key


@pytest.mark.parametrize(("locale", "said"), [
    ("en", "a mapping is written old_element=new_element, not 'triage'"),
    ("zh_Hans", "对应关系应写作 旧元素=新元素，而不是 'triage'"),  # noqa: RUF001
])
def test_a_bad_mapping_on_the_migrate_page(login, people, mig_case, locale, said):
    response = _reader(login, people["process_owner"], locale).get("/processes/mig/migrate", query_string={
        "to_version": "2", "mapping": "triage"})
    assert response.status_code == 422
    assert escape(said) in response.get_data(as_text=True)


@pytest.mark.parametrize(("locale", "said"), [
    ("en", "{case} is a case of purchase_approval, not of mig"),
    ("zh_Hans", "{case} 是 purchase_approval 的工单，不是 mig 的"),  # noqa: RUF001
])
def test_a_case_of_another_process_on_the_migrate_page(login, people, mig_case, purchase, locale, said):
    response = _reader(login, people["process_owner"], locale).get("/processes/mig/migrate", query_string={
        "to_version": "2", "cases": purchase.key})
    assert response.status_code == 422
    assert said.format(case=purchase.key) in response.get_data(as_text=True)


@pytest.mark.parametrize(("locale", "said"), [
    ("en", "<strong>no provider named &#39;Nobody&#39;</strong>"),
    ("zh_Hans", "<strong>没有名为 &#39;Nobody&#39; 的服务商</strong>"),
])
def test_inputs_for_an_unknown_provider(login, people, locale, said):
    response = _reader(login, people["supervisor"], locale).get("/reports/inputs?provider=Nobody&period=2026-03")
    assert response.status_code == 404
    assert said in _refusal(response.get_data(as_text=True))


@pytest.mark.parametrize(("locale", "said"), [
    ("en", ["<strong>evaluation inputs are invalid</strong>",
            "inspections_done: cannot exceed Inspections planned (override; computed from inspection cases)"]),
    ("zh_Hans", ["<strong>考核输入无效</strong>", "inspections_done: 不能超过“计划巡检次数(覆盖按巡检工单的统计)”"]),
])
def test_inputs_that_do_not_add_up(login, people, session, locale, said):
    providers.add_provider(session, "Bolt", ["mail"], actor=None)
    session.commit()
    response = _reader(login, people["supervisor"], locale).post(
        "/reports/inputs?provider=Bolt&period=2026-03", data={"inspections_planned": "2", "inspections_done": "5"})
    assert response.status_code == 422
    refusal = _refusal(response.get_data(as_text=True))
    assert all(part in refusal for part in said), refusal


@pytest.mark.parametrize(("locale", "said"), [("en", "the diagram is empty"), ("zh_Hans", "流程图为空")])
def test_the_modeler_is_answered_in_the_readers_language(login, people, locale, said):
    response = _reader(login, people["process_owner"], locale).post("/processes/deploy?filename=x.bpmn", data=b" ")
    assert response.status_code == 422
    assert response.get_json()["error"]["message"] == said


@pytest.mark.parametrize(("language", "said"), [
    ("en", {"amount": ["Amount must be at most 5000"], "due": ["Due date is required"],
            "extra": ["is not a field of this form"]}),
    ("zh-CN", {"amount": ["金额不能大于 5000"], "due": ["截止日期为必填项"], "extra": ["不是此表单的字段"]}),
])
def test_a_forms_field_messages_name_the_field_in_the_readers_language(app, language, said):
    """What the task and start pages list under each field (forms.apply_errors says them)."""
    form = Form((Field("amount", "Amount", "number", max=5000, label_zh="金额"),
                 Field("due", "Due date", "date", required=True, label_zh="截止日期")))
    with pytest.raises(InvalidData) as refused:
        validate_form(form, {"amount": "9000", "extra": "x"})
    assert refused.value.message == "Some fields are not valid: amount, due, extra"
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert {key: [say(m) for m in messages] for key, messages in refused.value.details.items()} == said


@pytest.mark.parametrize(("locale", "said"), [("en", ["<strong>provider: required</strong>", "choose a provider"]),
                                              ("zh_Hans", ["<strong>服务商：必填</strong>", "请选择服务商"])])  # noqa: RUF001
def test_inputs_without_a_provider(login, people, locale, said):
    response = _reader(login, people["supervisor"], locale).get("/reports/inputs?period=2026-03")
    assert response.status_code == 422
    refusal = _refusal(response.get_data(as_text=True))
    assert all(part in refusal for part in said), refusal
