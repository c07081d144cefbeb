"""Projections of a case's state for inboxes and the timer worker, rewritten on every save."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, intpk, json_data, timestamp
from .case import Case
from .user import User


class HumanTask(Base):
    """A manual task of a case: `ready` rows are the inboxes; ended rows stay as the record of
    who did what and when (`completed`, or `cancelled` when the process moved on without it)."""

    __tablename__ = "human_task"
    __table_args__ = (
        # Inboxes (ready tasks by due time), and the worker's queue of ready tasks whose people
        # have not been told yet (engine.notifications.outbox), read from the index alone: no extra index to
        # write when a task becomes ready.
        Index("ix_human_task_state_due", "state", "due_at", "announced_at"),
        # The inbox reads ready tasks only, in its order (soonest due first) or by assignee
        # ("mine"): partial indexes whose size follows the work waiting, not the history.
        Index("ix_human_task_ready", "due_at", "created_at", "id",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
        Index("ix_human_task_ready_assignee", "assignee_id", "due_at",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(120))
    candidate_groups: Mapped[json_data]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="ready")
    created_at: Mapped[timestamp]
    due_at: Mapped[timestamp | None]
    claimed_at: Mapped[timestamp | None]
    ended_at: Mapped[timestamp | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # When the worker told the candidate groups the task is ready (or found it gone).
    announced_at: Mapped[timestamp | None]

    case: Mapped[Case] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


class Timer(Base):
    """A waiting timer event's next due time (boundary, intermediate or a process's timer start)."""

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_due", "due_at"),)

    id: Mapped[intpk]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # boundary | intermediate | start
    escalation: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[timestamp]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[timestamp | None]


class HumanTaskGroup(Base):
    """One candidate group of a ready task, so inboxes filter by group in SQL.

    Only ready tasks have rows: a database trigger (migration 0010) deletes a task's rows in
    the statement that ends it, so the group index holds the work waiting, not every task
    there ever was. An ended task's groups stay in `HumanTask.candidate_groups`."""

    __tablename__ = "human_task_group"
    # On SQLite the primary key is the table (WITHOUT ROWID): one b-tree per row written, not two.
    __table_args__ = (Index("ix_human_task_group_group", "group", "task_id"), {"sqlite_with_rowid": False})

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(String(120), primary_key=True)


class HumanTaskBar(Base):
    """A person separation of duties bars from a ready task (engine.cases.persistence writes
    these with the task), so inboxes and notices leave the task out in SQL."""

    __tablename__ = "human_task_bar"
    __table_args__ = (Index("ix_human_task_bar_user", "user_id", "task_id"), {"sqlite_with_rowid": False})

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
