"""Descriptive BPMN models: diagrams kept as documentation, never run (#16)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, json_data, timestamp


class DescriptiveModel(Base):
    """An uploaded BPMN file shown as a diagram and marked "not executable"; nothing runs it."""

    __tablename__ = "descriptive_model"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    bpmn: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # Why the engine would not run it: [{element_id, line, message}] (the deploy check's first findings).
    reasons: Mapped[json_data]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_by: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[timestamp]
