"""The deployed versions of the processes: find one, the latest, or list them; where the shipped pack lives."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import memo
from engine.errors import NotFound
from models import ProcessDefinition


def workflows_dir() -> Path:
    """Return the shipped process pack folder (source checkout or installed data files)."""
    here = Path(__file__).resolve().parents[2] / "workflows"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "opsgate" / "workflows"


def latest(session: Session, key: str) -> ProcessDefinition | None:
    """Return the newest version of a process, or None."""
    return session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                           .order_by(ProcessDefinition.version.desc()).limit(1)).first()


def get_definition(session: Session, key: str, version: int | None = None) -> ProcessDefinition:
    """Return a deployed version (the latest without `version`) or raise NotFound."""
    if version is None:
        found = latest(session, key)
    else:
        found = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
    if found is None:
        raise NotFound(f"no process {key!r}" + (f" version {version}" if version else ""))
    return found


def list_definitions(session: Session) -> list[ProcessDefinition]:
    """Return the latest version of every deployed process, by key."""
    newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    return list(session.scalars(select(ProcessDefinition).join(
        newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v))
        .order_by(ProcessDefinition.key)))


def _read_version(session: Session, definition_id: int) -> int:
    version = session.scalar(select(ProcessDefinition.version).where(ProcessDefinition.id == definition_id))
    if version is None:
        raise NotFound(f"no process definition #{definition_id}")
    return version


_versions = memo.memo(_read_version)


def version_of(session: Session, definition_id: int) -> int:
    """Return a deployed version's number by its row id (read once per process: versions are immutable)."""
    return _versions.get(session, definition_id)
