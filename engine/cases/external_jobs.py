"""The external-task projection (#16): one `external_task` row per external service task a case
waits on (engine.processes.external), written in the same transaction as the case.

A row is added when its task starts waiting and deleted when the task is left, however it is
left: a worker completed it, a boundary event (a timer, a BPMN error) cancelled it, the case
ended or moved. What a row holds besides (the lock, the retries, the last error) belongs to the
workers' use cases in engine.jobs.external_tasks.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from engine.cases.stepping import Instance, live_tasks
from engine.processes import external, specs
from engine.timing import clock
from models import ExternalTask

_table = cast(Table, ExternalTask.__table__)


def waiting(tasks: Iterable[Any]) -> frozenset[tuple[str, str, str]]:
    """The external tasks among `tasks` that wait for a worker, as (task id, element id, topic)."""
    return frozenset((str(t.id), str(t.task_spec.bpmn_id), t.task_spec.topic) for t in tasks
                     if t.state == TaskState.STARTED and external.is_external(t))


def waiting_in(instance: Instance) -> frozenset[tuple[str, str, str]]:
    """What the instance waits on now (nothing read unless its process has external tasks)."""
    return waiting(live_tasks(instance.workflow)) if instance.loaded.external_tasks else frozenset()


def project(session: Session, instance: Instance, live: list[Any]) -> None:
    """Add rows for the tasks that started waiting, delete those of the tasks that were left."""
    if not instance.loaded.external_tasks and not instance.jobs_before:
        return
    case = instance.case
    after = waiting(live) if case.status == "open" else frozenset()
    if after == instance.jobs_before:
        return
    gone = sorted(task_id for task_id, _e, _t in instance.jobs_before - after)
    if gone:
        session.execute(delete(_table).where(_table.c.task_id.in_(gone)))
    new = sorted(after - instance.jobs_before)
    if new:
        now = clock.now()
        session.execute(insert(_table), [{"case_id": case.id, "task_id": task_id, "element_id": element[:200],
                                          "topic": topic[:200], "created_at": now}
                                         for task_id, element, topic in new])
    instance.jobs_before = after


@dataclass(frozen=True)
class JobView:
    """A job as the case and process pages show it. `state` is `attention` (retries ran out),
    `locked` (a worker holds it), `backoff` (a failure's retry timeout runs) or `waiting`."""

    job: ExternalTask
    name: str
    state: str


def state_of(job: ExternalTask, now: dt.datetime) -> str:
    """Where a job stands for people: attention, locked, backoff or waiting."""
    if job.retries == 0:
        return "attention"
    if job.locked_until is not None and job.locked_until > now:
        return "locked" if job.worker_id else "backoff"
    return "waiting"


def element_name(loaded: specs.Loaded, element_id: str) -> str:
    """The BPMN name of an external task's element (its id without one)."""
    for each in [loaded.spec, *loaded.subprocess_specs.values()]:
        for spec in each.task_specs.values():
            if getattr(spec, "bpmn_id", None) == element_id:
                return str(spec.bpmn_name or element_id)
    return element_id


def views(loaded: specs.Loaded, jobs: Iterable[ExternalTask]) -> list[JobView]:
    """The jobs as pages show them, as of the engine clock."""
    now = clock.now()
    return [JobView(job, element_name(loaded, job.element_id), state_of(job, now)) for job in jobs]


def jobs_of_case(session: Session, case_id: int, loaded: specs.Loaded) -> list[JobView]:
    """The jobs an open case waits on, for its page (nothing read unless its process has external tasks)."""
    if not loaded.external_tasks:
        return []
    rows = session.scalars(select(ExternalTask).where(ExternalTask.case_id == case_id).order_by(ExternalTask.id))
    return views(loaded, rows)
