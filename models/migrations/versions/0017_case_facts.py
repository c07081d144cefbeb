"""What the provider evaluation reads of ended cases, stored once (case_fact), the task
elements that stand for each measure's role (measure_role), and an index of open cases by
creation time.

measure_role gets the shipped pack's ids and every `measure` property of the versions already
deployed. case_fact rows are written when a case ends; for the cases that ended before this
revision, `opsgate init` (engine.processes.case_facts.rebuild) writes them. Until it has,
case_fact_state says the facts are not complete and the evaluation reads the events as before,
so no figure changes in between. A database with no ended case is complete at once.

Revision ID: 0017_case_facts
Revises: 0016_delegation
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0017_case_facts"
down_revision = "0016_delegation"
branch_labels = None
depends_on = None

# engine.processes.case_facts.DEFAULT_ROLES as this revision knows them.
DEFAULT_ROLES = {
    "resolution": ("resolve", "resolve_incident", "resolution"),
    "recovery": ("recover", "recover_service", "recovery"),
    "revocation": ("revoke", "revoke_accounts", "revoke_access"),
    "escalation": ("escalate", "call_experts", "escalate_revocation"),
    "confirmation": ("confirm_resolution",),
}
_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    role = op.create_table(
        "measure_role",
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("element", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("role", "element", name=op.f("pk_measure_role")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_fact",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=120), nullable=True),
        sa.Column("process_key", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("sla_paused_seconds", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("sla_hours", sa.Float(), nullable=True),
        sa.Column("restore_verified", sa.Boolean(), nullable=True),
        sa.Column("has_records", sa.Integer(), nullable=False),
        sa.Column("carries_records", sa.Integer(), nullable=False),
        sa.Column("responded_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("recovered_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("escalated", sa.Integer(), nullable=False),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("response_hours", sa.Float(), nullable=True),
        sa.Column("resolution_hours", sa.Float(), nullable=True),
        sa.Column("recovery_hours", sa.Float(), nullable=True),
        sa.Column("revocation_hours", sa.Float(), nullable=True),
        sa.Column("cycle_hours", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_case_fact_case_id_case"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_fact")),
    )
    op.create_index("ix_case_fact_created_at", "case_fact", ["created_at"])
    op.create_index("ix_case_fact_closed_at", "case_fact", ["closed_at"])
    state = op.create_table(
        "case_fact_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_fact_state")),
    )
    op.create_index("ix_case_open_created_at", "case", ["created_at"], sqlite_where=_OPEN, postgresql_where=_OPEN)

    bind = op.get_bind()
    roles = {(r, e) for r, ids in DEFAULT_ROLES.items() for e in ids}
    for (raw,) in bind.execute(sa.text("SELECT manifest FROM process_definition")):
        manifest = json.loads(raw) if isinstance(raw, str) else (raw or {})
        for element, rules in (manifest.get("tasks") or {}).items():
            measure = (rules or {}).get("measure")
            if measure in DEFAULT_ROLES:
                roles.add((measure, element))
    op.bulk_insert(role, [{"role": r, "element": e} for r, e in sorted(roles)])
    ended = bind.execute(sa.text("SELECT count(*) FROM \"case\" WHERE status <> 'open'")).scalar()
    op.bulk_insert(state, [{"id": 1, "complete": not ended}])


def downgrade() -> None:
    op.drop_index("ix_case_open_created_at", table_name="case")
    op.drop_table("case_fact_state")
    op.drop_index("ix_case_fact_closed_at", table_name="case_fact")
    op.drop_index("ix_case_fact_created_at", table_name="case_fact")
    op.drop_table("case_fact")
    op.drop_table("measure_role")
