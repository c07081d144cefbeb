"""Installation settings stored in the database (changed by admins, read by the engine)."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Setting(Base):
    """One named setting: `four_eyes` (`on` / `off`), ..."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
