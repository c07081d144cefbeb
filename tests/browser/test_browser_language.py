"""What people read, in English and Simplified Chinese (issue 15): a change request's page shows
labelled values and one decision per gate by a named person, never the engine's variables;
groups and outcomes by name; a task separation of duties bars someone from is not in their
inbox; a notice ends when its task is done; the diagram fills its card; the reports open on a
month with data. Screenshots of the main pages in both languages go to artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.cases import queries, services
from engine.notifications import outbox
from engine.timing import clock
from webui.cli import demo_data as demo

COMMENT = "Budget line OPS-2027 ok"
# What the engine keeps beside the form values: none of it may show on the page.
ENGINE_KEYS = ("case_key", "opened_by", "assess_change_decision", "assess_change_by", "cab_approval_decision",
               "cab_approval_by", "finance_system", "change_type", "sla_resolve", "rollback_plan")
SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")


@pytest.fixture(scope="module")
def change(live_server: dict) -> dict:
    """A normal change walked (as the demo users) up to its verification: Carl assessed it, Cathy
    approved it at the CAB with a comment, Eric tested and implemented it, so Eric may not verify
    it. The worker's notice pass has run."""
    make = live_server["app"].extensions["opsgate_sessionmaker"]
    with make() as session:
        people = {name: demo.users.get_user(session, name) for name, _d, _g in demo.DEMO_USERS}
        form = queries.start_form(session, "change_request")
        data = demo.fill(form.fields, {
            "change_type": "normal", "system": "erp", "finance_system": "no",
            "description": "Point the nightly ERP backup job at the new storage array",
            "change_plan": "1. mount the array\n2. switch the job\n3. run it once by hand",
            "rollback_plan": "Switch the job back to the old array"})
        case = services.start_case(session, "change_request", data, actor=people["rita"],
                                   title="Move the ERP backups to the new array")
        demo.walk(session, case, people, until=lambda task: task.element_id == "verify_change",
                  answers={"cab_approval": {"decision": "approve", "comment": COMMENT}})
        verify = next(t for t in queries.open_tasks(session, case) if t.element_id == "verify_change")
        outbox.announce_ready_tasks(session)
        session.commit()
        return {"key": case.key, "verify": verify.id}


def speak(visitor, language: str) -> None:
    """Switch the visitor's language with the header's menu (it reloads the page)."""
    visitor.goto("/")
    with visitor.page.expect_navigation():
        visitor.page.select_option("#language", language)
    expect(visitor.page.locator("html")).to_have_attribute("lang", "zh-Hans" if language == "zh_Hans" else "en")


def main_text(visitor) -> str:
    return visitor.page.locator("main").inner_text()


def test_change_page_reads_as_people_wrote_it(visit, change):
    carl = visit("carl")
    carl.goto(f"/cases/{change['key']}")
    expect(carl.page.locator("#case-diagram")).to_have_attribute("data-state", "rendered")
    text = main_text(carl)
    for key in ENGINE_KEYS:
        assert key not in text, key
    assert not SNAKE.findall(text), SNAKE.findall(text)
    # labelled values as they were typed and chosen, the multi-line plan kept in lines
    values = carl.page.locator("#case-values")
    expect(values).to_contain_text("Does it touch a finance or budget system?")
    expect(values).to_contain_text("Normal")
    assert "1. mount the array\n2. switch the job" in values.inner_text()
    # one decision per gate, by name, with its comment
    decisions = carl.page.locator("#decisions li")
    expect(decisions).to_have_count(2)
    expect(decisions.nth(0)).to_contain_text("Assess the change")
    expect(decisions.nth(0)).to_contain_text("Approved by Carl Change Manager")
    expect(decisions.nth(1)).to_contain_text("Approved by vote: 2 for, 0 against, of 3")
    # the board's votes, each with its comment
    expect(carl.page.locator("#votes tr.ballot.approve")).to_have_count(2)
    expect(carl.page.locator("#votes tr.ballot.approve").first).to_contain_text(COMMENT)
    # the open step by its group's name, not its key
    expect(carl.page.locator("#open-h + ul")).to_contain_text("Verify the change")
    expect(carl.page.locator("#open-h + ul")).to_contain_text("Engineer")
    # the lanes of the diagram are named after their groups too
    labels = " ".join(carl.page.locator("#case-diagram .djs-label, #case-diagram text").all_text_contents())
    assert "Change advisory board" in labels and "change_manager" not in labels
    carl.shot("change-en")
    assert not carl.errors, carl.errors


