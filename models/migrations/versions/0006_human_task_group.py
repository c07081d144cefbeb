"""Index tasks' candidate groups in their own table, so inboxes filter by group in SQL.

Revision ID: 0006_task_groups
Revises: 0005_attachments
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006_task_groups"
down_revision = "0005_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "human_task_group",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("group", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], name=op.f("fk_human_task_group_task_id_human_task"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "group", name=op.f("pk_human_task_group")),
    )
    op.create_index("ix_human_task_group_group", "human_task_group", ["group", "task_id"], unique=False)
    # Existing ready tasks get their rows from the JSON list they carry.
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, candidate_groups FROM human_task WHERE state = 'ready'")).fetchall()
    values = []
    for task_id, groups in rows:
        groups = json.loads(groups) if isinstance(groups, str) else (groups or [])
        values += [{"task_id": task_id, "group": g} for g in dict.fromkeys(groups)]
    if values:
        table = sa.table("human_task_group", sa.column("task_id"), sa.column("group"))
        op.bulk_insert(table, values)


def downgrade() -> None:
    op.drop_index("ix_human_task_group_group", table_name="human_task_group")
    op.drop_table("human_task_group")
