"""Provider evaluation: supervisor inputs, configuration versions, published scorecards."""
from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, intpk, json_data, timestamp
from .provider import Provider


class EvaluationInput(Base):
    """What the supervisor entered for one provider and month (the figures no process records).

    `values` maps the configuration's input keys to numbers; a key left out is "no data".
    Every change is also an audit event on the "evaluation" chain.
    """

    __tablename__ = "evaluation_input"
    __table_args__ = (UniqueConstraint("provider_id", "period"),)

    id: Mapped[intpk]
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    values: Mapped[json_data]
    comment: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[str] = mapped_column(String(120))
    entered_at: Mapped[timestamp]
    revision: Mapped[int] = mapped_column(default=1)

    provider: Mapped[Provider] = relationship(lazy="joined")


class EvaluationConfigVersion(Base):
    """A configuration file as it was when first used, so any scorecard can be re-explained."""

    __tablename__ = "evaluation_config_version"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[timestamp]
    recorded_by: Mapped[str] = mapped_column(String(120))


class EvaluationScorecard(Base):
    """A published monthly scorecard (the month's figures as reported to the provider)."""

    __tablename__ = "evaluation_scorecard"
    __table_args__ = (Index("ix_evaluation_scorecard_provider_period", "provider_id", "period"),)

    id: Mapped[intpk]
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    config_version: Mapped[str] = mapped_column(String(40))
    config_sha256: Mapped[str] = mapped_column(ForeignKey("evaluation_config_version.sha256"))
    total: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10))
    result: Mapped[json_data]
    published_by: Mapped[str] = mapped_column(String(120))
    published_at: Mapped[timestamp]
    rectification_case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))

    provider: Mapped[Provider] = relationship(lazy="joined")


class MeasureRole(Base):
    """A task element standing for a measure's role (resolution, recovery, revocation, escalation,
    confirmation): the shipped pack's ids and every `measure` property a deployed version
    declares. Kept by deploys, so the facts written when a case ends read the roles in SQL."""

    __tablename__ = "measure_role"
    __table_args__ = {"sqlite_with_rowid": False}

    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    element: Mapped[str] = mapped_column(String(200), primary_key=True)


class CaseFact(Base):
    """What the provider evaluation reads of a case that has ended, written in the transaction
    that ends it (engine.processes.case_facts): its columns, the data fields the measures read,
    its required-records verdict and the times and flags from its audit events. A month's
    evaluation reads these rows instead of every case's events; open cases are read live."""

    __tablename__ = "case_fact"
    __table_args__ = (Index("ix_case_fact_created_at", "created_at"),
                      Index("ix_case_fact_closed_at", "closed_at"))

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str | None] = mapped_column(String(120))
    process_key: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[timestamp]
    closed_at: Mapped[timestamp | None]
    sla_paused_seconds: Mapped[int] = mapped_column(default=0)
    source: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    sla_hours: Mapped[float | None] = mapped_column(Float)
    restore_verified: Mapped[bool | None]
    has_records: Mapped[int]
    carries_records: Mapped[int]
    responded_at: Mapped[timestamp | None]
    resolved_at: Mapped[timestamp | None]
    recovered_at: Mapped[timestamp | None]
    revoked_at: Mapped[timestamp | None]
    escalated: Mapped[int]
    reopened: Mapped[int]
    response_hours: Mapped[float | None] = mapped_column(Float)
    resolution_hours: Mapped[float | None] = mapped_column(Float)
    recovery_hours: Mapped[float | None] = mapped_column(Float)
    revocation_hours: Mapped[float | None] = mapped_column(Float)
    cycle_hours: Mapped[float | None] = mapped_column(Float)
    # The case's system, for the service-desk hot spots (migration 0020).
    system: Mapped[str | None] = mapped_column(String(120))


class CaseFactState(Base):
    """One row: whether every ended case has its case_fact row (set by the migration on a
    database with no ended case, or by `case_facts.rebuild`); until then the evaluation
    computes every month from the events, as before the facts existed."""

    __tablename__ = "case_fact_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    complete: Mapped[bool] = mapped_column(default=False)
    # Whether case_fact_month counts every fact row, with the targets of case_fact_target
    # (engine.processes.fact_summary; migration 0022).
    summarized: Mapped[bool] = mapped_column(default=False)


class CaseFactTarget(Base):
    """A target the month summary (case_fact_month) compared its cases' hours with: the evaluation
    configuration's SLA targets when the summary was built (engine.processes.fact_summary). `kind`
    is response / resolve (by priority in `key`), response_default / resolve_default, recovery,
    revocation (key ''), or dispatch (by process key)."""

    __tablename__ = "case_fact_target"
    __table_args__ = {"sqlite_with_rowid": False}

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    hours: Mapped[float] = mapped_column(Float)


class CaseFactMonth(Base):
    """The ended cases of a month (opened or closed in it) counted by the parts of the measures'
    conditions: one row per combination, kept by the transaction that writes a case's fact row
    (engine.processes.fact_summary). The nullable parts are stored as '' / false with a bit each in
    `nulls` (a NULL would never match in the upsert's key)."""

    __tablename__ = "case_fact_month"
    __table_args__ = {"sqlite_with_rowid": False}

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    provider: Mapped[str] = mapped_column(String(120), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    escalated: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reopened: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    has_records: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    carries_records: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    restore_verified: Mapped[bool] = mapped_column(primary_key=True)
    flags: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    nulls: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    weight: Mapped[int]
    response_hours: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[float | None] = mapped_column(Float)
