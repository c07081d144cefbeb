"""The walk issue 6 asks for, in a real browser, one person at a time.

requester opens a normal change -> change manager assesses it -> CAB member approves from the
inbox -> the change manager sees the next step -> the auditor reads the case (timeline,
diagram with the path), verifies the chain and downloads the evidence pack -> a process
owner renames a task in the modeler and deploys version 2 while the open case stays on
version 1 -> a refused action shows its reason.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def change(live_server: dict) -> dict:
    """Shared state of the walk: the case key once the requester opened it."""
    return {}


def test_requester_opens_a_normal_change(visit, change):
    rita = visit("rita")
    rita.shot("home")
    rita.page.click("text=New request")
    rita.shot("new-request")
    rita.page.click("a[href$='/cases/new/change_request']")
    expect(rita.page.locator("h1")).to_contain_text("Change")
    rita.page.fill("#title", "Upgrade the mail gateway")
    rita.page.select_option("#change_type", "normal")
    rita.page.fill("#system", "mail")
    rita.page.fill("#description", "Upgrade the mail gateway to the supported release")
    rita.page.select_option("#finance_system", "no")
    rita.page.fill("#change_plan", "1. drain queue 2. upgrade 3. test")
    rita.page.fill("#rollback_plan", "Restore the VM snapshot")
    # A missing required field is refused on the field itself.
    rita.page.fill("#rollback_plan", "")
    rita.page.click("#content button[type=submit]")
    expect(rita.page.locator(".field.has-error")).to_contain_text("Rollback")
    rita.shot("start-form-error")
    rita.page.fill("#rollback_plan", "Restore the VM snapshot")
    rita.page.set_input_files("#attachments", files=[{"name": "plan.txt", "mimeType": "text/plain",
                                                      "buffer": b"the change plan"}])
    rita.page.click("#content button[type=submit]")
    expect(rita.page.locator(".flash.success")).to_contain_text("opened")
    key = rita.page.locator("h1").inner_text().split()[0]
    assert re.fullmatch(r"CHG-\d{6}", key)
    change["key"] = key
    expect(rita.page.locator("#open-h + ul")).to_contain_text("Assess the change")
    expect(rita.page.get_by_role("link", name="plan.txt")).to_be_visible()
    rita.shot("case-opened")
    assert not rita.errors, rita.errors


def test_change_manager_assesses(visit, change):
    carl = visit("carl")
    carl.goto("/tasks")
    row = carl.page.locator("#inbox tr", has_text=change["key"])
    row.locator("text=Claim").click()
    carl.shot("inbox-claimed")
    carl.page.locator("#inbox tr", has_text=change["key"]).locator("text=Open").click()
    carl.page.select_option("#risk", "medium")
    carl.page.fill("#impact_assessment", "Mail is queued for 10 minutes")
    carl.shot("assess")
    carl.page.click("button[name=decision][value=approve]")
    expect(carl.page.locator(".flash.success")).to_be_visible()
    expect(carl.page.locator("#open-h + ul")).to_contain_text("CAB approval")


def test_cab_rejecting_needs_a_comment_then_approves_from_the_inbox(visit, change):
    cathy = visit("cathy")
    cathy.goto("/tasks")
    cathy.shot("inbox")
    cathy.page.locator("#inbox tr", has_text=change["key"]).locator("text=Open").click()
    expect(cathy.page.locator("button[name=decision][value=approve]")).to_be_visible()
    cathy.shot("cab-task")
    cathy.page.click("button[name=decision][value=reject]")
    expect(cathy.page.locator(".field.has-error")).to_contain_text("omment")
    cathy.shot("reject-without-comment")
    cathy.page.fill("#comment", "Queue drain tested last week")
    cathy.page.click("button[name=decision][value=approve]")
    expect(cathy.page.locator(".flash.success")).to_contain_text("CAB approval")
    cathy.shot("approved")


def test_the_board_votes_and_the_case_page_shows_the_tally(visit, change):
    carl = visit("carl")
    carl.goto(f"/cases/{change['key']}")
    votes = carl.page.locator("#votes")
    expect(votes).to_contain_text("voting")
    expect(votes).to_contain_text("1 approve · 0 reject · 2 not voted, of 3")
    expect(votes.locator("tr.ballot.approve")).to_contain_text("Cathy CAB Member")
    expect(votes.locator("tr.ballot.approve")).to_contain_text("Queue drain tested last week")
    expect(votes.locator("tr.ballot.waiting")).to_have_count(2)
    carl.shot("vote-in-progress")
    colin = visit("colin")
    colin.goto("/tasks")
    colin.page.locator("#inbox tr", has_text=change["key"]).locator("text=Open").click()
    colin.page.click("button[name=decision][value=approve]")
    expect(colin.page.locator(".flash.success")).to_contain_text("CAB approval")
    carl.goto(f"/cases/{change['key']}")
    expect(votes).to_contain_text("approved")
    expect(votes).to_contain_text("2 approve · 0 reject · 1 not voted, of 3")
    expect(votes.locator("tr.ballot.waiting")).to_contain_text("did not vote")
    expect(carl.page.locator("#decisions")).to_contain_text("Approved by vote: 2 for, 0 against, of 3")
    carl.shot("vote-decided")
    assert not carl.errors, carl.errors


def test_change_manager_sees_the_next_step(visit, change):
    carl = visit("carl")
    carl.goto(f"/cases/{change['key']}")
    expect(carl.page.locator("#open-h + ul")).to_contain_text("Test the change")
    expect(carl.page.locator(".timeline")).to_contain_text("Approved")
    carl.shot("next-step")


def test_auditor_reads_verifies_and_downloads(visit, change):
    aude = visit("aude")
    aude.goto(f"/cases/{change['key']}")
    diagram = aude.page.locator("#case-diagram")
    expect(diagram).to_have_attribute("data-state", "rendered")
    assert aude.page.locator("#case-diagram .djs-element.og-done").count() >= 3
    assert aude.page.locator("#case-diagram .djs-connection.og-taken").count() >= 3
    expect(aude.page.locator("#case-diagram .og-current")).to_have_count(1)
    expect(aude.page.locator(".timeline")).to_contain_text("Case opened")
    expect(aude.page.locator(".timeline")).to_contain_text("Cathy CAB Member")  # people by name
    aude.shot("case")
    with aude.page.expect_download() as download_info:
        aude.page.click("text=Download evidence pack")
    pack = zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    manifest = json.loads(pack.read("manifest.json"))
    events = json.loads(pack.read("events.json"))
    assert manifest["chain"]["ok"] is True
    assert manifest["process"]["version"] == 1
    assert next(e["type"] for e in events) == "case_started"
    assert json.loads(pack.read("attachments.json"))[0]["filename"] == "plan.txt"
    aude.page.click("text=Verify chain")  # this case's chain, answered on the case page
    expect(aude.page.locator(".flash.success")).to_contain_text(f"Chain intact: {len(events)} events of {change['key']}")
    expect(aude.page.locator("h1")).to_contain_text(change["key"])
    aude.shot("verified")
    assert not aude.errors, aude.errors


def test_process_owner_renames_a_task_and_deploys_version_2(visit, change):
    paul = visit("paul")
    paul.goto("/processes/change_request/edit")
    expect(paul.page.locator("#modeler")).to_have_attribute("data-state", "ready")
    paul.shot("modeler")
    # Rename with the modeler's own API, as a double-click + typing would.
    paul.page.evaluate("""() => {
        const m = window.opsgateModeler;
        const el = m.get('elementRegistry').get('test_change');
        m.get('modeling').updateLabel(el, 'Test the change in staging');
        m.get('selection').select(el);
    }""")
    paul.shot("renamed")
    paul.page.click("#modeler-save")
    expect(paul.page.locator("#modeler-status")).to_contain_text("version 2")
    paul.shot("deployed")
    paul.goto("/processes/change_request")
    expect(paul.page.locator("tbody tr")).to_have_count(2)
    paul.shot("versions")
    paul.goto("/processes/change_request/compare?a=1&b=2")
    expect(paul.page.locator("body")).to_contain_text("Test the change in staging")
    paul.shot("compare")
    # The open case still runs on version 1, and its open step keeps its old name.
    carl = visit("carl")
    carl.goto(f"/cases/{change['key']}")
    expect(carl.page.locator("dl.facts")).to_contain_text("version 1")
    expect(carl.page.locator("#open-h + ul")).to_contain_text("Test the change")
    carl.shot("still-v1")


def test_modeler_shows_errors_on_their_elements(visit):
    paul = visit("paul")
    paul.goto("/processes/change_request/edit")
    expect(paul.page.locator("#modeler")).to_have_attribute("data-state", "ready")
    paul.page.evaluate("""() => {
        const m = window.opsgateModeler;
        const el = m.get('elementRegistry').get('cab_approval');
        m.get('modeling').updateProperties(el, {'camunda:candidateGroups': 'no_such_group'});
    }""")
    paul.page.click("#modeler-save")
    expect(paul.page.locator("#modeler-status")).to_have_class(re.compile("error"))
    expect(paul.page.locator("#modeler-errors")).to_contain_text("cab_approval")
    expect(paul.page.locator(".djs-element.og-error")).not_to_have_count(0)
    paul.shot("errors")


def test_refused_action_shows_its_reason(visit, change):
    # The requester may read the task but not approve their own change (wrong group and SoD).
    rita = visit("rita")
    eric = visit("eric")
    eric.goto("/tasks")
    eric.page.locator("#inbox tr", has_text=change["key"]).locator("text=Open").click()
    task_url = eric.page.url
    rita.page.goto(task_url)
    expect(rita.page.locator(".notice.warning")).to_contain_text("cannot")
    rita.shot("refused")
    assert "Traceback" not in rita.page.content()
