"""Four-eyes on process changes: a version's status and review, and installation settings.

* process_definition gets `status` (`live`, `proposed`, `rejected`; every existing version is
  live), the author's `change_note`, the review (`reviewed_by`, `reviewed_at`,
  `review_comment`, the reviewing case's key `review_case`) and `emergency` (an admin put it
  live without a review).
* setting holds installation settings; `four_eyes` is absent here and written by `opsgate init`
  (on for a new installation, off for one that already has processes; engine.cases.proposals).

Revision ID: 0015_process_versions_review
Revises: 0014_descriptive_models
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_process_versions_review"
down_revision = "0014_descriptive_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): copying process_definition would trip the cases' foreign keys.
    for column in (
        sa.Column("status", sa.String(length=20), nullable=False, server_default="live"),
        sa.Column("change_note", sa.Text(), nullable=False, server_default=""),
        sa.Column("reviewed_by", sa.String(length=120), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("review_case", sa.String(length=40), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False, server_default=sa.false()),
    ):
        op.add_column("process_definition", column)
    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )


def downgrade() -> None:
    op.drop_table("setting")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason.
    for column in ("emergency", "review_case", "review_comment", "reviewed_at", "reviewed_by", "change_note",
                   "status"):
        op.drop_column("process_definition", column)
