"""Messages and signals (issue #16): what open cases wait for, and idempotent message receipts.

* event_wait: one row per message or signal an open case is waiting for (a catch event, a
  receive task, a boundary event, an event-based gateway's branch), rewritten when the case is
  saved; `POST /messages` and `POST /signals` find their receivers through it.
* message_receipt: the answer given to a message sent with an idempotency key.

Revision ID: 0012_event_waits
Revises: 0011_lists_in_order
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0012_event_waits"
down_revision = "0011_lists_in_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_wait",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_event_wait_case_id_case"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_wait")),
    )
    op.create_index(op.f("ix_event_wait_case_id"), "event_wait", ["case_id"])
    op.create_index("ix_event_wait_kind_name", "event_wait", ["kind", "name", "case_id"])
    op.create_table(
        "message_receipt",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("case_key", sa.String(length=40), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_message_receipt")),
    )


def downgrade() -> None:
    op.drop_table("message_receipt")
    op.drop_index("ix_event_wait_kind_name", table_name="event_wait")
    op.drop_index(op.f("ix_event_wait_case_id"), table_name="event_wait")
    op.drop_table("event_wait")
