"""What opsgate relies on from SpiffWorkflow, pinned: an upgrade that moves any of it fails here first.

opsgate uses no private SpiffWorkflow name. It does rely on public names, hook signatures and
behaviours; each test below checks one group of them and, when it fails, says what moved and
which opsgate module depends on it. docs/timers.md ("The SpiffWorkflow contract") lists the
same points for people.
"""
from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import SpiffWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import BpmnEvent, PendingBpmnEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.cases import serializer
from engine.processes import bpmn_xml, scripting, specs
from engine.processes.manifest import Manifest
from engine.timing import clock, definitions, timers

DATA = Path(__file__).parent.parent / "data"
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
VERSION = getattr(SpiffWorkflow, "__version__", "?")


def moved(what: str, used_by: str) -> str:
    return (f"SpiffWorkflow {VERSION} moved: {what}. opsgate relies on it in {used_by}; "
            f"see docs/timers.md, 'The SpiffWorkflow contract'.")


def params(func: Any) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "self"]


# ---------------------------------------------------------------- names


IMPORTS = [
    ("SpiffWorkflow.bpmn.exceptions", "WorkflowTaskException", "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.parser.ValidationException", "ValidationException", "engine.processes.validation"),
    ("SpiffWorkflow.bpmn.script_engine", "PythonScriptEngine", "engine.processes.scripting"),
    ("SpiffWorkflow.bpmn.script_engine.python_environment", "BasePythonScriptEngineEnvironment",
     "engine.processes.scripting"),
    ("SpiffWorkflow.bpmn.serializer", "BpmnWorkflowSerializer", "engine.cases.serializer"),
    ("SpiffWorkflow.bpmn.serializer.default.event_definition", "TimerConditionalEventDefinitionConverter",
     "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.serializer.default.workflow", "BpmnWorkflowConverter", "engine.cases.serializer"),
    ("SpiffWorkflow.bpmn.serializer.default.workflow", "WorkflowConverter", "engine.cases.serializer"),
    ("SpiffWorkflow.bpmn.specs.event_definitions.multiple", "MultipleEventDefinition", "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.specs.event_definitions.timer", "TimerEventDefinition", "engine.timing"),
    ("SpiffWorkflow.bpmn.specs.event_definitions.timer", "TimeDateEventDefinition", "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.specs.event_definitions.timer", "DurationTimerEventDefinition", "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.specs.event_definitions.timer", "CycleTimerEventDefinition", "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.specs.mixins.events.end_event", "EndEvent", "engine.cases.persistence"),
    ("SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event", "BoundaryEvent", "engine.timing.timers"),
    ("SpiffWorkflow.bpmn.specs.mixins.events.start_event", "StartEvent", "engine.timing.timers"),
    ("SpiffWorkflow.bpmn.util", "PendingBpmnEvent", "engine.timing.definitions"),
    ("SpiffWorkflow.bpmn.workflow", "BpmnWorkflow", "engine.cases"),
    ("SpiffWorkflow.exceptions", "SpiffWorkflowException", "engine.cases.stepping"),
    ("SpiffWorkflow.spiff.parser", "SpiffBpmnParser", "engine.processes.specs"),
    ("SpiffWorkflow.spiff.parser", "VALIDATOR", "engine.processes.specs"),
    ("SpiffWorkflow.spiff.serializer.config", "SPIFF_CONFIG", "engine.cases.serializer"),
    ("SpiffWorkflow.util.task", "TaskState", "engine.cases"),
]


@pytest.mark.parametrize("module, name, used_by", IMPORTS, ids=[f"{m}.{n}" for m, n, _u in IMPORTS])
def test_the_names_opsgate_imports_are_where_it_imports_them(module, name, used_by):
    try:
        found = importlib.import_module(module)
    except ImportError:
        pytest.fail(moved(f"module {module} is gone", used_by))
    assert hasattr(found, name), moved(f"{module} no longer has {name}", used_by)


def test_the_timer_classes_keep_their_family():
    for kind in (TimeDateEventDefinition, DurationTimerEventDefinition, CycleTimerEventDefinition):
        assert issubclass(kind, TimerEventDefinition), moved(
            f"{kind.__name__} is no longer a TimerEventDefinition (refresh_timers only looks at those)",
            "engine.timing.definitions")
    assert issubclass(TimerEventDefinition, EventDefinition)
    assert not issubclass(MultipleEventDefinition, TimerEventDefinition)


