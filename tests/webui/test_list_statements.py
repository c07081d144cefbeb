"""Lists run a fixed number of statements per page, whatever the page size: one for the rows
with their related rows, a few for what the page shows beside them, none per item.

Each test counts the statements of a request (tests.conftest.statements) and fails when a
statement is added to a list or when the count grows with the page size (5 against 50)."""
from __future__ import annotations

from collections import Counter

import pytest

from engine.cases import services
from tests.webui.conftest import session_client, token_client

PAGE_SIZES = (5, 50)


@pytest.fixture
def desk(session, make_user, deploy):
    """A service-desk user and 50 cases of four_steps, each waiting on its triage (the desk's)."""
    deploy("four_steps.bpmn")
    desk = make_user("service_desk", name="sam")
    requesters = [make_user(name=f"req{i}") for i in range(3)]
    cases = [services.start_case(session, "four_steps", {"title": f"case {i}", "system": "erp", "urgent": True},
                                 actor=requesters[i % 3]) for i in range(50)]
    for case in cases[::7]:  # some of them claimed by the desk: the assignee comes with the task
        task = next(t for t in case_tasks(session, case))
        services.claim_task(session, task.id, actor=desk)
    session.commit()
    session.expunge_all()
    return desk


def case_tasks(session, case):
    from engine.cases import queries
    return queries.open_tasks(session, case)


def extra(seen: list[str], baseline: list[str]) -> Counter:
    """The statements a request ran beyond another's (its sign-in, for instance)."""
    return Counter(seen) - Counter(baseline)


def test_api_inbox_reads_a_page_in_one_statement(app, session, desk, count_statements):
    api = token_client(app, session, desk)
    with count_statements() as baseline:
        assert api.get("/me").status_code == 200
    counts = {}
    for size in PAGE_SIZES:
        session.expunge_all()
        with count_statements() as seen:
            response = api.get(f"/tasks?per_page={size}")
        assert response.status_code == 200 and len(response.json) == size
        assert response.json[0]["case"].startswith("FST-") and response.json[0]["name"] == "Triage"
        assert ("Link" in response.headers) == (size < 50)
        assert extra(seen, baseline) == Counter({"SELECT human_task": 1}), (seen, baseline)
        counts[size] = len(seen)
    assert counts[5] == counts[50]
    claimed = [t for t in api.get("/tasks?per_page=50").json if t["assignee"]]
    assert {t["assignee"] for t in claimed} == {"sam"} and len(claimed) == 8


def test_api_inbox_pages_follow_each_other(app, session, desk):
    api = token_client(app, session, desk)
    first = api.get("/tasks?per_page=20")
    second = api.get("/tasks?per_page=20&page=2")
    third = api.get("/tasks?per_page=20&page=3")
    ids = [t["id"] for r in (first, second, third) for t in r.json]
    assert len(ids) == 50 == len(set(ids))
    assert "Link" not in third.headers
    assert ids == [t["id"] for t in api.get("/tasks?per_page=50").json]


def test_inbox_page_runs_as_many_statements_for_5_tasks_as_for_50(app, session, make_user, deploy):
    deploy("four_steps.bpmn")
    desk = make_user("service_desk", name="sam")
    session.commit()
    browser = session_client(app, desk).client
    counts = {}
    made = 0
    for size in PAGE_SIZES:
        while made < size:
            services.start_case(session, "four_steps", {"title": f"case {made}", "system": "erp", "urgent": True},
                                actor=make_user(name=f"req{made}"))
            made += 1
        session.commit()
        session.expunge_all()
        with count_statements_of(session) as seen:
            page = browser.get("/tasks")
        assert page.status_code == 200
        assert page.get_data(as_text=True).count('data-task-id="') == size
        assert Counter(seen)["SELECT human_task"] == 1, seen
        counts[size] = len(seen)
    assert counts[5] == counts[50]


def test_home_page_runs_as_many_statements_for_5_tasks_as_for_20(app, session, make_user, deploy):
    deploy("four_steps.bpmn")
    desk = make_user("service_desk", name="sam")
    session.commit()
    browser = session_client(app, desk).client
    counts = {}
    made = 0
    for size in (5, 20):
        while made < size:
            services.start_case(session, "four_steps", {"title": f"case {made}", "system": "erp", "urgent": True},
                                actor=desk if made % 2 else make_user(name=f"req{made}"))
            made += 1
        session.commit()
        session.expunge_all()
        with count_statements_of(session) as seen:
            page = browser.get("/")
        assert page.status_code == 200
        assert f"case {size - 1}" in page.get_data(as_text=True)
        counts[size] = len(seen)
    assert counts[5] == counts[20], seen


