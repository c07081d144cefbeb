/* The process owner's modeler: bpmn-js with the properties panel and the Camunda moddle
 * (forms as camunda:formData, candidate groups, timers, properties), as CONTRACT.md asks.
 *
 * Save posts the XML to data-deploy-url; the server validates and deploys a new version
 * and answers JSON: {key, version, url, unchanged, warnings} or {error: {message, details:
 * [{file, element_id, line, message, rule}]}}. Each error is drawn on its element and listed
 * below; warnings (lint findings that do not block) are listed too.
 *
 * While the person edits, bpmnlint (vendor/bpmnlint, with opsgate's rules from lint_rules.js)
 * marks the same findings on the elements, configured with the server's rule table
 * (data-lint-rules, engine.processes.lint.RULES).
 */
(function () {
  "use strict";
  var root = document.getElementById("modeler");
  if (!root) { return; }
  var strings = JSON.parse(root.dataset.strings || "{}");
  var status = document.getElementById("modeler-status");
  var errorList = document.getElementById("modeler-errors");
  var saveButton = document.getElementById("modeler-save");
  var downloadButton = document.getElementById("modeler-download");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var modeler;
  var errorMarked = [];

  function say(text, kind) {
    status.textContent = text;
    status.className = "notice " + (kind || "");
    status.hidden = !text;
  }

  function clearErrors() {
    var canvas = modeler.get("canvas");
    errorMarked.forEach(function (id) { canvas.removeMarker(id, "og-error"); });
    errorMarked = [];
    modeler.get("overlays").remove({ type: "og-error" });
    errorList.innerHTML = "";
  }

  function showErrors(details, kind) {
    var registry = modeler.get("elementRegistry");
    var canvas = modeler.get("canvas");
    var overlays = modeler.get("overlays");
    details.forEach(function (detail) {
      var item = document.createElement("li");
      var element = detail.element_id ? registry.get(detail.element_id) : null;
      var where = detail.element_id ? detail.element_id + ": " : "";
      if (detail.line) { where = (strings.line || "line") + " " + detail.line + ", " + where; }
      if (element) {
        var link = document.createElement("button");
        link.type = "button";
        link.className = "linklike";
        link.textContent = detail.element_id;
        link.addEventListener("click", function () {
          modeler.get("selection").select(element);
          canvas.scrollToElement(element);
        });
        item.appendChild(link);
        item.appendChild(document.createTextNode(": " + detail.message));
        if (!element.waypoints && kind !== "warning") {
          canvas.addMarker(element.id, "og-error");
          errorMarked.push(element.id);
          var note = document.createElement("div");
          note.className = "og-error-overlay";
          note.textContent = detail.message;
          // scale: false keeps the message readable however far the diagram is zoomed out.
          overlays.add(element.id, "og-error", { position: { bottom: -4, left: 0 }, html: note, scale: false });
        }
      } else {
        item.textContent = where + detail.message;
      }
      item.dataset.elementId = detail.element_id || "";
      if (kind) { item.className = kind; }
      errorList.appendChild(item);
    });
  }

  function save() {
    saveButton.disabled = true;
    say(strings.saving || "Validating and deploying...", "");
    clearErrors();
    modeler.saveXML({ format: true })
      .then(function (result) {
        var url = root.dataset.deployUrl + "?filename=" + encodeURIComponent((root.dataset.filename || "process") + ".bpmn");
        return fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/xml", "X-CSRFToken": csrf, "Accept": "application/json" },
          body: result.xml
        });
      })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      })
      .then(function (answer) {
        if (answer.body.error) {
          say(answer.body.error.message, "error");
          showErrors(answer.body.error.details || []);
        } else if (answer.body.unchanged) {
          say(answer.body.message, "");
        } else {
          say(answer.body.message, "success");
          root.dataset.deployed = String(answer.body.version);
          // The editor now holds the version just deployed: the heading says so.
          var from = document.getElementById("modeler-version");
          if (from && strings.fromVersion) {
            from.textContent = strings.fromVersion.replace("{v}", String(answer.body.version));
            from.hidden = false;
          }
        }
        if (!answer.body.error && (answer.body.warnings || []).length) {
          showErrors(answer.body.warnings, "warning");
        }
      })
      .catch(function (error) { say((strings.failed || "Saving failed:") + " " + error.message, "error"); })
      .then(function () { saveButton.disabled = false; });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([result.xml], { type: "application/xml" }));
      link.download = (root.dataset.filename || "process") + ".bpmn";
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  function start(camunda, xml) {
    var panel = window.BpmnJSPropertiesPanel;
    var modules = [
      panel.BpmnPropertiesPanelModule,
      panel.BpmnPropertiesProviderModule,
      panel.CamundaPlatformPropertiesProviderModule
    ];
    var options = {
      container: root.querySelector(".canvas"),
      propertiesPanel: { parent: root.querySelector(".properties") },
      additionalModules: modules,
      moddleExtensions: { camunda: camunda }
    };
    if (window.BpmnLint) {
      modules.push(window.BpmnLint.lintModule);
      options.linting = {
        active: true,
        bpmnlint: window.BpmnLint.config(JSON.parse(root.dataset.lintRules || "{}"), window.OpsgateLintRules || {})
      };
    }
    modeler = new window.BpmnJS(options);
    window.opsgateModeler = modeler;  // for the browser tests and the curious
    return modeler.importXML(xml).then(function () {
      var canvas = modeler.get("canvas");
      canvas.zoom("fit-viewport", "auto");
      // Move the drawing clear of the tool palette, which sits over the canvas's left edge.
      var palette = root.querySelector(".djs-palette");
      if (palette) { canvas.scroll({ dx: palette.getBoundingClientRect().width + 16, dy: 0 }); }
      root.dataset.state = "ready";
      saveButton.disabled = false;
      downloadButton.disabled = false;
    });
  }

  saveButton.addEventListener("click", save);
  downloadButton.addEventListener("click", download);
  Promise.all([
    fetch(root.dataset.moddleUrl).then(function (r) { return r.json(); }),
    fetch(root.dataset.bpmnUrl, { credentials: "same-origin" }).then(function (r) { return r.text(); })
  ])
    .then(function (loaded) { return start(loaded[0], loaded[1]); })
    .catch(function (error) {
      root.dataset.state = "failed";
      say((strings.cannotOpen || "Cannot open this diagram:") + " " + error.message, "error");
    });
})();