# ---------------------------------------------------------------- signatures of the hooks we override or call


HOOKS = [
    (EventDefinition.has_fired, ["my_task"], "engine.timing.definitions.OpsgateTimer.has_fired"),
    (EventDefinition.catch, ["my_task", "event"], "engine.timing.definitions.OpsgateTimer.catch"),
    (EventDefinition.reset, ["my_task"], "engine.timing.definitions.OpsgateTimer.reset"),
    (EventDefinition.details, ["my_task"], "engine.timing.definitions.OpsgateTimer.details"),
    (EventDefinition.update_task, ["my_task"], "engine.timing.definitions (inherited)"),
    (EventDefinition.__init__, ["name", "description"], "engine.timing.definitions.adopt"),
    (TimerEventDefinition.__init__, ["name", "expression", "kwargs"], "engine.timing.definitions.adopt"),
    (CycleTimerEventDefinition.cycle_complete, ["my_task"], "engine.timing.definitions.OpsgateCycle.cycle_complete"),
    (CycleTimerEventDefinition.update_task, ["my_task"], "engine.timing.definitions.OpsgateCycle (inherited)"),
    (TimerEventDefinition.get_datetime, ["expression"], "engine.timing"),
    (TimerEventDefinition.parse_iso_duration, ["expression"], "engine.timing"),
    (TimerEventDefinition.get_timedelta_from_start, ["parsed_duration", "start"], "engine.timing"),
    (TimerEventDefinition.parse_time_or_duration, ["expression"], "engine.timing.definitions"),
    (TimerEventDefinition.parse_iso_recurring_interval, ["expression"], "engine.timing.definitions"),
    (PendingBpmnEvent.__init__, ["name", "event_type", "value", "correlations"], "engine.timing.definitions"),
    (BpmnWorkflow.__init__, ["spec", "subprocess_specs", "script_engine", "kwargs"], "engine.cases"),
    (BpmnWorkflow.refresh_timers, [], "engine.cases.stepping.refresh_timers"),
    (BpmnWorkflow.waiting_events, [], "engine.timing.definitions.OpsgateTimer.details"),
    (BpmnWorkflow.do_engine_steps, ["will_complete_task", "did_complete_task"], "engine.cases.stepping"),
    (BpmnWorkflowSerializer.configure, ["config", "registry"], "engine.cases.serializer"),
    (BpmnWorkflowSerializer.migrate, ["dct"], "engine.cases.serializer.restore"),
    (BpmnWorkflowSerializer.serialize_json, ["workflow", "use_gzip"], "engine.cases.serializer.dump"),
    (BpmnConverter.__init__, ["target_class", "registry", "typename"], "engine.timing.definitions.SERIALIZER_CONFIG"),
    (BpmnConverter.mapping_to_dict, ["mapping", "kwargs"], "engine.cases.serializer"),
    (BpmnConverter.mapping_from_dict, ["mapping", "key_class", "kwargs"], "engine.cases.serializer"),
    (WorkflowConverter.to_dict, ["workflow"], "engine.cases.serializer"),
    (WorkflowConverter.set_default_attributes, ["workflow", "dct"], "engine.cases.serializer"),
    (BpmnWorkflowConverter.from_dict, ["dct"], "engine.cases.serializer"),
    (BpmnWorkflowConverter.subprocesses_from_dict, ["dct", "workflow", "top_workflow"], "engine.cases.serializer"),
    (SpecDiff.__init__, ["registry", "original", "new"], "engine.cases.migration.Planner"),
    (WorkflowDiff.__init__, ["workflow", "spec_diff"], "engine.cases.migration.Planner"),
    (migrate_workflow, ["diff", "workflow", "spec", "reset_mask"], "engine.cases.migration.Planner"),
]


@pytest.mark.parametrize("func, expected, used_by", HOOKS, ids=[h[0].__qualname__ for h in HOOKS])
def test_the_hooks_keep_their_parameters(func, expected, used_by):
    found = params(func)
    assert found == expected, moved(f"{func.__qualname__} takes ({', '.join(found)}), "
                                    f"not ({', '.join(expected)})", used_by)


def test_the_script_engine_evaluates_an_expression_for_a_task():
    found = params(scripting.script_engine().evaluate)
    assert found[:2] == ["task", "expression"], moved(
        f"PythonScriptEngine.evaluate takes ({', '.join(found)})", "engine.timing.definitions (a timer's expression)")