def count_statements_of(session):
    from tests.conftest import statements
    return statements(session)


def _open_cases(session, make_user, count, start=0):
    requesters = [make_user(name=f"r{start}-{i}") for i in range(3)]
    return [services.start_case(session, "four_steps", {"title": f"case {i}", "system": "erp", "urgent": True},
                                actor=requesters[i % 3]) for i in range(start, start + count)]


def test_api_case_list_reads_open_tasks_once_per_page(app, session, make_user, deploy, count_statements):
    deploy("four_steps.bpmn")
    auditor = make_user("auditor", name="ann")
    desk = make_user("service_desk", name="sam")
    cases = _open_cases(session, make_user, 50)
    for case in cases[::5]:
        services.claim_task(session, case_tasks(session, case)[0].id, actor=desk)
    session.commit()
    api = token_client(app, session, auditor)
    with count_statements() as baseline:
        api.get("/me")
    counts = {}
    for size in PAGE_SIZES:
        session.expunge_all()
        with count_statements() as seen:
            response = api.get(f"/cases?per_page={size}")
        assert response.status_code == 200 and len(response.json["items"]) == size
        first = response.json["items"][0]
        assert first["title"] == "case 49" and first["version"] == 1 and first["requester"] == "r0-1"
        assert [t["name"] for t in first["open_tasks"]] == ["Triage"]
        assert extra(seen, baseline) == Counter({"SELECT case": 1, "SELECT human_task": 1,
                                                 "SELECT process_definition": 1}), (seen, baseline)
        counts[size] = len(seen)
    assert counts[5] == counts[50]
    claimed = [t["assignee"] for c in api.get("/cases?per_page=50").json["items"] for t in c["open_tasks"]]
    assert claimed.count("sam") == 10


def test_api_case_list_pages_by_key_with_the_statements_of_the_first_page(app, session, make_user, deploy,
                                                                          count_statements):
    """?before= (the previous page's next_before) reads on from where that page stopped: the same
    cases as the numbered pages, the same statements, and no OFFSET over the cases before it."""
    deploy("four_steps.bpmn")
    auditor = make_user("auditor", name="ann")
    _open_cases(session, make_user, 12)
    session.commit()
    api = token_client(app, session, auditor)
    numbered = [api.get(f"/cases?per_page=5&page={n}").json for n in (1, 2, 3)]
    assert [p["next_page"] for p in numbered] == [2, 3, None]
    assert numbered[0]["next_before"] == numbered[0]["items"][-1]["id"] and numbered[2]["next_before"] is None
    with count_statements() as first:
        api.get("/cases?per_page=5")
    keyed, cursor = [numbered[0]], numbered[0]["next_before"]
    while cursor is not None:
        session.expunge_all()
        with count_statements() as seen:
            page = api.get(f"/cases?per_page=5&before={cursor}").json
        assert Counter(seen) == Counter(first), (seen, first)
        assert page["next_page"] is None
        keyed.append(page)
        cursor = page["next_before"]
    titles = [[c["title"] for c in p["items"]] for p in keyed]
    assert titles == [[c["title"] for c in p["items"]] for p in numbered]
    assert titles[0][0] == "case 11" and titles[2] == ["case 1", "case 0"]
    both = api.get(f"/cases?page=2&before={numbered[0]['next_before']}")
    assert both.status_code == 422 and "before" in both.json["error"]["details"]
    assert api.get("/cases?before=abc").status_code == 400


def test_case_list_page_follows_next_by_key(app, session, make_user, deploy, count_statements):
    """The case list page's "Next" carries the last case's id (?before=), so the second page reads
    on from the index where the first stopped, with the first page's statements; "Previous"
    goes back by page number."""
    import html as markup
    import re

    deploy("four_steps.bpmn")
    auditor = make_user("auditor", name="ann")
    cases = _open_cases(session, make_user, 52)
    session.commit()
    browser = session_client(app, auditor).client
    first = browser.get("/cases").get_data(as_text=True)
    assert first.count('href="/cases/FST-') >= 50 and "case 51" in first and "case 1<" not in first
    [following] = re.findall(r'href="(/cases\?[^"]*)"[^>]*>Next<', first)
    following = markup.unescape(following)
    assert f"before={cases[2].id}" in following and "page=2" in following
    session.expunge_all()
    with count_statements() as on_first:
        browser.get("/cases")
    session.expunge_all()
    with count_statements() as on_second:
        second = browser.get(following).get_data(as_text=True)
    assert Counter(on_second) == Counter(on_first), (on_second, on_first)
    assert "case 1<" in second and "case 0<" in second and "case 2<" not in second
    assert ">Next<" not in second and 'href="/cases?page=1"' in second
    refused = browser.get("/cases?before=abc")
    assert refused.status_code == 400 and "before" in refused.get_data(as_text=True)