def test_change_page_in_chinese(visit, change):
    aude = visit("aude")
    speak(aude, "zh_Hans")
    try:
        aude.goto(f"/cases/{change['key']}")
        expect(aude.page.locator("#case-diagram")).to_have_attribute("data-state", "rendered")
        text = main_text(aude)
        assert not SNAKE.findall(text), SNAKE.findall(text)
        expect(aude.page.locator("#case-values")).to_contain_text("是否涉及财务或全面预算系统")
        expect(aude.page.locator("#case-values")).to_contain_text("常规变更")
        expect(aude.page.locator("#decisions li").nth(1)).to_contain_text("表决通过\uff1a2 票赞成、0 票反对\uff0c共 3 人")
        expect(aude.page.locator("#votes")).to_contain_text("变更委员会审批")
        expect(aude.page.locator("#votes")).to_contain_text("共 3 人\uff1a2 票批准 · 0 票驳回 · 1 人未表决")
        expect(aude.page.locator("#votes tr.ballot.approve").first).to_contain_text(COMMENT)
        expect(aude.page.locator("#open-h + ul")).to_contain_text("运维工程师")
        expect(aude.page.locator("#open-h + ul")).to_contain_text("验证变更")
        labels = " ".join(aude.page.locator("#case-diagram .djs-label, #case-diagram text").all_text_contents())
        assert "变更委员会" in labels and "实施变更" in labels
        aude.shot("change-zh")
        aude.goto("/cases/CHG-000001")  # the demo's standard change, carried to the end
        expect(aude.page.locator("#case-outcome")).to_have_text("已实施")
        aude.shot("closed-change-zh")
    finally:
        speak(aude, "en")
    aude.goto("/cases/CHG-000001")
    expect(aude.page.locator("#case-outcome")).to_have_text("Implemented")
    assert not aude.errors, aude.errors


def test_a_barred_task_is_not_in_the_inbox_and_a_notice_ends_with_its_task(visit, change):
    eric = visit("eric")  # implemented the change: separation of duties bars him from verifying it
    eric.goto("/tasks")
    expect(eric.page.locator(f"tr[data-task-id='{change['verify']}']")).to_have_count(0)
    eric.goto("/")
    assert change["key"] not in eric.page.locator("#tasks-h + *").inner_text()
    eric.goto("/notices")
    expect(eric.page.locator(".notice-item", has_text=change["key"])).to_have_count(0)
    eric.shot("inbox-barred")

    emma = visit("emma")
    emma.goto("/tasks")
    expect(emma.page.locator(f"tr[data-task-id='{change['verify']}']")).to_have_count(1)
    emma.goto("/notices")
    notice = emma.page.locator(".notice-item", has_text=change["key"])
    expect(notice).to_have_count(1)
    emma.shot("notice-before")
    emma.goto(f"/tasks/{change['verify']}")
    emma.page.select_option("#verification_result", "passed")
    emma.page.fill("#verification_note", "Backup ran to the new array, restore of one file checked")
    emma.page.click("#content form.stacked button[type=submit]")
    expect(emma.page.locator(".flash.success")).to_be_visible()
    emma.goto("/notices")
    expect(emma.page.locator(".notice-item", has_text=change["key"])).to_have_count(0)
    emma.shot("notice-after")
    assert not eric.errors and not emma.errors, eric.errors + emma.errors


