"""Deputies: a person names someone to act for them for a period (out of office).

Revision ID: 0016_delegation
Revises: 0015_process_versions_review
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0016_delegation"
down_revision = "0015_process_versions_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_delegation_user_id_user"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["deputy_id"], ["user.id"], name=op.f("fk_delegation_deputy_id_user"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_delegation_created_by_id_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegation")),
    )
    op.create_index("ix_delegation_deputy", "delegation", ["deputy_id", "ends_at"])
    op.create_index("ix_delegation_user", "delegation", ["user_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_delegation_user", table_name="delegation")
    op.drop_index("ix_delegation_deputy", table_name="delegation")
    op.drop_table("delegation")
