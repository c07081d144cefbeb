"""The worker: claim due timers in batches, fire them in the claiming transaction, tell the
people of newly ready tasks, send mail.

Exactly once: a timer fires inside the transaction that claimed it, and the firing (the
case's new state, its timer rows, its audit events `timer_fired` / `case_escalated`) commits
or vanishes with that transaction. On PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP
LOCKED`, so racing workers take different timers; a worker killed mid-fire loses its
connection, PostgreSQL rolls its transaction back and unlocks the row, and the next worker
fires the timer. Should two workers still reach one case (two timers of the same case, or
SQLite, which has no row locks), the case's optimistic version check lets only one commit.

A timer that fails to fire (a broken expression, a case that fails to load) is put aside for
`RETRY_AFTER` with the error in `claimed_by`, and logged; it never blocks the others.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine import logcontext, prepared
from engine.errors import Conflict
from engine.jobs import delivery, health, webhooks
from engine.jobs.firing import DueTimers, fire_timer, prefetch
from engine.notifications import outbox
from engine.timing import clock
from models import Timer

log = logging.getLogger(__name__)
# One line per job (a timer fired, a delivery pass that did something); JSON with OPSGATE_LOG_FORMAT=json.
jobs_log = logging.getLogger("opsgate.jobs")
_STARTED = dt.datetime.now(dt.timezone.utc)

RETRY_AFTER = dt.timedelta(minutes=5)
BATCH = 50


@dataclass
class PassResult:
    """What one pass of the worker did."""

    handled: int = 0
    fired: int = 0
    conflicts: int = 0
    errors: int = 0
    announced: int = 0
    mail: delivery.Delivery = field(default_factory=delivery.Delivery)
    webhooks: delivery.Delivery = field(default_factory=delivery.Delivery)


def _put_aside(session: Session, timer_id: int, now: dt.datetime, error: BaseException) -> None:
    session.execute(
        update(Timer).where(Timer.id == timer_id)
        .values(claimed_by=f"error: {type(error).__name__}: {error}"[:120], claimed_until=now + RETRY_AFTER)
    )


Fire = Callable[[Session, Timer, dt.datetime], Any]


def run_once(factory: sessionmaker[Session], *, now: dt.datetime | None = None, limit: int | None = None,
             fire: Fire | None = None, deliver: bool = True, batch: int = BATCH,
             name: str | None = None) -> PassResult:
    """Fire every timer due at `now` (default: the clock), tell the people of newly ready
    tasks, then send due e-mail; return counts.

    Timers are claimed `batch` at a time in one transaction, which fires them all and commits
    once (see `_run_batch`). A worker that dies mid-batch loses the whole batch's work and
    locks, so the next worker fires those timers, each once.
    """
    fire = fire or fire_timer
    result = PassResult()
    due = DueTimers()
    while limit is None or result.handled < limit:
        at = now or clock.now()
        size = batch if limit is None else min(batch, limit - result.handled)
        try:
            if not _run_batch(factory, due, at, size, fire, result):
                break
        except (StaleDataError, OperationalError) as exc:
            # SQLite refused the write lock, or the connection dropped: the next pass retries.
            result.conflicts += 1
            log.info("worker batch rolled back: %s; retried next pass", exc)
    with factory() as session, session.begin(), clock.frozen(now) if now else contextlib.nullcontext():
        result.announced = outbox.announce_ready_tasks(session)
        # The pass got this far: the worker is alive (/readyz, /metrics). Real time, not `now`.
        health.heartbeat(session, name or health.worker_name(), started_at=_STARTED,
                         at=dt.datetime.now(dt.timezone.utc))
    if deliver:
        with factory() as session, session.begin(), clock.frozen(now) if now else contextlib.nullcontext():
            result.mail = delivery.deliver_pending(session)
        with factory() as session, session.begin(), clock.frozen(now) if now else contextlib.nullcontext():
            result.webhooks = webhooks.deliver_webhooks(session)
    if result.announced or result.mail.sent or result.webhooks.sent or result.mail.failed or result.webhooks.failed:
        jobs_log.info("worker pass", extra={"job": "deliver", "announced": result.announced,
                                            "mail_sent": result.mail.sent, "mail_failed": result.mail.failed,
                                            "webhooks_sent": result.webhooks.sent,
                                            "webhooks_failed": result.webhooks.failed})
    return result


def _run_batch(factory: sessionmaker[Session], due: DueTimers, at: dt.datetime, size: int, fire: Fire,
               result: PassResult) -> bool:
    """Claim up to `size` due timers, fire them all in the claiming transaction and commit
    once; return False when nothing was due.

    The firings' writes are held and sent once per kind of statement at the end of the batch
    (`prepared.deferred`: each kind one executemany, one round trip on PostgreSQL, instead of
    five statements a timer), and firing runs without savepoints. When one timer fails, the
    whole batch rolls back: the failed timer is skipped for this pass (a conflict) or put aside
    for `RETRY_AFTER` (an error), and the others are handed out again to the next batch, which
    fires them in a new transaction. When sending the held writes fails (a case's version guard
    found the case changed, say), no timer is to blame yet: the batch rolls back, all of its
    timers are handed out again, and the next batch sends each timer's writes as it fires
    (`DueTimers.one_by_one`), so the timer that conflicts is the one that fails. Either way
    nothing of a failed batch is written, so no timer fires twice.
    """
    with factory() as session, clock.frozen(at):
        session.begin()
        timers = due.claim(session, at, size)
        if not timers:
            return False
        keys = DueTimers.keys(timers)
        idents = [(timer.id, timer.kind, timer.element_id) for timer in timers]
        held = prefetch(session, timers)
        timings: list[float] = []
        cases: list[str | None] = []
        fired = 0
        failure: tuple[int | None, BaseException] | None = None
        one_by_one, due.one_by_one = due.one_by_one, False
        with contextlib.nullcontext(None) if one_by_one else prepared.deferred(session) as writes:
            for index, timer in enumerate(timers):
                started = time.perf_counter()
                with logcontext.scope(request_id=f"timer-{idents[index][0]}", user="system"):
                    try:
                        fired += fire(session, timer, at) or 0
                    except OperationalError:
                        raise
                    except Exception as exc:  # one bad timer must not stop the others
                        failure = (index, exc)
                        break
                    cases.append(logcontext.current().get("case"))  # the case its firing named
                timings.append(time.perf_counter() - started)
            if writes is not None:
                if failure is None:
                    try:
                        writes.send()
                    except OperationalError:
                        raise
                    except Exception as exc:
                        failure = (None, exc)
                if writes.failed and failure is not None:
                    failure = (None, failure[1])  # the held writes of earlier timers failed, not this timer
                writes.discard()
        if failure is None:
            session.commit()
            result.fired += fired
            result.handled += len(timers)
            # each timer's line once the batch is committed, with the request id, user and case
            # its firing ran under (so a log reader can follow one timer as one job)
            for (timer_id, kind, element), seconds, case in zip(idents, timings, cases, strict=True):
                with logcontext.scope(request_id=f"timer-{timer_id}", user="system", case=case):
                    _log_timer(kind, element, "fired", seconds)
            return True
        session.rollback()
        del held
        at_index, error = failure
        if at_index is None:
            due.forget(keys)
            due.one_by_one = True
            result.conflicts += 1
            log.info("a batch of %s timers rolled back when its writes were sent: %s; fired one by one next",
                     len(timers), error)
            return True
        index = at_index
        timer_id, kind, element = idents[index]
        due.forget(keys[:index] + keys[index + 1:])
        due.skip.add(timer_id)
        if isinstance(error, Conflict):
            # Someone changed the case meanwhile: the next pass fires what is still due.
            result.conflicts += 1
            log.info("timer %s: %s; retried next pass", timer_id, error)
            _log_timer(kind, element, "conflict", 0.0)
            return True
        result.errors += 1
        log.error("timer %s failed to fire", timer_id, exc_info=error)
        with session.begin():
            _put_aside(session, timer_id, at, error)
        _log_timer(kind, element, "error", 0.0)
        return True


def _log_timer(kind: str, element: str, outcome: str, seconds: float) -> None:
    jobs_log.info("timer %s %s", element, outcome,
                  extra={"job": "timer", "timer_kind": kind, "element": element, "outcome": outcome,
                         "duration_ms": round(seconds * 1000, 1)})


def run_forever(factory: sessionmaker[Session], stop: threading.Event, *, interval: float = 5.0) -> None:
    """Run passes until `stop` is set, sleeping `interval` seconds between idle passes."""
    while not stop.is_set():
        try:
            result = run_once(factory)
        except Exception:  # the loop survives a lost database connection
            log.exception("worker pass failed")
            result = PassResult()
        if result.handled == 0:
            stop.wait(interval)


def start_background_worker(factory: sessionmaker[Session], *, interval: float = 5.0) -> threading.Event:
    """Start one daemon worker thread (embedded SQLite setups); set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(factory, stop), kwargs={"interval": interval},
                              name="opsgate-worker", daemon=True)
    thread.start()
    return stop