def test_the_diagram_fills_its_card_and_can_zoom(visit):
    aude = visit("aude")
    aude.goto("/cases/CHG-000002")
    view = aude.page.locator("#case-diagram")
    expect(view).to_have_attribute("data-state", "rendered")
    drawn = aude.page.evaluate("""() => {
        const view = document.getElementById('case-diagram');
        const box = view.querySelector('.djs-container svg .viewport').getBoundingClientRect();
        return {drawn: box.width, frame: view.clientWidth};
    }""")
    assert drawn["drawn"] >= 0.85 * drawn["frame"], drawn
    card = aude.page.locator(".case-diagram").bounding_box()
    assert card["width"] > 0.9 * aude.page.locator("main").bounding_box()["width"] - 40  # the page's width
    before = drawn["drawn"]
    aude.page.get_by_role("button", name="Zoom in").click()
    after = aude.page.evaluate("document.querySelector('#case-diagram svg .viewport').getBoundingClientRect().width")
    assert after > before
    aude.shot("diagram")
    phone = visit("rita")
    phone.page.set_viewport_size({"width": 390, "height": 844})
    phone.goto("/cases/CHG-000002")
    expect(phone.page.locator("#case-diagram")).to_have_attribute("data-state", "rendered")
    steps = phone.page.locator("#open-h").bounding_box()
    diagram = phone.page.locator("#diagram-h").bounding_box()
    assert steps["y"] < diagram["y"]  # on a phone the open steps come first
    phone.shot("case-phone")
    assert not aude.errors and not phone.errors


def test_reports_open_on_a_month_with_data(visit):
    suzy = visit("suzy")
    suzy.goto("/reports/")
    month = f"{clock.now():%Y-%m}"  # the demo's cases were opened in the last few days
    expect(suzy.page.locator("#period")).to_have_value(month)
    expect(suzy.page.locator("table.hot-spots")).to_contain_text("erp")
    expect(suzy.page.locator("#trend-charts")).to_have_attribute("data-state", "drawn")
    suzy.shot("reports")
    assert not suzy.errors, suzy.errors


PAGES = [  # (who, path, name): the main pages of each kind of user
    ("rita", "/", "home"),
    ("rita", "/cases/new", "new-request"),
    ("rita", "/cases/new/change_request", "change-form"),
    ("desk", "/cases/new/incident", "incident-form"),
    ("carl", "/tasks", "inbox"),
    ("carl", "/notices", "notices"),
    ("carl", "/cases", "cases"),
    ("carl", "/cases/CHG-000002", "case-waiting"),
    ("cathy", "/tasks", "cab-inbox"),
    ("aude", "/cases/INC-000001", "case-escalated"),
    ("aude", "/audit", "audit"),
    ("paul", "/processes", "processes"),
    ("suzy", "/reports/", "reports"),
    ("admin", "/admin/groups", "groups"),
]


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_main_pages_in_both_languages(visit, change, language):
    """Save a screenshot of each main page in the language, and check that it speaks it."""
    people = {}
    try:
        for who, path, name in PAGES:
            visitor = people.get(who)
            if visitor is None:
                visitor = people[who] = visit(who)
                if language != "en":
                    speak(visitor, language)
            response = visitor.goto(path)
            assert response.status == 200, (path, response.status)
            visitor.page.wait_for_load_state("networkidle")
            headings = " ".join(visitor.page.locator("main h1, main h2").all_inner_texts())
            if language == "zh_Hans":  # every page's headings speak Chinese (a case's title is data)
                assert re.search(r"[\u4e00-\u9fff]", headings), (path, headings)
                assert not SNAKE.findall(visitor.page.locator("nav.main-nav").inner_text())
            visitor.prefix = f"lang-{language}"
            visitor.shot(name)
            assert not visitor.errors, (path, visitor.errors)
    finally:
        if language != "en":
            for visitor in people.values():
                speak(visitor, "en")
