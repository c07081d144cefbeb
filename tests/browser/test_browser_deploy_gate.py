"""The modeler as a process owner uses it: every shipped process edited and deployed (incident
with its decision table included), lint markers on an orphan task before deploy and the server's
refusal of it, and the decision table edited in dmn-js and deployed.

A server of its own (a demo-seeded database): these tests deploy new versions of every process.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Visitor, serving, wait_until

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "workflows").glob("*.bpmn"))


@pytest.fixture(scope="module")
def gate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from webui import create_app
    from webui.cli.demo_data import seed_demo

    instance = tmp_path_factory.mktemp("gate")
    url = f"sqlite:///{instance / 'gate.db'}"
    passwords = seed_demo(url, password="demo-password-1")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "gate-tests", "START_WORKER": False})
    with serving(app) as base:
        yield {"url": base, "passwords": passwords}


@pytest.fixture
def paul(browser: object, gate_server: dict, request: pytest.FixtureRequest) -> Iterator[Visitor]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")  # type: ignore[attr-defined]
    visitor = Visitor(context, gate_server["url"], f"{request.node.name}-paul")
    visitor.login("paul", gate_server["passwords"]["paul"])
    yield visitor
    context.close()  # type: ignore[attr-defined]


def _open_modeler(paul: Visitor, key: str) -> None:
    paul.goto(f"/processes/{key}/edit")
    expect(paul.page.locator("#modeler")).to_have_attribute("data-state", "ready")


def _lint_issues(paul: Visitor) -> dict:
    """The modeler's lint findings now, by element id: [{rule, category, message}] (bpmnlint run
    by bpmn-js-bpmnlint with the page's configuration)."""
    return paul.page.evaluate("""() => Promise.race([
        window.opsgateModeler.get('linting').lint().then(results => {
            const byId = {};
            Object.keys(results).forEach(rule => results[rule].forEach(report => {
                (byId[report.id] = byId[report.id] || []).push(
                    {rule: rule, category: report.category, message: report.message});
            }));
            return byId;
        }),
        new Promise((_, reject) => setTimeout(() => reject(new Error('lint took over 20 s')), 20000))
    ])""")


@pytest.mark.parametrize("key", SHIPPED)
def test_every_shipped_process_is_edited_and_deployed_from_the_modeler(paul, key):
    _open_modeler(paul, key)
    issues = _lint_issues(paul)
    errors = {k: [i for i in v if i["category"] == "error"] for k, v in issues.items()}
    assert not any(errors.values()), errors
    renamed = paul.page.evaluate("""() => {
        const m = window.opsgateModeler;
        const task = m.get('elementRegistry').filter(e => e.type === 'bpmn:UserTask')[0];
        m.get('modeling').updateLabel(task, task.businessObject.name + ' (edited)');
        return task.id;
    }""")
    paul.page.click("#modeler-save")
    expect(paul.page.locator("#modeler-status")).to_have_class(re.compile("success"))
    expect(paul.page.locator("#modeler-status")).to_contain_text(re.compile(r"version \d+"))
    paul.shot(f"{key}-deployed")
    paul.goto(f"/processes/{key}")
    expect(paul.page.locator("tbody tr")).to_have_count(2)
    assert renamed and not paul.errors, paul.errors


def test_an_orphan_task_is_marked_while_editing_and_refused_on_deploy(paul):
    _open_modeler(paul, "account_onboarding")
    paul.page.evaluate("""() => {
        const m = window.opsgateModeler;
        const pool = m.get('elementRegistry').filter(e => e.type === 'bpmn:Participant')[0];
        const parent = pool || m.get('canvas').getRootElement();
        const task = m.get('bpmnFactory').create('bpmn:Task', {id: 'orphan_task', name: 'Orphan'});
        const shape = m.get('elementFactory').createShape({type: 'bpmn:Task', businessObject: task});
        m.get('modeling').createShape(shape, {x: parent.x + parent.width - 120, y: parent.y + 60}, parent);
    }""")
    issues = _lint_issues(paul)
    found = {(i["rule"], i["category"]) for i in issues.get("orphan_task", [])}
    assert found == {("no-disconnected", "error"), ("no-implicit-end", "warn")}, (issues, paul.errors)
    wait_until(paul.page, "window.opsgateModeler.get('overlays').get({element: 'orphan_task'}).length > 0")
    expect(paul.page.locator(".bjsl-button")).to_contain_text(re.compile("[1-9]"))
    paul.shot("orphan-marked")
    paul.page.click("#modeler-save")
    expect(paul.page.locator("#modeler-status")).to_have_class(re.compile("error"))
    expect(paul.page.locator("#modeler-errors")).to_contain_text("no-disconnected")
    expect(paul.page.locator("#modeler-errors")).to_contain_text("orphan_task")
    paul.shot("orphan-refused")
    paul.goto("/processes/account_onboarding")
    expect(paul.page.locator("body")).not_to_contain_text("orphan_task")


def test_the_incident_decision_table_is_edited_and_deployed(paul, gate_server):
    paul.goto("/processes/incident")
    paul.page.click("text=Edit decision table")
    expect(paul.page.locator("#decision-editor")).to_have_attribute("data-state", "ready", timeout=30000)
    expect(paul.page.locator(".tjs-table")).to_be_visible()
    paul.shot("decision-table")
    paul.page.evaluate("""() => {
        const viewer = window.opsgateDecisionEditor.getActiveViewer();
        const root = viewer.get('sheet').getRoot();
        const cell = root.rows[0].cells[root.rows[0].cells.length - 1];
        viewer.get('modeling').editCell(cell.businessObject, '"PT3H"');
    }""")
    paul.page.click("#modeler-save")
    expect(paul.page.locator("#modeler-status")).to_have_class(re.compile("success"))
    version = paul.page.locator("#decision-editor").get_attribute("data-deployed")
    paul.shot("decision-deployed")
    stored = paul.page.evaluate(f"""() => fetch('/processes/incident/{version}/files/incident_priority.dmn')
        .then(r => r.text())""")
    assert '"PT3H"' in stored
    # dmn-js 17's production bundle logs Inferno's own notice about its build; anything else counts.
    assert not [e for e in paul.errors if "development build of Inferno" not in e], paul.errors
