"""The deployed versions of the processes: find one, the latest, or list them; where the shipped pack lives."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import memo
from engine.errors import NotFound, said
from models import ProcessDefinition


def workflows_dir() -> Path:
    """Return the shipped process pack folder (source checkout or installed data files)."""
    here = Path(__file__).resolve().parents[2] / "workflows"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "opsgate" / "workflows"


LIVE = "live"


def latest(session: Session, key: str) -> ProcessDefinition | None:
    """Return the newest live version of a process (the one new cases start on), or None.

    Versions a process owner proposed and nobody approved yet, or that were rejected, are not
    live (engine.cases.proposals)."""
    return session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                           ProcessDefinition.status == LIVE)
                           .order_by(ProcessDefinition.version.desc()).limit(1)).first()


def newest(session: Session, key: str) -> ProcessDefinition | None:
    """Return the newest version of a process whatever its status (version numbers count from it)."""
    return session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                           .order_by(ProcessDefinition.version.desc()).limit(1)).first()


def get_definition(session: Session, key: str, version: int | None = None) -> ProcessDefinition:
    """Return a deployed version (the latest live one without `version`) or raise NotFound."""
    if version is None:
        found = latest(session, key)
    else:
        found = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
    if found is None:
        if version:
            raise NotFound(said("no process %(process)s version %(version)s", process=repr(key), version=version))
        raise NotFound(said("no process %(process)s", process=repr(key)))
    return found


def list_definitions(session: Session) -> list[ProcessDefinition]:
    """Return the latest live version of every deployed process, by key."""
    live = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
            .where(ProcessDefinition.status == LIVE).group_by(ProcessDefinition.key).subquery())
    return list(session.scalars(select(ProcessDefinition).join(
        live, (ProcessDefinition.key == live.c.key) & (ProcessDefinition.version == live.c.v))
        .order_by(ProcessDefinition.key)))


def _read_versions(session: Session, definition_ids: list[int]) -> dict[int, int]:
    return dict(session.execute(select(ProcessDefinition.id, ProcessDefinition.version)
                                .where(ProcessDefinition.id.in_(definition_ids))).all())


_versions = memo.memo(_read_versions)


def version_of(session: Session, definition_id: int) -> int:
    """Return a deployed version's number by its row id (read once per process: versions are immutable)."""
    version = _versions.get(session, definition_id)
    if version is None:
        raise NotFound(said("no process definition #%(id)s", id=definition_id))
    return version
