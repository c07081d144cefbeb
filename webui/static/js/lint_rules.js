/* opsgate's own lint rules for the modeler, the same as the server's (engine/processes/lint.py).
 *
 * bpmnlint's rules come from the vendored bundle (vendor/bpmnlint); the modeler lints with the
 * server's rule table (engine.processes.lint.RULES), so what is marked on the diagram while
 * editing is what deploy refuses (error) or reports (warn). Each entry is a bpmnlint rule
 * factory: function () { return { check: function (node, reporter) { ... } }; }.
 */
(function () {
  "use strict";

  function is(node, type) { return !!(node && node.$instanceOf && node.$instanceOf(type)); }
  function isAny(node, types) { return types.some(function (t) { return is(node, t); }); }
  function label(el) {
    var name = (el.name || "").trim();
    return name ? name + " (" + el.id + ")" : el.id;
  }
  function eventSubProcess(el) { return is(el, "bpmn:SubProcess") && !!el.triggeredByEvent; }
  function compensation(el) {
    if (el.isForCompensation) { return true; }
    var defs = el.eventDefinitions || [];
    return is(el, "bpmn:BoundaryEvent") && defs.length === 1 && is(defs[0], "bpmn:CompensateEventDefinition");
  }
  function conditional(flow) { return !!flow.conditionExpression; }

  // Flows of a process or sub-process by source and target id (from sourceRef/targetRef, as
  // the engine reads them).
  function graph(container) {
    var elements = container.flowElements || [];
    var nodes = elements.filter(function (e) { return is(e, "bpmn:FlowNode"); });
    var out = {}, inc = {};
    elements.forEach(function (f) {
      if (!is(f, "bpmn:SequenceFlow") || !f.sourceRef || !f.targetRef) { return; }
      (out[f.sourceRef.id] = out[f.sourceRef.id] || []).push(f.targetRef.id);
      (inc[f.targetRef.id] = inc[f.targetRef.id] || []).push(f.sourceRef.id);
    });
    return { nodes: nodes, out: out, inc: inc };
  }

  function disconnected(el, g, container) {
    if (!isAny(el, ["bpmn:Task", "bpmn:Gateway", "bpmn:SubProcess", "bpmn:Event"]) || eventSubProcess(el)) {
      return false;
    }
    if (compensation(el) || is(container, "bpmn:AdHocSubProcess")) { return false; }
    return !(g.inc[el.id] || []).length && !(g.out[el.id] || []).length;
  }

  // opsgate/no-unreachable: every flow node must be reachable from a start event (following
  // sequence flows, boundary events of reached activities and link events).
  function noUnreachable() {
    function check(node, reporter) {
      if (!(is(node, "bpmn:Process") || is(node, "bpmn:SubProcess")) || is(node, "bpmn:AdHocSubProcess") ||
          eventSubProcess(node)) {
        return;
      }
      var g = graph(node);
      var byId = {}, attached = {}, links = {};
      g.nodes.forEach(function (n) {
        byId[n.id] = n;
        if (is(n, "bpmn:BoundaryEvent") && n.attachedToRef) {
          (attached[n.attachedToRef.id] = attached[n.attachedToRef.id] || []).push(n.id);
        }
        if (is(n, "bpmn:IntermediateCatchEvent")) {
          (n.eventDefinitions || []).forEach(function (d) {
            if (is(d, "bpmn:LinkEventDefinition")) { (links[d.name || ""] = links[d.name || ""] || []).push(n.id); }
          });
        }
      });
      var todo = g.nodes.filter(function (n) { return is(n, "bpmn:StartEvent") || eventSubProcess(n); })
        .map(function (n) { return n.id; });
      var seen = {};
      while (todo.length) {
        var id = todo.shift();
        if (seen[id] || !byId[id]) { continue; }
        seen[id] = true;
        todo = todo.concat(g.out[id] || [], attached[id] || []);
        if (is(byId[id], "bpmn:IntermediateThrowEvent")) {
          (byId[id].eventDefinitions || []).forEach(function (d) {
            if (is(d, "bpmn:LinkEventDefinition")) { todo = todo.concat(links[d.name || ""] || []); }
          });
        }
      }
      g.nodes.forEach(function (n) {
        if (!seen[n.id] && !disconnected(n, g, node) && !compensation(n)) {
          reporter.report(n.id, label(n) + " cannot be reached from a start event: connect it to the flow or delete it");
        }
      });
    }
    return { check: check };
  }

  // conditional-flows: bpmnlint's rule, and also an exclusive or inclusive gateway that forks
  // without any condition (the engine could not choose a way).
  function conditionalFlows() {
    function check(node, reporter) {
      if (!is(node, "bpmn:FlowNode")) { return; }
      var outgoing = node.outgoing || [];
      var forking = !!node["default"] || outgoing.some(conditional) ||
        (isAny(node, ["bpmn:ExclusiveGateway", "bpmn:InclusiveGateway"]) && outgoing.length > 1);
      if (!forking) { return; }
      outgoing.forEach(function (flow) {
        if (!conditional(flow) && node["default"] !== flow) {
          reporter.report(flow.id, "flow " + label(flow) + " out of " + label(node) +
            " needs a condition or must be the default flow", ["conditionExpression"]);
        }
      });
    }
    return { check: check };
  }

  // opsgate/no-duplicate-id: bpmn-js cannot hold two elements with one id (it warns on import),
  // so in the modeler there is nothing to find; the server checks files from elsewhere.
  function noDuplicateId() { return { check: function () {} }; }

  window.OpsgateLintRules = {
    "opsgate/no-unreachable": noUnreachable,
    "opsgate/no-duplicate-id": noDuplicateId,
    "bpmnlint/conditional-flows": conditionalFlows
  };
})();
