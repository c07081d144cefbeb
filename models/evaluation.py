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