def test_api_notices_and_history_page_in_sql(app, session, make_user, deploy, count_statements):
    from engine.notifications import outbox

    deploy("four_steps.bpmn")
    desk = make_user("service_desk", name="sam")
    keys = [c.key for c in _open_cases(session, make_user, 50)]
    outbox.announce_ready_tasks(session)
    session.commit()
    api = token_client(app, session, desk)
    with count_statements() as baseline:
        api.get("/me")
    counts = {}
    for size in PAGE_SIZES:
        session.expunge_all()
        with count_statements() as seen:
            response = api.get(f"/notices?per_page={size}")
        assert response.status_code == 200 and len(response.json) == size
        assert response.json[0]["case"] == keys[-1] and response.json[0]["kind"] == "task_assigned"
        assert extra(seen, baseline) == Counter({"SELECT notification": 1, "SELECT case": 1}), seen
        counts[size] = len(seen)
    assert counts[5] == counts[50]
    second = api.get("/notices?per_page=30&page=2").json
    assert len(second) == 20 and second[-1]["case"] == keys[0]

    auditor = token_client(app, session, make_user("auditor", name="ann"))
    events = auditor.get(f"/cases/{keys[0]}/history").json
    assert events[0]["type"] == "case_started"
    last = auditor.get(f"/cases/{keys[0]}/history?per_page=1&page={len(events)}")
    assert last.json == events[-1:] and "Link" not in last.headers
    assert auditor.get(f"/cases/{keys[0]}/history?per_page=1&page={len(events) + 1}").json == []


def test_case_list_page_runs_as_many_statements_for_5_cases_as_for_50(app, session, make_user, deploy):
    deploy("four_steps.bpmn")
    auditor = make_user("auditor", name="ann")
    session.commit()
    browser = session_client(app, auditor).client
    counts = {}
    made = 0
    for size in PAGE_SIZES:
        _open_cases(session, make_user, size - made, start=made)
        made = size
        session.commit()
        session.expunge_all()
        with count_statements_of(session) as seen:
            page = browser.get("/cases")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert html.count('class="case-key"') == size and f"case {size - 1}" in html
        assert Counter(seen)["SELECT audit_event"] == 1 and Counter(seen)["SELECT human_task"] == 1, seen
        counts[size] = len(seen)
    assert counts[5] == counts[50]


def test_notices_page_runs_as_many_statements_for_5_notices_as_for_50(app, session, make_user, deploy):
    from engine.notifications import outbox

    deploy("four_steps.bpmn")
    desk = make_user("service_desk", name="sam")
    session.commit()
    browser = session_client(app, desk).client
    counts = {}
    made = 0
    for size in PAGE_SIZES:
        _open_cases(session, make_user, size - made, start=made)
        made = size
        outbox.announce_ready_tasks(session)
        session.commit()
        session.expunge_all()
        with count_statements_of(session) as seen:
            page = browser.get("/notices")
        assert page.status_code == 200
        assert page.get_data(as_text=True).count("data-notice-id=") == size
        counts[size] = len(seen)
    assert counts[5] == counts[50], seen


def test_audit_search_page_runs_as_many_statements_for_few_events_as_for_a_page(app, session, make_user, deploy):
    deploy("four_steps.bpmn")
    auditor = make_user("auditor", name="ann")
    session.commit()
    browser = session_client(app, auditor).client
    counts = {}
    made = 0
    for size in (2, 50):
        _open_cases(session, make_user, size - made, start=made)
        made = size
        session.commit()
        session.expunge_all()
        with count_statements_of(session) as seen:
            page = browser.get("/audit?process_key=four_steps")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert f"FST-{size:06d}" in html
        assert "WITH audit_event" in seen  # the event types, one index probe each
        counts[size] = len(seen)
    assert counts[2] == counts[50], seen
