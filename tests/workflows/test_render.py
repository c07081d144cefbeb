"""Every shipped BPMN file renders in the bpmn-js viewer the product serves, with no import warnings."""

import pytest

from tests.browser.conftest import ROOT, SCREENSHOTS
from tests.workflows.conftest import WORKFLOWS

pytestmark = pytest.mark.browser

VIEWER = ROOT / "webui/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.set_content('<div id="canvas" style="width:1600px;height:900px"></div>')
    page.add_script_tag(path=str(VIEWER))
    yield page
    context.close()


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.bpmn")), ids=lambda p: p.stem)
def test_renders_without_warnings(page, path):
    result = page.evaluate(
        """async (xml) => {
            document.getElementById('canvas').innerHTML = '';
            const viewer = new BpmnJS({container: '#canvas'});
            try {
                const {warnings} = await viewer.importXML(xml);
                viewer.get('canvas').zoom('fit-viewport');
                const shapes = viewer.get('elementRegistry').filter(e => e.type !== 'label').length;
                return {ok: true, warnings: warnings.map(w => w.message), shapes};
            } catch (err) {
                return {ok: false, warnings: [String(err)], shapes: 0};
            }
        }""",
        path.read_text(encoding="utf-8"),
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"pack-{path.stem}.png"))
    assert result["ok"] and result["warnings"] == []
    assert result["shapes"] > 5
