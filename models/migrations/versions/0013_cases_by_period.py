"""Reports read a period's cases through indexes: case.created_at and case.closed_at.

The monthly scorecards, the reports page's hot spots and the year's trend select the cases
opened or closed in a month (`created_at` in it OR `closed_at` in it); without these indexes
each month read every case (a sequential scan that grows with the history: 0.3 s at 10,000
cases on a loaded machine, once per month of the trend).

Revision ID: 0013_cases_by_period
Revises: 0012_event_waits
"""
from __future__ import annotations

from alembic import op

revision = "0013_cases_by_period"
down_revision = "0012_event_waits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_created_at", "case", ["created_at"], unique=False)
    op.create_index("ix_case_closed_at", "case", ["closed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_closed_at", table_name="case")
    op.drop_index("ix_case_created_at", table_name="case")
