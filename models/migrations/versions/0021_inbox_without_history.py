"""The inbox at a million cases: its requester arm starts from the actor's open cases, and its
live tables are read without parallel workers.

* ix_case_open_requester: the open cases of a requester, and only those. The inbox's
  `requester` arm (the tasks that wait on someone as the requester of their own case) starts
  from them: a handful of rows for most people, where it used to join every live requester
  task of everyone to its case (3,700 task rows and 3,700 case rows at 1,000,000 cases, 70 ms,
  for an engineer who requested none).
* human_task and human_task_group: `parallel_workers = 0` (PostgreSQL). The inbox reads a
  page from the ready-task index and stops; PostgreSQL misjudges how many ready rows it must
  pass (it estimates the group EXISTS against every task that ever existed), plans a parallel
  scan, and starting the two workers cost 12-50 ms of a statement that takes under 1 ms
  without them (docs/performance.md). No query of these tables needs a parallel scan: lists
  read a page, the evaluation reads case facts.

Revision ID: 0021_inbox_without_history
Revises: 0020_evaluation_month_reads
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_inbox_without_history"
down_revision = "0020_evaluation_month_reads"
branch_labels = None
depends_on = None

_OPEN = sa.text("status = 'open'")
_SERIAL_TABLES = ("human_task", "human_task_group")


def upgrade() -> None:
    op.create_index("ix_case_open_requester", "case", ["requester_id"], sqlite_where=_OPEN, postgresql_where=_OPEN)
    if op.get_bind().dialect.name == "postgresql":
        for table in _SERIAL_TABLES:
            op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _SERIAL_TABLES:
            op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
    op.drop_index("ix_case_open_requester", table_name="case")
