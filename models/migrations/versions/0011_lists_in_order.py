"""Lists read a page in index order: cases newest first by process and/or status, a person's
notices newest first.

* case: ix_case_process_status gains the id; ix_case_process_id and ix_case_status_id are
  new. A list filtered by process, status or both walks one of them backwards and stops after
  a page, instead of sorting every case of the process.
* notification: ix_notification_listed (user_id, channel, id), the notices page's order.

Revision ID: 0011_lists_in_order
Revises: 0010_live_inbox_and_audit_search
"""
from __future__ import annotations

from alembic import op

revision = "0011_lists_in_order"
down_revision = "0010_live_inbox_and_audit_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_case_process_status", table_name="case")
    op.create_index("ix_case_process_status", "case", ["process_key", "status", "id"], unique=False)
    op.create_index("ix_case_process_id", "case", ["process_key", "id"], unique=False)
    op.create_index("ix_case_status_id", "case", ["status", "id"], unique=False)
    op.create_index("ix_notification_listed", "notification", ["user_id", "channel", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notification_listed", table_name="notification")
    op.drop_index("ix_case_status_id", table_name="case")
    op.drop_index("ix_case_process_id", table_name="case")
    op.drop_index("ix_case_process_status", table_name="case")
    op.create_index("ix_case_process_status", "case", ["process_key", "status"], unique=False)
