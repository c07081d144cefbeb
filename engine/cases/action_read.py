"""The read every action on a task starts with: the task row with its case row, in one Core
SELECT, made the session's objects as a query would make them.

A query for the two entities (`select(HumanTask, Case)`) builds the ORM's loading machinery
afresh on every execution (a row processor per column and per relationship of both classes):
measured inside a completion, 16 us of CPU more than the same row read with Core and made into
the same objects here (docs/performance.md, issue #14).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from models import Case, HumanTask

_task = cast(Table, HumanTask.__table__)
_case = cast(Table, Case.__table__)

# The attribute of each column, in the tables' column order (the order the SELECT returns them).
_TASK_KEYS = tuple(inspect(HumanTask).get_property_by_column(c).key for c in _task.c)
_CASE_KEYS = tuple(inspect(Case).get_property_by_column(c).key for c in _case.c)

_TASK_WITH_CASE = (select(_task, _case).join_from(_task, _case, _case.c.id == _task.c.case_id)
                   .where(_task.c.id == bindparam("task_id")))

T = TypeVar("T", HumanTask, Case)


def task_with_case(session: Session, task_id: str) -> tuple[HumanTask, Case] | None:
    """Read a task and its case (None if there is no such task), as the session's objects."""
    row = session.connection().execute(_TASK_WITH_CASE, {"task_id": task_id}).first()
    if row is None:
        return None
    split = len(_TASK_KEYS)
    return held(session, HumanTask, _TASK_KEYS, row[:split]), held(session, Case, _CASE_KEYS, row[split:])


def held(session: Session, cls: type[T], keys: Sequence[str], values: Sequence[Any]) -> T:
    """The session's object for a row read with Core, as a query returns it.

    The object the session already holds for that row stays as it is, as a query leaves it
    (only what it has not loaded, an expired attribute, is filled in from the row); otherwise a
    new one is made of the row, clean and persistent: `make_transient_to_detached` takes its
    values as loaded, with no history, and the session adds it to its identity map."""
    found = session.identity_map.get(identity_key(cls, values[keys.index("id")]))
    if found is not None:
        unloaded = inspect(found).unloaded
        for key, value in zip(keys, values, strict=True):
            if key in unloaded:
                set_committed_value(found, key, value)
        return found
    made = cls()
    inspect(made).dict.update(zip(keys, values, strict=True))
    make_transient_to_detached(made)
    session.add(made)
    return made
