"""A process's versions as the process pages show them, and deploying one diagram from the modeler
or one edited decision table (DMN) from the decision table editor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotFound, said
from engine.filenames import clean_filename
from engine.processes import catalog, deployment
from models import Case, ProcessDefinition, User


@dataclass
class VersionHistory:
    versions: list[ProcessDefinition]
    open_counts: dict[int, int]


@dataclass
class Deployed:
    key: str
    version: int
    unchanged: bool
    warnings: list[dict[str, Any]] = field(default_factory=list)
    status: str = "live"  # or "proposed": waiting for a second process owner (engine.cases.proposals)


# What deploys files for the modeler and the decision table editor: `deployment.deploy`, or the
# edge's choice (the pages pass engine.cases.proposals.deploy, which applies four-eyes).
Deployer = Callable[..., list[deployment.DeployResult]]


def process_versions(session: Session, key: str) -> VersionHistory:
    """List a process's versions, newest first, with how many open cases run on each."""
    versions = list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                    .order_by(ProcessDefinition.version.desc())))
    if not versions:
        catalog.get_definition(session, key)  # raises NotFound naming the process
    counts = dict(session.execute(select(Case.definition_id, func.count()).where(
        Case.process_key == key, Case.status == "open").group_by(Case.definition_id)).all())
    return VersionHistory(versions, {k: int(v) for k, v in counts.items()})


def deploy_one(session: Session, xml: bytes, *, actor: User, filename: str | None = None,
               deployer: Deployer = deployment.deploy) -> Deployed:
    """Validate and deploy one BPMN document from the modeler (errors name `filename`)."""
    if not xml.strip():
        raise InvalidData(said("the diagram is empty"), {"bpmn": [said("no XML was sent")]})
    name = clean_filename(filename or "") or "modeler.bpmn"
    if not name.endswith(".bpmn"):
        name += ".bpmn"
    results = deployer(session, [(name, xml)], actor=actor)
    result = results[0]
    # Keep the file name the process had, so downloads and evidence packs read well.
    if result.created:
        result.definition.filename = f"{result.key}.bpmn"
    return Deployed(result.key, result.version, not result.created, result.warnings, result.definition.status)


def decision_file(session: Session, key: str, version: int | None, name: str) -> tuple[ProcessDefinition, str]:
    """Return a version's DMN file by name (NotFound naming what is missing)."""
    definition = catalog.get_definition(session, key, version)
    for extra in definition.extra_files or []:
        if extra.get("filename") == name:
            return definition, str(extra.get("source", ""))
    raise NotFound(said("process %(process)s version %(version)s has no decision file %(file)s", process=key,
                        version=definition.version, file=repr(name)))


def deploy_decision(session: Session, key: str, name: str, xml: bytes, *, actor: User,
                    deployer: Deployer = deployment.deploy) -> Deployed:
    """Deploy an edited decision table with the latest version of its process, as a new version
    (the BPMN and the other files stay as they are)."""
    if not xml.strip():
        raise InvalidData(said("the decision table is empty"), {"dmn": [said("no XML was sent")]})
    definition, _source = decision_file(session, key, None, name)
    files = [(definition.filename or f"{key}.bpmn", definition.bpmn.encode())]
    files += [(str(e["filename"]), xml if e["filename"] == name else str(e["source"]).encode())
              for e in definition.extra_files or []]
    results = deployer(session, files, actor=actor)
    result = next(r for r in results if r.key == key)
    return Deployed(result.key, result.version, not result.created, result.warnings, result.definition.status)
