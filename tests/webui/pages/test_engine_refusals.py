"""The engine's refusals on pages are said in the reader's language (engine.errors.Said through
webui.i18n.say), with the task's and group's names in that language; the JSON API keeps the
engine's English, byte for byte."""
from __future__ import annotations

import datetime as dt
import io
from html import escape
from pathlib import Path

import pytest

from engine.cases import queries, services
from engine.errors import Name, said
from engine.people import groups, tokens
from engine.timing import clock
from webui.i18n import say

DATA = Path(__file__).resolve().parents[2] / "data"
REFUSED_EN = "“{task}” is work for the Engineer group, and you are not a member (candidate group rule)."


def _approval(task_name: str) -> bytes:
    """The purchase approval, its review task named `task_name` and, in Chinese, 审核申请."""
    text = (DATA / "camunda_approval.bpmn").read_text(encoding="utf-8")
    review = '<bpmn:userTask id="review" name="Review request" camunda:candidateGroups="engineer">\n' \
             '      <bpmn:extensionElements>\n'
    assert review in text
    named = review.replace('name="Review request"', f'name="{escape(task_name)}"') + \
        '        <camunda:properties><camunda:property name="name_zh" value="审核申请" /></camunda:properties>\n'
    return text.replace(review, named).encode()


@pytest.fixture
def review_task(deploy, session, people):
    """Open a purchase case whose review task has `name` (and 审核申请 in Chinese); return the task id."""

    def make(name: str = "Review request") -> str:
        deploy(("camunda_approval.bpmn", _approval(name)))
        case = services.start_case(session, "purchase_approval", {"item": "Laptop", "amount": 1200},
                                   actor=people["requester"], title="New laptop")
        session.commit()
        return queries.open_tasks(session, case)[0].id

    return make


def _refusal(page: str) -> str:
    start = page.index('id="refusal">')
    return page[start:page.index("</div>", start)]


def test_a_refusal_on_a_chinese_page_names_the_task_and_group_in_chinese(login, people, review_task):
    task_id = review_task()
    client = login(people["requester"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    response = client.post(f"/tasks/{task_id}/claim")
    assert response.status_code == 403
    assert "<strong>“审核申请”是运维工程师组的工作，您不是其成员（候选组规则）。</strong>" in _refusal(  # noqa: RUF001
        response.get_data(as_text=True))


def test_the_same_refusal_on_an_english_page_is_the_engines_sentence(login, people, review_task):
    task_id = review_task()
    response = login(people["requester"]).post(f"/tasks/{task_id}/claim")
    assert response.status_code == 403
    assert f"<strong>{REFUSED_EN.format(task='Review request')}</strong>" in _refusal(response.get_data(as_text=True))


def test_the_api_answers_the_refusal_in_english_whatever_the_language(app, session, login, people, review_task):
    task_id = review_task()
    login(people["requester"]).post("/language", data={"locale": "zh_Hans", "next": "/"})  # rita reads Chinese
    token = tokens.create_token(session, people["requester"].name, actor=None, name="test")
    session.commit()
    response = app.test_client().post(f"/api/v1/tasks/{task_id}/claim", headers={
        "Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})
    assert response.status_code == 403
    assert response.json["error"]["message"] == REFUSED_EN.format(task="Review request")


def test_a_group_renamed_by_an_admin_is_named_as_titled(login, session, people, review_task):
    task_id = review_task()
    groups.rename_group(session, "engineer", "Site reliability", "站点可靠性", actor=people["admin"])
    session.commit()
    client = login(people["requester"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    assert "“审核申请”是站点可靠性组的工作" in _refusal(client.post(f"/tasks/{task_id}/claim").get_data(as_text=True))


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "100% done %(task)s %s"])
def test_a_task_name_with_markup_or_percent_signs_is_a_value(login, people, review_task, name, locale):
    task_id = review_task(name)
    client = login(people["requester"])
    client.post("/language", data={"locale": locale, "next": "/"})
    response = client.post(f"/tasks/{task_id}/claim")
    page = response.get_data(as_text=True)
    assert response.status_code == 403 and "<script>alert" not in page
    if locale == "en":
        assert f"<strong>{escape(REFUSED_EN.format(task=name), quote=False)}</strong>" in _refusal(page)
    else:
        assert "“审核申请”是运维工程师组的工作" in _refusal(page)


def test_a_sentence_without_a_translation_is_said_in_english(app):
    untranslated = said("“%(task)s” cannot be frobbed by %(person)s", task=Name("Review request", "审核申请"),
                        person="rita")
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert say(untranslated) == "“Review request” cannot be frobbed by rita"
        # A translated sentence in the same place is said in Chinese (the test above is not vacuous).
        assert say(said("no task %(task)s", task="42")) == "没有任务 42"


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english(app, monkeypatch):
    import webui.i18n

    class Broken:
        def gettext(self, template: str) -> str:
            return "%(nobody)s 没有任务"

    monkeypatch.setattr(webui.i18n, "get_translations", Broken)
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert say(said("no task %(task)s", task="42")) == "no task 42"


def test_the_task_page_says_why_in_the_readers_language(login, session, people, review_task):
    task_id = review_task()
    client = login(people["requester"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "“审核申请”是运维工程师组的工作，您不是其成员（候选组规则）。</div>" in page  # noqa: RUF001

    services.complete_task(session, task_id, {"review_notes": "fine"}, actor=people["engineer"])
    session.commit()
    erin = login(people["engineer"])
    assert "Review request is already completed by erin.</div>" in erin.get(f"/tasks/{task_id}").get_data(as_text=True)
    erin.post("/language", data={"locale": "zh_Hans", "next": "/"})
    assert "审核申请 已由 erin 完成。</div>" in erin.get(f"/tasks/{task_id}").get_data(as_text=True)
    refused = erin.post(f"/tasks/{task_id}/claim")
    assert refused.status_code == 409 and "<strong>审核申请 已由 erin 完成</strong>" in refused.get_data(as_text=True)


@pytest.mark.parametrize(("locale", "said_page"), [
    ("en", ["<strong>notes.txt is empty</strong>", "file: notes.txt: the file is empty"]),
    ("zh_Hans", ["<strong>notes.txt 是空文件</strong>", "file: notes.txt：文件为空"]),  # noqa: RUF001
])
def test_a_refused_upload_and_its_field_message_are_said_in_the_readers_language(login, people, purchase, locale,
                                                                                 said_page):
    client = login(people["requester"])
    client.post("/language", data={"locale": locale, "next": "/"})
    response = client.post(f"/cases/{purchase.key}/attachments", data={"file": (io.BytesIO(b""), "notes.txt")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for text in said_page:
        assert text in page


def test_the_deputies_form_says_its_field_errors_in_chinese(login, people):
    def local(hours: int) -> str:
        return (clock.now() + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")

    erin = login(people["engineer"])
    erin.post("/language", data={"locale": "zh_Hans", "next": "/"})
    refused = erin.post("/deputies", data={"deputy": "erin", "starts_at": local(-1), "ends_at": local(24)})
    assert refused.status_code == 422 and "不能指定自己为自己的代理人" in refused.get_data(as_text=True)
