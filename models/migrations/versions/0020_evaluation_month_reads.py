"""What a month's evaluation reads, bounded by the month: a case's first response by one index
probe, and the case's system among its stored facts.

* ix_audit_event_response: audit events that answer a case (a claim, a completion, a gate's
  decision) by (chain, at), and only those. A month's open cases are evaluated live, and each
  needs its first response: with this index that is the first entry of its chain (an index-only
  probe), not a walk of all its events.
* case_fact.system: the service-desk hot spots (contacts by system) read the month's ended cases
  from case_fact like the measures do, instead of every case row of the month and its data.
  Filled from the case rows for the facts already written.

Revision ID: 0020_evaluation_month_reads
Revises: 0019_external_tasks
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_evaluation_month_reads"
down_revision = "0019_external_tasks"
branch_labels = None
depends_on = None

# models.audit.RESPONSE_EVENT_TYPES as this revision knows them.
_RESPONSES = sa.text("type IN ('task_claimed', 'task_completed', 'gate_approved', 'gate_rejected', "
                     "'gate_reworked')")


def upgrade() -> None:
    op.create_index("ix_audit_event_response", "audit_event", ["chain", "at"],
                    sqlite_where=_RESPONSES, postgresql_where=_RESPONSES)
    op.add_column("case_fact", sa.Column("system", sa.String(length=120), nullable=True))
    op.execute('UPDATE case_fact SET system = (SELECT "case".system FROM "case" WHERE "case".id = case_fact.case_id)')


def downgrade() -> None:
    with op.batch_alter_table("case_fact") as batch:
        batch.drop_column("system")
    op.drop_index("ix_audit_event_response", table_name="audit_event")
