"""The timer start events of deployed versions: when each process next starts a case on its own."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import DEFAULTS, EngineConfig, settings
from engine.processes import scripting, specs
from engine.timing import clock
from engine.timing import timers as timer_events
from engine.timing.calendar import Calendars
from models import ProcessDefinition, Timer


def start_value(loaded: specs.Loaded, element_id: str, config: EngineConfig = DEFAULTS) -> str:
    """The evaluated timer text of a timer start event (business time on `config`'s calendars)."""
    spec = loaded.spec.task_specs[element_id]
    return str(scripting.evaluate(spec.event_definition.expression, {}, Calendars(config.calendar)))


def schedule_start_timers(session: Session, definition: ProcessDefinition) -> list[Timer]:
    """Project the timer start events of a newly deployed version, taking over the old schedule.

    The next due instant of an unchanged schedule stays what it was, so a redeploy neither
    skips nor repeats a start.
    """
    loaded = specs.load(session, definition)
    starts = loaded.manifest.start_timers()
    old = list(session.scalars(
        select(Timer).join(ProcessDefinition, Timer.definition_id == ProcessDefinition.id)
        .where(Timer.case_id.is_(None), ProcessDefinition.key == definition.key)))
    previous = {row.element_id: row.due_at for row in old}
    for row in old:
        session.delete(row)
    now = clock.now()
    rows = []
    for element_id in starts:
        after = now
        if element_id in previous:
            after = min(now, previous[element_id] - dt.timedelta(microseconds=1))
        due = timer_events.next_start_due(start_value(loaded, element_id, settings(session)), after=after, anchor=now)
        if due is not None:
            rows.append(Timer(case_id=None, definition_id=definition.id, task_id=None, element_id=element_id,
                              kind="start", escalation=False, due_at=due))
    session.add_all(rows)
    session.flush()
    return rows
