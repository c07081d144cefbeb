/* The language switch in the header: switching reloads the page in the other language; what
 * someone had typed into the page's forms comes back after the reload instead of being lost.
 *
 * Before the switch is sent, the values of the page's other forms (not passwords, files or
 * security tokens) go into sessionStorage under the page's address; on the next load of that
 * address they are put back and the copy is deleted. Choosing a language submits at once.
 */
(function () {
  "use strict";
  var KEY = "opsgate-draft:" + location.pathname + location.search;
  var switcher = document.getElementById("language-form");

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.type !== "password" && el.type !== "file" &&
        el.type !== "hidden" && el.type !== "submit" && el.type !== "button";
    });
  }

  function keep() {
    var saved = [];
    document.querySelectorAll("main form").forEach(function (form, index) {
      fields(form).forEach(function (el) {
        var value = (el.type === "checkbox" || el.type === "radio") ? el.checked : el.value;
        saved.push({ form: index, name: el.name, id: el.id, value: value });
      });
    });
    try { sessionStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* storage off: nothing kept */ }
  }

  function restore() {
    var raw = null;
    try { raw = sessionStorage.getItem(KEY); sessionStorage.removeItem(KEY); } catch (e) { return; }
    if (!raw) { return; }
    var forms = document.querySelectorAll("main form");
    JSON.parse(raw).forEach(function (item) {
      var form = forms[item.form];
      var el = form && (item.id ? form.querySelector("#" + CSS.escape(item.id)) : form.elements[item.name]);
      if (!el || !el.name) { return; }
      if (el.type === "checkbox" || el.type === "radio") { el.checked = item.value; } else { el.value = item.value; }
    });
  }

  if (switcher) {
    switcher.addEventListener("submit", keep);
    var select = switcher.querySelector("select");
    if (select) {
      select.addEventListener("change", function () {
        keep();
        switcher.submit();
      });
    }
  }
  restore();
})();