def test_the_serializer_version_is_the_one_stored_cases_carry():
    # A new version means SpiffWorkflow's migrations will run on opsgate's stored, spec-less states.
    assert serializer.SERIALIZER_VERSION == "1.5", moved(
        f"the serializer version is {serializer.SERIALIZER_VERSION}, not 1.5: check its migrations work on "
        "states without a spec, and that tests/engine/test_timer_migration.py still restores old cases",
        "engine.cases.serializer")


# ---------------------------------------------------------------- behaviour


@pytest.fixture
def loaded() -> specs.Loaded:
    parser = specs.new_parser()
    specs.add_bpmn(parser, bpmn_xml.parse_xml((DATA / "timer_sla.bpmn").read_bytes()), "timer_sla.bpmn")
    spec, subspecs = specs.build(parser, "sla")
    return specs.Loaded("sla", spec, subspecs, Manifest.from_dict(None))


@pytest.fixture
def wf(loaded: specs.Loaded) -> BpmnWorkflow:
    with clock.frozen(T0):
        workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=scripting.script_engine())
        workflow.do_engine_steps()
    return workflow


def by_element(wf: BpmnWorkflow) -> dict[str, Any]:
    return {t.task_spec.bpmn_id: t for t in wf.event_manager.tasks.values()}


def test_a_parsed_spec_holds_its_event_definitions_where_adopt_replaces_them():
    parser = specs.new_parser()
    specs.add_bpmn(parser, bpmn_xml.parse_xml((DATA / "timer_sla.bpmn").read_bytes()), "timer_sla.bpmn")
    spec = parser.get_spec("sla")
    found = {ts.bpmn_id: type(ts.event_definition) for ts in spec.task_specs.values()
             if isinstance(getattr(ts, "event_definition", None), TimerEventDefinition)}
    assert found == {"sla_breach": DurationTimerEventDefinition, "remind": CycleTimerEventDefinition,
                     "wait": DurationTimerEventDefinition}, moved(
        f"the parser no longer puts timer definitions on task_spec.event_definition ({found})",
        "engine.timing.definitions.adopt")
    assert definitions.adopt([spec]) == 3
    assert all(isinstance(spec.task_specs[name].event_definition, definitions.OpsgateTimer)
               for name in ("sla_breach", "remind", "wait"))


def test_a_catching_event_asks_has_fired_and_waits_in_the_event_manager(wf):
    waiting = by_element(wf)
    assert set(waiting) == {"sla_breach", "remind"}, moved(
        f"the event manager's tasks are {sorted(waiting)} (expected the two boundary timers)",
        "engine.timing.timers and engine.cases.stepping (event_manager.tasks)")
    for task in waiting.values():
        assert task.state == TaskState.WAITING
        assert isinstance(task.internal_data, dict)
        assert "opsgate_due" in task.internal_data, moved(
            "a reached timer was not asked has_fired / cycle_complete (no due instant recorded)",
            "engine.timing.definitions")
        assert "event_value" not in task.internal_data and "event_fired" not in task.internal_data


def test_waiting_events_reports_each_definitions_details(wf):
    events = wf.waiting_events()
    assert all(isinstance(e, PendingBpmnEvent) for e in events)
    assert sorted((e.event_type, e.value) for e in events) == [
        ("CycleTimerEventDefinition", (T0 + H).isoformat()),
        ("DurationTimerEventDefinition", (T0 + 4 * H).isoformat())], moved(
        "waiting_events() no longer lists each waiting task's event_definition.details(task)",
        "engine.timing.definitions.OpsgateTimer.details")


def test_refresh_timers_asks_again_and_a_fired_timer_runs_on_the_next_step(wf):
    with clock.frozen(T0 + 4 * H - S):
        wf.refresh_timers()
        wf.do_engine_steps()
        assert "sla_breach" in by_element(wf)
    with clock.frozen(T0 + 4 * H + S):
        wf.refresh_timers()
        assert by_element(wf).get("sla_breach") is None, moved(
            "refresh_timers() did not make a timer whose has_fired says True leave the event manager",
            "engine.cases.stepping.refresh_timers")
        wf.do_engine_steps()
    (breach,) = wf.get_tasks(spec_name="sla_breach")
    assert breach.state == TaskState.COMPLETED
    assert breach.internal_data.get("opsgate_fired") is False, moved(
        "a catching event that ran was not reset through its definition's reset()", "engine.timing.definitions")


