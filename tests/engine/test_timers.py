"""Timer events of one instance in memory: due instants, SLA warnings, pauses, start schedules."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser import SpiffBpmnParser

from engine.timing import clock, definitions, timers

DATA = Path(__file__).parent.parent / "data"
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


@pytest.fixture
def wf() -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DATA / "timer_sla.bpmn"))
    spec = parser.get_spec("sla")
    definitions.adopt([spec])
    with clock.frozen(T0):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
    return workflow


def by_kind(wf):
    return {(t.element_id, t.kind): t for t in timers.waiting_timers(wf)}


def test_waiting_timers_and_the_sla_warning(wf):
    with clock.frozen(T0):
        found = by_kind(wf)
    assert found[("sla_breach", "boundary")].due_at == T0 + 4 * H
    assert found[("sla_breach", "boundary")].sla and found[("sla_breach", "boundary")].attached_to == "work"
    assert found[("sla_breach", "sla_warning")].due_at == T0 + 3 * H
    assert found[("remind", "boundary")].cycle and not found[("remind", "boundary")].sla
    assert found[("remind", "boundary")].due_at == T0 + H
    assert ("remind", "sla_warning") not in found


def test_warning_is_listed_until_marked(wf):
    with clock.frozen(T0):
        breach = by_kind(wf)[("sla_breach", "boundary")]
        assert timers.mark_warned(wf, breach.task_id)
        assert not timers.mark_warned(wf, breach.task_id)
        assert ("sla_breach", "sla_warning") not in by_kind(wf)


def test_paused_clock_keeps_its_remaining_time(wf):
    with clock.frozen(T0):
        by_kind(wf)  # first sight starts the SLA clock
    with clock.frozen(T0 + H):
        assert timers.apply_pause(wf, ["ask_requester"])
        assert ("sla_breach", "boundary") not in by_kind(wf)
        assert ("remind", "boundary") in by_kind(wf)  # reminders are not SLA clocks
    with clock.frozen(T0 + 10 * H):
        wf.refresh_timers()  # a parked clock does not fire while paused
        wf.do_engine_steps()
        assert not timers.apply_pause(wf, [])
        found = by_kind(wf)
    assert found[("sla_breach", "boundary")].due_at == T0 + 13 * H   # 3h were left
    assert found[("sla_breach", "sla_warning")].due_at == T0 + 12 * H  # still at 75% of 4h


def test_clock_attached_to_the_pausing_task_keeps_running(wf):
    with clock.frozen(T0 + H):
        timers.apply_pause(wf, ["work"])
        assert by_kind(wf)[("sla_breach", "boundary")].due_at == T0 + 4 * H


def test_fired_timers_after_refresh(wf):
    with clock.frozen(T0):
        before = timers.waiting_timers(wf)
    now = T0 + 4 * H + dt.timedelta(seconds=1)
    with clock.frozen(now):
        wf.refresh_timers()
        wf.do_engine_steps()
        fired = sorted((t.element_id, due) for t, due in timers.fired_timers(before, wf, now))
    # The late reminder cycle fires once per period that passed, then the SLA interrupts.
    assert fired == [("remind", T0 + H), ("remind", T0 + 2 * H), ("remind", T0 + 3 * H), ("sla_breach", T0 + 4 * H)]


def test_not_before_the_instant(wf):
    with clock.frozen(T0):
        before = timers.waiting_timers(wf)
    with clock.frozen(T0 + H):  # exactly due: SpiffWorkflow fires strictly after
        wf.refresh_timers()
        wf.do_engine_steps()
        assert timers.fired_timers(before, wf, T0 + H) == []


@pytest.mark.parametrize("value, after, expected", [
    ("2026-12-01T02:00:00Z", T0, dt.datetime(2026, 12, 1, 2, tzinfo=dt.timezone.utc)),
    ("2026-11-01T02:00:00Z", T0, None),
    ("PT2H", T0, T0 + 2 * H),
    ("PT2H", T0 + 2 * H, None),
    ("R/PT24H", T0, T0 + 24 * H),
    ("R/PT24H", T0 + 24 * H, T0 + 48 * H),
    ("R/2026-01-01T02:00:00Z/P1D", T0, dt.datetime(2026, 12, 1, 2, tzinfo=dt.timezone.utc)),
    ("R2/PT1H", T0 + H, T0 + 2 * H),
    ("R2/PT1H", T0 + 2 * H, None),
    ("R/2027-01-04T01:00:00Z/P1M", dt.datetime(2027, 2, 4, 1, tzinfo=dt.timezone.utc),
     dt.datetime(2027, 3, 4, 1, tzinfo=dt.timezone.utc)),  # monthly stays on the 4th across February
    ("R3/2027-01-04T01:00:00Z/P1M", dt.datetime(2027, 3, 4, 1, tzinfo=dt.timezone.utc), None),
])
def test_next_start_due(value, after, expected):
    assert timers.next_start_due(value, after=after, anchor=T0) == expected
