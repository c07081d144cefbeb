"""The deployed versions of the processes: find one, the latest, or list them; where the shipped pack lives."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
