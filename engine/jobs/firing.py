"""Firing one due timer row: a case's timer events, an SLA warning, or a scheduled case start.

The worker (engine.jobs.worker) claims a row and calls `fire_timer` inside the claiming
transaction; `fire_due_timers` does the same for many rows in one transaction.
Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, select, update
from sqlalchemy.orm import Session

from engine.cases import persistence, services
from engine.config import settings
from engine.errors import Conflict
from engine.notifications import outbox, webhooks
from engine.processes import schedule, specs
from engine.records import audit
from engine.timing import clock
from engine.timing import timers as timer_events
from models import Case, ProcessDefinition, Timer

log = logging.getLogger(__name__)


STALE_RETRY = dt.timedelta(minutes=5)


def claim_due(session: Session, now: dt.datetime, skip: set[int] | None = None, limit: int = 1) -> list[Timer]:
    """Lock and return up to `limit` timers due before `now` that no other worker holds.

    PostgreSQL skips rows other transactions have locked (FOR UPDATE SKIP LOCKED); SQLite has
    one writer at a time and ignores the clause. A row put aside after an error
    (`claimed_until` in the future) waits until then.
    """
    query = (
        select(Timer)
        .where(Timer.due_at < now)
        .where((Timer.claimed_until.is_(None)) | (Timer.claimed_until < now))
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(Timer.id.not_in(skip))
    return list(session.scalars(query))


class DueTimers:
    """Hand out each due timer once per pass, although firing deletes and re-creates rows.

    A timer that fired and came back unchanged (same case, element, kind and due instant) is
    left to the next pass; one whose case already fired in the same batch is skipped, since
    that firing refreshed every timer of the case and re-projected its rows.
    """

    def __init__(self) -> None:
        self.skip: set[int] = set()
        self._done: set[tuple[object, ...]] = set()
        # The next batch sends each timer's writes as it fires (after a batch whose held writes
        # failed as a whole: engine.jobs.worker), so that a failure names its timer.
        self.one_by_one = False

    @staticmethod
    def _key(timer: Timer) -> tuple[object, ...]:
        return (timer.case_id, timer.definition_id, timer.element_id, timer.kind, timer.due_at)

    def claim(self, session: Session, now: dt.datetime, size: int = 1) -> list[Timer]:
        """Lock and return up to `size` due timers not handled in this pass, one per case."""
        batch: list[Timer] = []
        cases: set[int] = set()
        held: set[int] = set()  # rows this claim has seen; ids may be reused once rows are rewritten
        while len(batch) < size:
            rows = claim_due(session, now, self.skip | held, size - len(batch))
            if not rows:
                break
            for timer in rows:
                held.add(timer.id)
                if self._key(timer) in self._done:
                    self.skip.add(timer.id)  # fired and came back unchanged: the next pass
                    continue
                if timer.case_id is not None and timer.case_id in cases:
                    continue  # the case's other firing in this batch re-projects it
                self._done.add(self._key(timer))
                if timer.case_id is not None:
                    cases.add(timer.case_id)
                batch.append(timer)
        return batch

    def forget(self, keys: list[tuple[object, ...]]) -> None:
        """Hand these timers out again: their batch rolled back, so they did not fire."""
        self._done.difference_update(keys)

    @classmethod
    def keys(cls, timers: list[Timer]) -> list[tuple[object, ...]]:
        """The identities of claimed timers, read while their rows are loaded (before a rollback)."""
        return [cls._key(timer) for timer in timers]


def prefetch(session: Session, timers: list[Timer]) -> list[object]:
    """Load the cases and process versions a batch of timers fires on, one SELECT each.

    Firing then finds them in the session (`Session.get` without a round trip). The session's
    identity map holds objects weakly, so the caller keeps the returned list until the batch
    is done; otherwise a version row read for one case is read again for the next.
    """
    case_ids = sorted({t.case_id for t in timers if t.case_id is not None})
    held: list[object] = list(session.scalars(select(Case).where(Case.id.in_(case_ids)))) if case_ids else []
    definition_ids = {c.definition_id for c in held if isinstance(c, Case)}
    definition_ids |= {t.definition_id for t in timers if t.case_id is None and t.definition_id is not None}
    if definition_ids:
        held += session.scalars(select(ProcessDefinition).where(ProcessDefinition.id.in_(sorted(definition_ids))))
    return held


def fire_timer(session: Session, timer: Timer, now: dt.datetime) -> int:
    """Fire one claimed timer row as of `now`; return how many BPMN timer events fired."""
    with clock.frozen(now):
        if timer.case_id is None:
            return start_scheduled_case(session, timer, now)
        case = session.get(Case, timer.case_id)
        if case is None or case.status != "open":
            session.delete(timer)
            return 0
        if timer.kind == "sla_warning":
            fire_sla_warning(session, case, timer, now)
            return 0
        fired = services.fire_case_timers(session, case, now=now)
        if not fired:
            # The row says due but the instance fired nothing: a row that does not match the
            # instance. Keep it out of the way for a while rather than retry it every pass.
            log.warning("timer %s of %s was due at %s but nothing fired", timer.element_id, case.key,
                        timer.due_at.isoformat())
            session.execute(update(Timer).where(Timer.id == timer.id)
                            .values(claimed_by="error: nothing fired", claimed_until=now + STALE_RETRY),
                            execution_options={"synchronize_session": False})
        return fired


def fire_sla_warning(session: Session, case: Case, timer: Timer, now: dt.datetime) -> None:
    """Record and announce that 75% of an SLA clock is used."""
    instance = persistence.open_instance(session, case)
    if timer_events.mark_warned(instance.workflow, timer.task_id or ""):
        due = timer_events.sla_due(instance.workflow, timer.task_id or "")
        name = instance.loaded.manifest.element_name(timer.element_id)
        audit.append(session, case, actor=None, type="sla_warning", task=timer.element_id,
                     data={"timer": timer.element_id, "name": name, "due_at": due.isoformat() if due else None,
                           "used": f"{timer_events.WARNING_AT:.0%}"})
        outbox.case_notice(session, case, kind="sla_warning",
                           subject=f"{timer_events.WARNING_AT:.0%} of {name} used",
                           body=f"{name} runs out at {due:%Y-%m-%d %H:%M} UTC." if due else f"{name} runs out soon.")
        webhooks.emit(session, "sla.warning", case, sla={"timer": timer.element_id, "name": name, "due_at": due})
    persistence.save(session, instance, actor=None)
    services.flush(session)


def start_scheduled_case(session: Session, timer: Timer, now: dt.datetime) -> int:
    """Open the case a timer start event is due to start, and move the schedule on."""
    definition = session.get(ProcessDefinition, timer.definition_id)
    if definition is None:  # pragma: no cover - rows go with their definition
        session.delete(timer)
        return 0
    loaded = specs.load(session, definition)
    due = timer.due_at
    value = schedule.start_value(loaded, timer.element_id, settings(session))
    following = timer_events.next_start_due(value, after=due, anchor=definition.deployed_at)
    # Move the schedule first, guarded by the due instant we read: of two workers that read
    # the same row (SQLite has no row locks), only one moves it and starts the case.
    guard = (Timer.id == timer.id) & (Timer.due_at == due)
    if following is None:
        statement: Executable = delete(Timer).where(guard)
    else:
        statement = update(Timer).where(guard).values(due_at=following)
    moved = cast(CursorResult[Any], session.execute(statement, execution_options={"synchronize_session": False}))
    if moved.rowcount != 1:
        raise Conflict(f"the schedule of {definition.key} moved on under this worker")
    session.expire(timer)
    case = services.start_case(session, definition.key, {}, actor=None, start_event=timer.element_id)
    audit.append(session, case, actor=None, type="timer_fired", task=timer.element_id,
                 data={"schedule": timer.element_id, "due_at": due.isoformat()})
    services.flush(session)
    log.info("started %s on schedule %s due %s", case.key, timer.element_id, due.isoformat())
    return 1


def fire_due_timers(session: Session, *, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Fire every timer due at `now` in the caller's transaction; return how many timer events fired.

    SLA warnings are sent too but not counted; `opsgate worker` does the same one timer per
    transaction (engine.jobs.worker).
    """
    now = now or clock.now()
    count = 0
    due = DueTimers()
    handled = 0
    while handled < limit:
        batch = due.claim(session, now, size=min(50, limit - handled))
        if not batch:
            break
        held = prefetch(session, batch)
        for timer in batch:
            count += fire_timer(session, timer, now)
        handled += len(batch)
        del held
    return count
