"""The read every action on a task starts with: the task row with its case row, in one Core
SELECT, made the session's objects as a query would make them.

A query for the two entities (`select(HumanTask, Case)`) builds the ORM's loading machinery
afresh on every execution (a row processor per column and per relationship of both classes):
measured inside a completion, 16 us of CPU more than the same row read with Core and made into
the same objects (engine.rows; docs/performance.md, issue #14).
"""
from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from engine.rows import column_keys, held
from models import Case, HumanTask

_task = cast(Table, HumanTask.__table__)
_case = cast(Table, Case.__table__)

# The attribute of each column, in the tables' column order (the order the SELECT returns them).
_TASK_KEYS = column_keys(HumanTask)
_CASE_KEYS = column_keys(Case)

_TASK_WITH_CASE = (select(_task, _case).join_from(_task, _case, _case.c.id == _task.c.case_id)
                   .where(_task.c.id == bindparam("task_id")))


def task_with_case(session: Session, task_id: str) -> tuple[HumanTask, Case] | None:
    """Read a task and its case (None if there is no such task), as the session's objects."""
    row = session.connection().execute(_TASK_WITH_CASE, {"task_id": task_id}).first()
    if row is None:
        return None
    split = len(_TASK_KEYS)
    return held(session, HumanTask, _TASK_KEYS, row[:split]), held(session, Case, _CASE_KEYS, row[split:])
