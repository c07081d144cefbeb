"""Operations service providers and the systems each is responsible for."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, intpk, name_str, timestamp


class Provider(Base):
    __tablename__ = "provider"

    id: Mapped[intpk]
    name: Mapped[name_str] = mapped_column(unique=True)
    created_at: Mapped[timestamp]

    systems: Mapped[list[ProviderSystem]] = relationship(
        back_populates="provider", lazy="selectin", cascade="all, delete-orphan",
        order_by="ProviderSystem.system",
    )


class ProviderSystem(Base):
    __tablename__ = "provider_system"

    id: Mapped[intpk]
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(120), unique=True)

    provider: Mapped[Provider] = relationship(back_populates="systems")