def test_a_cycle_adds_one_path_each_time_cycle_complete_says_so(wf):
    calls = []
    remind = by_element(wf)["remind"]
    definition = remind.task_spec.event_definition
    original = definition.cycle_complete

    def counting(task):
        result = original(task)
        calls.append(result)
        return result

    definition.cycle_complete = counting  # an instance attribute on this test's own spec
    paths = len(wf.get_tasks(spec_name="end3"))
    with clock.frozen(T0 + H + S):
        wf.refresh_timers()
        wf.do_engine_steps()
    assert True in calls, moved("CycleTimerEventDefinition.update_task no longer calls cycle_complete",
                                "engine.timing.definitions.OpsgateCycle")
    assert len(wf.get_tasks(spec_name="end3")) == paths + calls.count(True), moved(
        "update_task no longer adds one path per cycle_complete() that says True", "engine.timing.timers.fired_timers")


def test_a_task_in_the_tree_has_its_boundary_events_as_siblings(wf):
    breach = by_element(wf)["sla_breach"]
    siblings = {c.task_spec.bpmn_id for c in breach.parent.children}
    assert "work" in siblings, moved(f"a boundary event's parent's children are {sorted(siblings)}",
                                     "engine.timing.timers._attached_to")


def test_internal_data_round_trips_through_the_case_serializer(wf, loaded):
    task = by_element(wf)["sla_breach"]
    task.internal_data["opsgate_sla_total"] = 14400.0
    with clock.frozen(T0):
        state = serializer.dump(wf)
    again = serializer.restore(state, loaded)
    restored = by_element(again)["sla_breach"]
    assert restored.internal_data == task.internal_data, moved(
        "Task.internal_data does not survive serialization as a plain dict", "engine.timing.definitions")
    assert isinstance(restored.task_spec.event_definition, definitions.OpsgateDuration)


def test_the_spec_less_converter_writes_everything_but_the_spec(wf):
    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, **definitions.SERIALIZER_CONFIG}))
    with clock.frozen(T0):
        full = set(json.loads(stock.serialize_json(wf)))
        ours = set(json.loads(serializer.dump(wf)))
    assert full - ours == {"spec", "subprocess_specs"} and ours <= full, moved(
        f"BpmnWorkflowConverter writes {sorted(full)}; engine.cases.serializer's spec-less copy of it writes "
        f"{sorted(ours)}", "engine.cases.serializer._SpeclessWorkflowConverter")


def test_a_timer_definition_in_internal_data_serializes_under_our_name(wf, loaded):
    task = by_element(wf)["sla_breach"]
    task.internal_data["seen_events"] = [BpmnEvent(task.task_spec.event_definition)]
    with clock.frozen(T0):
        state = serializer.dump(wf)
    assert '"typename": "OpsgateDuration"' in state
    (event,) = by_element(serializer.restore(state, loaded))["sla_breach"].internal_data["seen_events"]
    assert isinstance(event.event_definition, definitions.OpsgateDuration)
    assert event.event_definition == task.task_spec.event_definition
    # SpiffWorkflow's own class of the same kind and name (an old case's seen events) is the same event.
    assert DurationTimerEventDefinition("sla_breach", '"PT4H"') == task.task_spec.event_definition


def test_a_bad_value_fails_as_a_workflow_error_naming_the_element(loaded):
    spec = loaded.spec
    spec.task_specs["sla_breach"].event_definition = definitions.OpsgateDuration(
        "sla_breach", "breach_after", description=None)
    wf = BpmnWorkflow(spec, loaded.subprocess_specs, script_engine=scripting.script_engine())
    wf.task_tree.data["breach_after"] = "four hours"
    with clock.frozen(T0), pytest.raises(Exception) as failure:
        wf.do_engine_steps()
    err = failure.value
    assert type(err).__name__ == "WorkflowTaskException"
    assert "timeDuration 'four hours' is not a valid ISO 8601 duration" in str(err)
    assert err.task.task_spec.bpmn_id == "sla_breach"


def test_the_spiffworkflow_timer_module_is_not_patched():
    module = importlib.import_module("SpiffWorkflow.bpmn.specs.event_definitions.timer")
    assert module.datetime is dt.datetime, "something patched SpiffWorkflow's timer module"
    assert not hasattr(timers, "install") and not hasattr(clock, "install")
