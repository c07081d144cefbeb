"""A month's ended cases counted by the parts of the measures' conditions, kept as cases end.

* case_fact_month: per month (a case counts in the month it was opened in and the one it was
  closed in), the fact rows counted by the columns the measures compare with constants and by
  one integer of flags (opened, closed, done by the month's end, and the comparisons with the SLA
  targets), with the sums of their response hours and ratings. The nullable columns are stored
  as '' / false with a bit each in `nulls`, so the upsert that counts an ended case finds its row.
* case_fact_target: the SLA targets those comparisons used; the evaluation reads the summary only
  with a configuration that has the same (engine.processes.fact_summary).
* case_fact_state.summarized: whether the summary counts every fact row.

The summary is built here from the facts already written, with the shipped configuration's
targets (engine/evaluation/config.toml as this revision knows it), when the facts are complete;
`opsgate init` rebuilds it for another configuration's targets. Until the facts are complete it
is left unkept, and `opsgate init` builds it after writing them.

Revision ID: 0022_case_fact_month
Revises: 0021_inbox_without_history
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0022_case_fact_month"
down_revision = "0021_inbox_without_history"
branch_labels = None
depends_on = None

# The shipped configuration's [sla] targets as this revision knows them (fact_summary.target_rows).
_TARGETS = [
    ("dispatch", "service_request", 24.0), ("recovery", "", 2.0),
    ("resolve", "P1", 2.0), ("resolve", "P2", 8.0), ("resolve", "P3", 24.0), ("resolve", "P4", 72.0),
    ("resolve_default", "", 24.0),
    ("response", "P1", 0.25), ("response", "P2", 0.5), ("response", "P3", 2.0), ("response", "P4", 4.0),
    ("response_default", "", 2.0), ("revocation", "", 24.0),
]
_KEYS = ("provider", "process_key", "outcome", "source", "escalated", "reopened", "has_records",
         "carries_records", "restore_verified")
_NULLABLE = ("provider", "outcome", "source", "restore_verified")

_fact = sa.table(
    "case_fact", *(sa.column(n) for n in ("provider", "process_key", "outcome", "source", "escalated", "reopened",
                                           "has_records", "carries_records", "restore_verified", "status",
                                           "priority", "sla_paused_seconds", "sla_hours", "rating")),
    sa.column("created_at", UTCDateTime()), sa.column("closed_at", UTCDateTime()),
    sa.column("responded_at", UTCDateTime()), *(sa.column(n, sa.Float()) for n in (
        "response_hours", "resolution_hours", "recovery_hours", "revocation_hours")))
_target = sa.table("case_fact_target", sa.column("kind"), sa.column("key"), sa.column("hours"))


def _hours(kind: str, key: object) -> sa.ScalarSelect:
    return sa.select(_target.c.hours).where(_target.c.kind == kind, _target.c.key == key).scalar_subquery()


def _month_select(label: str, start: dt.datetime, end: dt.datetime) -> sa.Select:
    """engine.processes.fact_summary._summary_select of this revision, for one month."""
    c = _fact.c
    worked = c.resolution_hours - c.sla_paused_seconds / 3600.0
    flags = [
        sa.and_(c.created_at >= start, c.created_at < end),
        sa.and_(c.status == "closed", c.closed_at >= start, c.closed_at < end),
        sa.and_(c.status == "closed", c.closed_at < end),
        c.responded_at.is_not(None),
        c.rating.is_not(None),
        sa.and_(c.responded_at.is_not(None), c.response_hours <= sa.func.coalesce(
            _hours("response", c.priority), _hours("response_default", ""))),
        worked <= sa.func.coalesce(_hours("resolve", c.priority), _hours("resolve_default", "")),
        c.recovery_hours <= _hours("recovery", ""),
        c.revocation_hours <= _hours("revocation", ""),
        worked <= sa.func.coalesce(c.sla_hours, _hours("dispatch", c.process_key)),
    ]
    flag_value = sum((sa.case((f, 1 << i), else_=0) for i, f in enumerate(flags)), sa.literal(0))
    nulls = sum((sa.case((c[n].is_(None), 1 << i), else_=0) for i, n in enumerate(_NULLABLE)), sa.literal(0))
    keys = [sa.func.coalesce(c[n], sa.false() if n == "restore_verified" else "").label(n) if n in _NULLABLE
            else c[n] for n in _KEYS]
    window = sa.or_(sa.and_(c.created_at >= start, c.created_at < end), sa.and_(c.closed_at >= start, c.closed_at < end))
    return (sa.select(sa.literal(label).label("month"), *keys, flag_value.label("flags"), nulls.label("nulls"),
                      sa.func.count().label("weight"), sa.func.sum(c.response_hours).label("response_hours"),
                      sa.func.sum(c.rating).label("rating"))
            .where(window).group_by(*keys, flag_value, nulls))


def upgrade() -> None:
    op.add_column("case_fact_state", sa.Column("summarized", sa.Boolean(), nullable=False, server_default=sa.false()))
    target = op.create_table(
        "case_fact_target",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_case_fact_target")),
        sqlite_with_rowid=False,
    )
    month = op.create_table(
        "case_fact_month",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("provider", sa.String(length=120), nullable=False),
        sa.Column("process_key", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("escalated", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reopened", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("has_records", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("carries_records", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("restore_verified", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("nulls", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("response_hours", sa.Float(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("month", "provider", "process_key", "outcome", "source", "escalated", "reopened",
                                "has_records", "carries_records", "restore_verified", "flags", "nulls",
                                name=op.f("pk_case_fact_month")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT complete FROM case_fact_state WHERE id = 1")).scalar():
        return  # opsgate init writes the facts, then the summary
    op.bulk_insert(target, [{"kind": k, "key": key, "hours": h} for k, key, h in _TARGETS])
    c = _fact.c
    first, last_open, last_close = bind.execute(
        sa.select(sa.func.min(c.created_at), sa.func.max(c.created_at), sa.func.max(c.closed_at))).one()
    if first is not None:
        last = max(last_open, last_close or last_open)
        year, number = first.year, first.month
        while (year, number) <= (last.year, last.month):
            start = dt.datetime(year, number, 1, tzinfo=dt.timezone.utc)
            year, number = year + number // 12, number % 12 + 1
            end = dt.datetime(year, number, 1, tzinfo=dt.timezone.utc)
            bind.execute(month.insert().from_select([col.name for col in month.c],
                                                    _month_select(f"{start.year:04d}-{start.month:02d}", start, end)))
    op.execute("UPDATE case_fact_state SET summarized = true WHERE id = 1")


def downgrade() -> None:
    op.drop_table("case_fact_month")
    op.drop_table("case_fact_target")
    with op.batch_alter_table("case_fact_state") as batch:
        batch.drop_column("summarized")
