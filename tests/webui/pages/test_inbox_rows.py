"""The inbox's and the home page's task rows (built once per page by webui.pages.rows) say what
the row-by-row template said: the task's and group's names, the case link, who holds the task,
the due badge, Claim or Release, "for" the person a deputy stands in for; in English and in
Chinese, under a path prefix, with every name people typed escaped."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from flask import url_for
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from markupsafe import escape

from engine.cases import services
from engine.people import delegations
from engine.timing import clock
from models import HumanTask
from tests.webui.pages.conftest import PASSWORD
from webui.pages import rows

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"
TITLE = '<script>alert("title")</script> & more'
PAT = '<script>alert("pat")</script>'
SAM = "Sam <b>Desk</b>"
NAMES = {"en": ("Dispatch the work order", "Service desk"), "zh_Hans": ("派工", "服务台")}


@pytest.fixture
def desk(deploy, session, make_user, people):
    """Five dispatch tasks for the service desk's sam: unclaimed and overdue (a title with a
    script in it), claimed by sam and due soon, held by pat whom sam stands in for, unclaimed
    and due in two days, unclaimed without a due time."""
    deploy(WORKFLOWS / "service_request.bpmn")
    sam = make_user("service_desk", name="sam", password=PASSWORD, display_name=SAM)
    pat = make_user("service_desk", name="pat", password=PASSWORD, display_name=PAT)
    tasks = []
    for n in range(5):
        case = services.start_case(session, "service_request", {"category": "printer", "description": "jam",
                                                                  "location": "A-301"},
                                   actor=people["requester"], title=TITLE if n == 0 else f"Printer {n}")
        tasks.append(session.query(HumanTask).filter_by(case_id=case.id, state="ready").one())
    services.claim_task(session, tasks[1].id, actor=sam)
    services.claim_task(session, tasks[2].id, actor=pat)
    now = clock.now()
    delegations.name_deputy(session, actor=pat, deputy="sam", starts_at=now - dt.timedelta(hours=1),
                            ends_at=now + dt.timedelta(days=1))
    for task, due in zip(tasks, [now - dt.timedelta(days=1), now + dt.timedelta(hours=1),
                                 now + dt.timedelta(hours=2), now + dt.timedelta(days=2), None], strict=True):
        task.due_at = due
    session.commit()
    return sam, tasks


def _rows(page: str) -> dict[str, str]:
    return {m[1]: re.sub(r"\s+", " ", m[2]) for m in re.finditer(r'<tr data-task-id="([^"]+)">(.*?)</tr>', page, re.S)}


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_inbox_rows_say_the_same_in_both_languages_under_a_prefix(app, login, desk, language):
    sam, tasks = desk
    client = login(sam)
    client.post("/language", data={"locale": language, "next": "/"})
    page = client.get("/tasks", base_url="http://localhost/ops").get_data(as_text=True)
    found = _rows(page)
    assert list(found) == [t.id for t in tasks]
    assert "<script>alert" not in page and "<b>Desk" not in page
    task_name, group = NAMES[language]
    with app.test_request_context("/tasks", base_url="http://localhost/ops"), force_locale(language):
        for n, task in enumerate(tasks):
            row = found[task.id]
            link = url_for("tasks.detail", task_id=task.id)
            assert link.startswith("/ops/tasks/")
            assert f'<td><a href="{link}">{task_name}</a>' in row
            assert f'<a class="btn small" href="{link}">{_("Open")}</a>' in row
            assert (f'<a class="case-key" href="{url_for("cases.detail", ref=task.case.key)}">{task.case.key}</a> '
                    f'<span class="muted">{escape(task.case.title)}</span>') in row
            assert f"<td>{group}</td>" in row
            holder = {1: SAM, 2: PAT}.get(n)
            assert f"<td>{escape(holder) if holder else '—'}</td>" in row
            if task.due_at is None:
                assert "badge overdue" not in row and 'class="badge' not in row.split("</td>")[4]
            else:
                state, word = [("overdue", _("overdue")), ("due", _("due soon")), ("due", _("due soon")),
                               ("info", _("due"))][n]
                when = format_datetime(task.due_at, "yyyy-MM-dd HH:mm")
                assert f'<span class="badge {state}" title="{when}">{word} {when}</span>' in row
            claim = f'action="{url_for("tasks.claim", task_id=task.id)}"'
            release = f'action="{url_for("tasks.release", task_id=task.id)}"'
            assert (claim in row) == (n in (0, 3, 4)) and (release in row) == (n == 1)
            if claim in row or release in row:
                assert f'type="submit">{_("Claim") if claim in row else _("Release")}</button></form>' in row
                assert 'name="csrf_token"' in row
            deputy = f'<span class="badge neutral deputy">{escape(_("for %(name)s", name=PAT))}</span>'
            assert (deputy in row) == (n == 2)
    if language == "zh_Hans":  # the catalogue was used, not the English words
        assert "已超时" in page and "即将到期" in page and ">认领</button>" in page and "代 &lt;script&gt;" in page


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_home_rows_say_the_same_in_both_languages(app, login, desk, language):
    sam, tasks = desk
    client = login(sam)
    client.post("/language", data={"locale": language, "next": "/"})
    page = re.sub(r"\s+", " ", client.get("/", base_url="http://localhost/ops").get_data(as_text=True))
    task_name = NAMES[language][0]
    with app.test_request_context("/", base_url="http://localhost/ops"), force_locale(language):
        mine = f' <span class="badge info">{_("claimed by me")}</span>'
        for n, task in enumerate(tasks):
            link = f'<a href="{url_for("tasks.detail", task_id=task.id)}">{task_name}</a>'
            assert link + (mine if n == 1 else "</td>") in page
            assert (f'<span class="case-key">{task.case.key}</span> '
                    f'<span class="muted">{escape(task.case.title)}</span>') in page
        when = format_datetime(tasks[0].due_at, "yyyy-MM-dd HH:mm")
        badge = f'<span class="badge overdue" title="{when}">{_("overdue")} {when}</span>'
        assert page.count(badge) == 2  # in My tasks and in the SLA warnings
        assert (f'{badge} <a class="case-key" href="{url_for("tasks.detail", task_id=tasks[0].id)}">'
                f"{tasks[0].case.key}</a> — {task_name}</li>") in page  # the warning names it as My tasks does
    assert "<script>alert" not in page


@pytest.mark.parametrize("value", ["0b6a5b2e-9c1d-4f0e-8a7b-3c2d1e0f9a8b", "INC-000123", "a b", "变更-1", "a/b", "x?y#z",
                                   "..", "50%", "<i>"])
def test_one_url_for_per_endpoint_builds_what_url_for_builds(app, value):
    with app.test_request_context("/tasks", base_url="http://localhost/ops"):
        for endpoint, argument in [("tasks.detail", "task_id"), ("cases.detail", "ref"), ("tasks.claim", "task_id")]:
            assert rows.address(endpoint, argument)(value) == url_for(endpoint, **{argument: value})


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_a_task_page_shows_the_due_badge_the_lists_show(app, login, desk, language):
    """The other pages' `due_badge` macro writes the badge through rows.due_badge_html: the same
    markup, word and time as the task lists."""
    sam, tasks = desk
    client = login(sam)
    client.post("/language", data={"locale": language, "next": "/"})
    for task, state, word in [(tasks[0], "overdue", "overdue"), (tasks[1], "due", "due soon")]:
        page = re.sub(r"\s+", " ", client.get(f"/tasks/{task.id}").get_data(as_text=True))
        with app.test_request_context("/"), force_locale(language):
            when = format_datetime(task.due_at, "yyyy-MM-dd HH:mm")
            assert f'<span class="badge {state}" title="{when}">{_(word)} {when}</span>' in page
