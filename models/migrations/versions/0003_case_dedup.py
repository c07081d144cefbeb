"""case dedup_key and occurrences (alert storms fold into one open incident)

Revision ID: 0003_case_dedup
Revises: 0002_evaluation
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_case_dedup"
down_revision = "0002_evaluation"
branch_labels = None
depends_on = None

_OPEN = "status = 'open' AND dedup_key IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_index("uq_case_open_dedup", ["process_key", "dedup_key"], unique=True,
                              sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("uq_case_open_dedup")
        batch_op.drop_column("occurrences")
        batch_op.drop_column("dedup_key")
