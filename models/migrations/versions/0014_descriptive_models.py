"""Descriptive BPMN models (issue #16): uploaded diagrams kept as documentation, never run.

Revision ID: 0014_descriptive_models
Revises: 0013_cases_by_period
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0014_descriptive_models"
down_revision = "0013_cases_by_period"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "descriptive_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("bpmn", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=120), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["user.id"], name=op.f("fk_descriptive_model_uploaded_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_descriptive_model")),
        sa.UniqueConstraint("sha256", name=op.f("uq_descriptive_model_sha256")),
    )


def downgrade() -> None:
    op.drop_table("descriptive_model")
