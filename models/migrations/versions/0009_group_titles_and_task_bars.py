"""Names people read for groups, and the people separation of duties bars from a ready task.

* group gets `title` and `title_zh`: an admin may name a group in English and Chinese; empty
  means the shipped catalogue's name (engine.people.groups), or the group's key.
* human_task_bar lists, for a ready task with separation-of-duties rules, the users who may
  not act on it (the case's requester, whoever did an earlier task the rules name), so the
  inbox and the task notices leave it out in SQL. Tasks already ready get their rows when
  their case is next saved; until then the task page still refuses them in words.

Revision ID: 0009_group_titles_and_task_bars
Revises: 0008_integrations
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_group_titles_and_task_bars"
down_revision = "0008_integrations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("group") as batch:
        batch.add_column(sa.Column("title", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("title_zh", sa.String(length=200), nullable=False, server_default=""))
    op.create_table(
        "human_task_bar",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], name=op.f("fk_human_task_bar_task_id_human_task"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_human_task_bar_user_id_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "user_id", name=op.f("pk_human_task_bar")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_human_task_bar_user", "human_task_bar", ["user_id", "task_id"])


def downgrade() -> None:
    op.drop_index("ix_human_task_bar_user", table_name="human_task_bar")
    op.drop_table("human_task_bar")
    with op.batch_alter_table("group") as batch:
        batch.drop_column("title_zh")
        batch.drop_column("title")
