"""Files attached to a case (evidence, screenshots, reports), kept in the database.

Keeping the bytes in the database (not on a web server's disk) means every web process on
every machine sees the same files, and a backup of the database is a backup of the cases.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, timestamp


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # Deferred: lists of attachments never load the bytes.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Attachment {self.filename} of case {self.case_id}>"
