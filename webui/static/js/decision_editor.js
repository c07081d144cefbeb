/* The decision table editor: dmn-js (vendor/dmn-js) on one DMN file of a process's latest version.
 *
 * It opens the file's decision table, and "Validate and deploy" posts the edited XML to
 * data-deploy-url; the server deploys it with the process's BPMN as a new version and answers
 * like the modeler's deploy: {key, version, message, warnings} or {error: {message, details}}.
 */
(function () {
  "use strict";
  var root = document.getElementById("decision-editor");
  if (!root) { return; }
  var strings = JSON.parse(root.dataset.strings || "{}");
  var status = document.getElementById("modeler-status");
  var errorList = document.getElementById("modeler-errors");
  var saveButton = document.getElementById("modeler-save");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var editor = new window.DmnJS({ container: root.querySelector(".canvas") });
  window.opsgateDecisionEditor = editor;  // for the browser tests and the curious

  function say(text, kind) {
    status.textContent = text;
    status.className = "notice " + (kind || "");
    status.hidden = !text;
  }

  function list(details, kind) {
    details.forEach(function (detail) {
      var item = document.createElement("li");
      item.textContent = (detail.line ? (strings.line || "line") + " " + detail.line + ", " : "") +
        (detail.element_id ? detail.element_id + ": " : "") + detail.message;
      if (kind) { item.className = kind; }
      errorList.appendChild(item);
    });
  }

  function openTable() {
    var table = editor.getViews().filter(function (view) { return view.type === "decisionTable"; })[0];
    return table ? editor.open(table) : Promise.resolve();
  }

  function save() {
    saveButton.disabled = true;
    errorList.innerHTML = "";
    say(strings.saving || "Validating and deploying...", "");
    editor.saveXML({ format: true })
      .then(function (result) {
        return fetch(root.dataset.deployUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/xml", "X-CSRFToken": csrf, "Accept": "application/json" },
          body: result.xml
        });
      })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.error) {
          say(body.error.message, "error");
          list(body.error.details || [], "");
        } else {
          say(body.message, body.unchanged ? "" : "success");
          if (!body.unchanged) { root.dataset.deployed = String(body.version); }
          list(body.warnings || [], "warning");
        }
      })
      .catch(function (error) { say((strings.failed || "Saving failed:") + " " + error.message, "error"); })
      .then(function () { saveButton.disabled = false; });
  }

  saveButton.addEventListener("click", save);
  fetch(root.dataset.dmnUrl, { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (xml) { return editor.importXML(xml); })
    .then(openTable)
    .then(function () {
      root.dataset.state = "ready";
      saveButton.disabled = false;
    })
    .catch(function (error) {
      root.dataset.state = "failed";
      say((strings.cannotOpen || "Cannot open this diagram:") + " " + error.message, "error");
    });
})();
