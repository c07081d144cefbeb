"""Revocable sessions, token expiry and scope, and the sign-in throttle (issue 13).

* user.session_epoch: bumped at logout, password change and deactivation; a browser session
  carries the epoch it began in and ends when they differ.
* api_token.expires_at (NULL: never) and api_token.scope ("all", or "read" for GET only).
* login_throttle: failed sign-ins counted per account and per client address in a window (the
  security log): anonymous failures no longer grow the audit chain one event each; a lock is
  audited once. Rows of ended windows are pruned.

Revision ID: 0018_sessions_tokens_throttle
Revises: 0017_case_facts
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0018_sessions_tokens_throttle"
down_revision = "0017_case_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user", sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("api_token", sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.add_column("api_token", sa.Column("scope", sa.String(length=10), nullable=False, server_default="all"))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locks", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index("ix_login_throttle_window_start", "login_throttle", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_window_start", table_name="login_throttle")
    op.drop_table("login_throttle")
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch copy of "user" would drop the table,
    # which SQLite refuses while other rows point at it.
    for table, column in (("api_token", "scope"), ("api_token", "expires_at"), ("user", "session_epoch")):
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN {column}')
