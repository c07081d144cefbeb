"""Every shipped process and every MIWG reference model renders in the viewer, or says
clearly that it cannot be displayed (a model with no diagram)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.bpmn"))
MIWG = sorted((ROOT / "tests" / "data" / "miwg").glob("*.bpmn"))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_shipped_process_renders(visit, path):
    aude = visit("aude")
    aude.goto(f"/processes/{path.stem}/1")
    view = aude.page.locator("#process-diagram")
    expect(view).to_have_attribute("data-state", "rendered")
    assert aude.page.locator("#process-diagram .djs-element").count() > 5
    aude.shot(path.stem)
    assert not aude.errors, aude.errors


@pytest.mark.parametrize("path", MIWG, ids=lambda p: p.stem)
def test_miwg_model_renders(visit, path):
    paul = visit("paul")
    # Serve the reference model in place of a deployed version's BPMN: the page, the viewer
    # and its script are the real ones.
    paul.page.route("**/processes/incident/1/bpmn",
                    lambda route: route.fulfill(body=path.read_bytes(), content_type="application/xml"))
    paul.goto("/processes/incident/1")
    expect(paul.page.locator("#process-diagram")).to_have_attribute("data-state", "rendered")
    paul.shot(f"miwg-{path.stem}")
    assert not paul.errors, paul.errors


def test_model_without_diagram_says_it_cannot_be_displayed(visit):
    paul = visit("paul")
    xml = (ROOT / "tests" / "data" / "miwg" / "A.1.0.bpmn").read_text()
    no_diagram = xml[:xml.index("<bpmndi:BPMNDiagram")] + "</semantic:definitions>" \
        if "<semantic:definitions" in xml else None
    assert no_diagram is not None
    paul.page.route("**/processes/incident/1/bpmn",
                    lambda route: route.fulfill(body=no_diagram, content_type="application/xml"))
    paul.goto("/processes/incident/1")
    view = paul.page.locator("#process-diagram")
    expect(view).to_have_attribute("data-state", "cannot-display")
    expect(view.locator(".cannot-display")).to_contain_text("Cannot display this diagram")
    paul.shot("no-diagram")
