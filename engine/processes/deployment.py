"""Deploying process versions: validate the whole batch, then store each changed file as a new
immutable version and project its start timers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import NotAllowed, said
from engine.processes import case_facts
from engine.processes.catalog import get_definition, newest
from engine.processes.schedule import schedule_start_timers
from engine.processes.validation import source_hash, validate
from engine.records import audit
from engine.timing import clock
from models import ProcessDefinition, User

log = logging.getLogger(__name__)


@dataclass
class DeployResult:
    key: str
    version: int
    created: bool
    definition: ProcessDefinition
    warnings: list[dict[str, Any]] = field(default_factory=list)  # lint findings that do not block


def deploy(session: Session, files: list[tuple[str, bytes]], *, actor: User | None, proposed: bool = False,
           note: str = "") -> list[DeployResult]:
    """Validate and deploy BPMN/DMN files as new versions; identical source is a no-op.

    `proposed` stores the new versions for review instead of putting them live (four-eyes on
    process changes: engine.cases.proposals decides, and opens the review); `note` is the
    author's reason for the change."""
    if actor is not None and not (actor.group_names & {"process_owner", "admin"}):
        raise NotAllowed(said("role: only process owners and admins deploy processes"))
    checked = validate(session, files)
    plan: dict[str, tuple[int, bool, str]] = {}
    for item in checked:
        key, sha = item.key, source_hash(item.source, item.dmn)
        current = newest(session, key)
        if current is not None and current.sha256 == sha and current.status != "rejected":
            plan[key] = (current.version, False, sha)
        else:
            plan[key] = ((current.version if current else 0) + 1, True, sha)
    results = []
    for item in checked:
        key, filename = item.key, item.filename
        version, create, sha = plan[key]
        if not create:
            results.append(DeployResult(key, version, False, get_definition(session, key, version),
                                        list(item.warnings)))
            continue
        definition = ProcessDefinition(
            key=key, version=version, name=item.manifest.process.name, filename=filename,
            bpmn=item.source.decode("utf-8"),
            extra_files=[{"filename": n, "source": d.decode("utf-8")} for n, d, _t in item.dmn],
            sha256=sha, manifest=item.manifest.to_dict(),
            dependencies={k: (v if v is not None else plan[k][0]) for k, v in item.dependencies.items()},
            deployed_by_id=actor.id if actor is not None else None,
            deployed_by=actor.name if actor is not None else "system", deployed_at=clock.now(),
            status="proposed" if proposed else "live", change_note=note,
        )
        session.add(definition)
        session.flush()
        audit.append_system(session, actor=actor, type="process_proposed" if proposed else "process_deployed",
                            data={"key": key, "version": version, "sha256": sha, "file": filename})
        log.info("deployed %s v%s from %s", key, version, filename)
        results.append(DeployResult(key, version, True, definition, list(item.warnings)))
    # Start timers parse the stored version with what it calls: only once the whole batch is stored
    # (processes of one batch may call each other, in any order).
    for result in results:
        if result.created and not proposed:  # a proposal's start timers begin when it goes live
            schedule_start_timers(session, result.definition)
    if any(r.created for r in results):
        # A new `measure` property makes its task count for a measure in every case that did it.
        case_facts.refresh_for_roles(session, case_facts.sync_roles(session))
    return results


def deploy_directory(session: Session, folder: Path, *, actor: User | None) -> list[DeployResult]:
    """Deploy every .bpmn and .dmn file of a folder in one batch."""
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".bpmn", ".dmn"))
    return deploy(session, [(p.name, p.read_bytes()) for p in paths], actor=actor)
