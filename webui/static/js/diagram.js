/* Render a BPMN diagram read-only with bpmn-js (navigated viewer: pan and zoom).
 *
 * Markup: <div class="bpmn-view" data-bpmn-url="..." data-highlight-id="ID"></div> where
 * ID names a <script type="application/json"> holding {done: [ids], current: [ids]}.
 * Elements done are green, current ones amber; a sequence flow is "taken" when its source
 * was done and its target was reached. A model bpmn-js cannot show gets a plain
 * "cannot display" message instead of a broken canvas.
 *
 * With class "fit", the view's height follows the drawing's shape so that it fills the width
 * (on a narrow screen: a readable zoom, centred on the current step, to pan by dragging), and
 * zoom buttons (+, -, fit) sit in its corner. With data-lang="zh_Hans", elements that carry a
 * `name_zh` property are labelled with it.
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

  var CAMUNDA = "http://camunda.org/schema/1.0/bpmn";

  // Label lanes with their groups' names (data-groups: {key: name}) and, in Chinese, elements
  // with their Chinese names (camunda:property name_zh on the element itself).
  function labels(xml, chinese, groups) {
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    if (doc.getElementsByTagName("parsererror").length) { return xml; }
    var lanes = doc.getElementsByTagNameNS("http://www.omg.org/spec/BPMN/20100524/MODEL", "lane");
    for (var j = 0; j < lanes.length; j++) {
      var key = lanes[j].getAttribute("name");
      if (key && Object.prototype.hasOwnProperty.call(groups, key)) { lanes[j].setAttribute("name", groups[key]); }
    }
    if (!chinese) { return new XMLSerializer().serializeToString(doc); }
    var props = doc.getElementsByTagNameNS(CAMUNDA, "property");
    for (var i = 0; i < props.length; i++) {
      var prop = props[i];
      var holder = prop.parentNode && prop.parentNode.parentNode;
      if (prop.getAttribute("name") === "name_zh" && prop.getAttribute("value") && holder &&
          holder.localName === "extensionElements" && holder.parentNode && holder.parentNode.hasAttribute("name") &&
          holder.parentNode.localName !== "lane") {
        holder.parentNode.setAttribute("name", prop.getAttribute("value"));
      }
    }
    return new XMLSerializer().serializeToString(doc);
  }

  function fit(viewer, container, marks) {
    var canvas = viewer.get("canvas");
    var inner = canvas.viewbox().inner;
    var width = container.clientWidth;
    if (!inner.width || !width) { canvas.zoom("fit-viewport", "auto"); return; }
    var margin = 24;
    if (width >= 600) {
      var height = Math.round((width - margin) * inner.height / inner.width) + margin;
      container.style.height = Math.max(200, Math.min(height, Math.round(window.innerHeight * 0.7))) + "px";
      canvas.resized();
      canvas.zoom("fit-viewport", "auto");
      return;
    }
    // A phone: tall enough to read, zoomed to the drawing's height, centred on the current step.
    container.style.height = Math.round(Math.min(window.innerHeight * 0.6, 480)) + "px";
    canvas.resized();
    var scale = Math.min(1, (container.clientHeight - margin) / inner.height);
    canvas.zoom(Math.max(scale, 0.35));
    var first = (marks.current || [])[0];
    var element = first && viewer.get("elementRegistry").get(first);
    var box = canvas.viewbox();
    var x = element ? element.x + element.width / 2 - box.width / 2 : inner.x;
    canvas.viewbox({ x: x, y: inner.y - margin / 2, width: box.width, height: box.height });
  }

  function tools(viewer, container, marks, strings) {
    var bar = document.createElement("div");
    bar.className = "diagram-tools";
    [["+", strings.zoomIn || "Zoom in", function () { viewer.get("zoomScroll").stepZoom(1); }],
     ["\u2212", strings.zoomOut || "Zoom out", function () { viewer.get("zoomScroll").stepZoom(-1); }],
     ["\u2922", strings.fit || "Fit to the frame", function () { fit(viewer, container, marks); }]]
      .forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = spec[0];
        button.title = spec[1];
        button.setAttribute("aria-label", spec[1]);
        button.addEventListener("click", spec[2]);
        bar.appendChild(button);
      });
    container.appendChild(bar);
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
      .then(function (xml) {
        var groups = JSON.parse(container.dataset.groups || "{}");
        return viewer.importXML(labels(xml, container.dataset.lang === "zh_Hans", groups));
      })
      .then(function (result) {
        var canvas = viewer.get("canvas");
        if (!canvas.getRootElement() || viewer.get("elementRegistry").getAll().length <= 1) {
          throw new Error(strings.noDiagram || "the file has no diagram to draw");
        }
        if (container.classList.contains("fit")) {
          fit(viewer, container, marks);
          tools(viewer, container, marks, strings);
        } else {
          canvas.zoom("fit-viewport", "auto");
        }
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
