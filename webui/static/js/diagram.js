/* Render a BPMN diagram read-only with bpmn-js (navigated viewer: pan and zoom).
 *
 * Markup: <div class="bpmn-view" data-bpmn-url="..." data-highlight-id="ID"></div> where
 * ID names a <script type="application/json"> holding {done: [ids], current: [ids]}.
 * Elements done are green, current ones amber; a sequence flow is "taken" when its source
 * was done and its target was reached. A model bpmn-js cannot show gets a plain
 * "cannot display" message instead of a broken canvas.
 */
(function () {
  "use strict";

  function message(container, text) {
    var box = document.createElement("div");
    box.className = "cannot-display";
    box.setAttribute("role", "status");
    box.textContent = text;
    container.appendChild(box);
    container.dataset.state = "cannot-display";
  }

  function highlight(viewer, marks) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var done = new Set(marks.done || []);
    var current = new Set(marks.current || []);
    var reached = new Set([].concat(marks.done || [], marks.current || []));
    registry.forEach(function (element) {
      var id = element.businessObject && element.businessObject.id;
      if (element.waypoints) {
        var source = element.source && element.source.businessObject.id;
        var target = element.target && element.target.businessObject.id;
        if (done.has(source) && reached.has(target)) { canvas.addMarker(element.id, "og-taken"); }
      } else if (current.has(id)) {
        canvas.addMarker(element.id, "og-current");
      } else if (done.has(id)) {
        canvas.addMarker(element.id, "og-done");
      }
    });
  }

  function render(container) {
    var strings = JSON.parse(container.dataset.strings || "{}");
    if (typeof window.BpmnJS !== "function") {
      message(container, strings.noScript || "The diagram viewer could not be loaded.");
      return;
    }
    var marks = {};
    if (container.dataset.highlightId) {
      var holder = document.getElementById(container.dataset.highlightId);
      if (holder) { marks = JSON.parse(holder.textContent); }
    }
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.dataset.bpmnUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function (result) {
        var canvas = viewer.get("canvas");
        if (!canvas.getRootElement() || viewer.get("elementRegistry").getAll().length <= 1) {
          throw new Error(strings.noDiagram || "the file has no diagram to draw");
        }
        canvas.zoom("fit-viewport", "auto");
        highlight(viewer, marks);
        container.dataset.state = "rendered";
        container.dataset.warnings = String(result.warnings.length);
      })
      .catch(function (error) {
        viewer.destroy();
        message(container, (strings.cannotDisplay || "Cannot display this diagram:") + " " + error.message);
      });
  }

  document.querySelectorAll(".bpmn-view[data-bpmn-url]").forEach(render);
})();
