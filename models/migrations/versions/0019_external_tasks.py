"""External tasks (issue #16): jobs for outside workers, Camunda's external-task pattern.

* external_task: one row per `camunda:type="external"` service task an open case waits on,
  written when the case is saved; workers fetch and lock rows by topic (POST
  /external-tasks/fetch-and-lock), then complete them, report a failure (retries, retry timeout;
  retries 0 = needs attention) or throw a BPMN error.

Revision ID: 0019_external_tasks
Revises: 0018_sessions_tokens_throttle
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0019_external_tasks"
down_revision = "0018_sessions_tokens_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("worker_user_id", sa.Integer(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_external_task_case_id_case"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["worker_user_id"], ["user.id"], name=op.f("fk_external_task_worker_user_id_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_task")),
        sa.UniqueConstraint("task_id", name=op.f("uq_external_task_task_id")),
    )
    op.create_index(op.f("ix_external_task_case_id"), "external_task", ["case_id"])
    op.create_index("ix_external_task_topic_locked", "external_task", ["topic", "locked_until"])


def downgrade() -> None:
    op.drop_index("ix_external_task_topic_locked", table_name="external_task")
    op.drop_index(op.f("ix_external_task_case_id"), table_name="external_task")
    op.drop_table("external_task")
