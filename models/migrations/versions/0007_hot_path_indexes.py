"""Indexes for the write path: fewer index pages per case action, no full scan of memberships.

* user_group gets an index by group: notices for a ready task look up the members of its
  candidate groups, which scanned the whole membership table.
* The e-mail outbox index holds only pending rows: in-app notices (most rows) and sent
  e-mails never needed an entry in it.
* audit_event loses its case_id index: a case's events are looked up by their chain (the
  case key), which the (chain, seq) unique index serves in order.
* human_task gets `announced_at`: the worker, not the action, tells a ready task's people
  (engine.notifications.outbox.announce_ready_tasks). It finds them in the (state, due_at) index, which
  gains the column; tasks that exist already count as announced.
* On SQLite, human_task_group is a WITHOUT ROWID table: its primary key is the table, so a
  ready task's group rows cost one b-tree, not two. (PostgreSQL has no such thing; the
  table stays as it is there.)

Revision ID: 0007_hot_path_indexes
Revises: 0006_task_groups
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_hot_path_indexes"
down_revision = "0006_task_groups"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")


def _rebuild_task_groups(with_rowid: bool) -> None:
    op.drop_index("ix_human_task_group_group", table_name="human_task_group")
    op.rename_table("human_task_group", "_human_task_group_old")
    op.create_table(
        "human_task_group",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("group", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], name=op.f("fk_human_task_group_task_id_human_task"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "group", name=op.f("pk_human_task_group")),
        sqlite_with_rowid=with_rowid,
    )
    op.execute('INSERT INTO human_task_group (task_id, "group") SELECT task_id, "group" FROM _human_task_group_old')
    op.drop_table("_human_task_group_old")
    op.create_index("ix_human_task_group_group", "human_task_group", ["group", "task_id"], unique=False)


def upgrade() -> None:
    op.create_index("ix_user_group_group_id", "user_group", ["group_id", "user_id"], unique=False)
    op.drop_index("ix_audit_event_case_id", table_name="audit_event")
    op.drop_index("ix_notification_outbox", table_name="notification")
    op.create_index("ix_notification_outbox", "notification", ["next_attempt_at"], unique=False,
                    sqlite_where=_PENDING, postgresql_where=_PENDING)
    op.add_column("human_task", sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE human_task SET announced_at = created_at")
    op.drop_index("ix_human_task_state_due", table_name="human_task")
    op.create_index("ix_human_task_state_due", "human_task", ["state", "due_at", "announced_at"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_task_groups(with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_task_groups(with_rowid=True)
    op.drop_index("ix_human_task_state_due", table_name="human_task")
    op.create_index("ix_human_task_state_due", "human_task", ["state", "due_at"], unique=False)
    # A plain DROP COLUMN (SQLite >= 3.35): rebuilding human_task would cascade-delete its groups.
    op.drop_column("human_task", "announced_at")
    op.drop_index("ix_notification_outbox", table_name="notification")
    op.create_index("ix_notification_outbox", "notification", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_audit_event_case_id", "audit_event", ["case_id"], unique=False)
    op.drop_index("ix_user_group_group_id", table_name="user_group")
