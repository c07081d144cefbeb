"""Descriptive models (#16): BPMN kept as documentation, drawn, clearly not executable, never run.

Process owners bring diagrams that describe work rather than drive it (the OMG MIWG reference
models, Signavio and ARIS exports, a pool of a partner's process). Deploy refuses them ("no
executable process", a gateway without conditions ...); uploaded here instead, such a file is
stored as it is and listed and drawn as documentation, together with why the engine would not
run it: the deploy check's own findings, so the owner knows what to change to make it executable.

Any BPMN 2.0 file that is safe, well-formed XML is accepted (no XSD or engine check: a model
drawn for people needs neither). The same file (by sha256) is stored once.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidDefinition, NotAllowed, NotFound, said
from engine.processes import bpmn_xml, scripting, validation
from engine.records import audit
from engine.timing import clock
from models import DescriptiveModel, User

log = logging.getLogger(__name__)

MAX_REASONS = 20


def _name(tree: etree._ElementTree, filename: str) -> str:
    root = tree.getroot()
    for path in ("//bpmn:collaboration/@name", "//bpmn:process/@name", "//bpmn:participant/@name", "/*/@name"):
        found = [str(v).strip() for v in root.xpath(path, namespaces=bpmn_xml.NS) if str(v).strip()]
        if found:
            return " ".join(found[0].split())[:200]
    return filename.rsplit(".", 1)[0][:200] or filename


def why_not_executable(session: Session, filename: str, source: bytes) -> list[dict[str, Any]]:
    """What the deploy check says about a file (empty: it would deploy)."""
    try:
        validation.validate(session, [(filename, source)])
    except InvalidDefinition as err:
        details = err.details if isinstance(err.details, list) else []
        return [{"element_id": d.get("element_id"), "line": d.get("line"), "message": d.get("message")}
                for d in details[:MAX_REASONS]]
    return []


def said_reasons(session: Session, model: DescriptiveModel) -> list[dict[str, Any]]:
    """A model's reasons with each message sayable in the reader's language (engine.errors.Said).

    The stored reasons keep only the English (the API answers them as they are); the deploy check
    is run again and its findings are taken when they are exactly the stored ones, else the stored
    English is kept (groups or called processes changed since the upload). One check of the file:
    measured 1 to 12 ms of CPU (median 3 ms) on the 21 MIWG reference models of tests/data/miwg
    (7 to 241 KB, load average 0.5), so a page only a reader of another language asks for pays it."""
    stored = list(model.reasons or [])
    if not stored:
        return stored
    fresh = why_not_executable(session, model.filename, model.bpmn.encode("utf-8"))
    return fresh if fresh == stored else stored


def save_model(session: Session, filename: str, source: bytes, *, actor: User | None) -> tuple[DescriptiveModel, bool]:
    """Keep a BPMN file as a descriptive model; return it and whether it is new (identical source: the stored one)."""
    if actor is not None and not (actor.group_names & {"process_owner", "admin"}):
        raise NotAllowed(said("role: only process owners and admins upload models"))
    filename = validation.safe_name(filename)
    try:
        tree = bpmn_xml.parse_xml(source)
        if bpmn_xml.kind_of(tree) != "bpmn":
            raise bpmn_xml.XmlProblem(said("a DMN file is not a BPMN model: upload the BPMN diagram"), 1)
        source = bpmn_xml.as_utf8(source, tree)
    except bpmn_xml.XmlProblem as err:
        message = scripting.why(err)
        raise InvalidDefinition(said("%(where)s: %(message)s", where=filename, message=message),
                                [{"file": filename, "element_id": None, "line": err.line, "message": message}]) from None
    sha = hashlib.sha256(source).hexdigest()
    existing = session.scalars(select(DescriptiveModel).where(DescriptiveModel.sha256 == sha)).first()
    if existing is not None:
        return existing, False
    model = DescriptiveModel(name=_name(tree, filename), filename=filename, bpmn=source.decode("utf-8"), sha256=sha,
                             reasons=why_not_executable(session, filename, source),
                             uploaded_by_id=actor.id if actor is not None else None,
                             uploaded_by=actor.name if actor is not None else "system", uploaded_at=clock.now())
    session.add(model)
    session.flush()
    audit.append_system(session, actor=actor, type="model_uploaded",
                        data={"model": model.id, "name": model.name, "file": filename, "sha256": sha})
    log.info("descriptive model %s stored from %s", model.id, filename)
    return model, True


def list_models(session: Session) -> list[DescriptiveModel]:
    """Every descriptive model, newest first."""
    return list(session.scalars(select(DescriptiveModel).order_by(DescriptiveModel.uploaded_at.desc(),
                                                                  DescriptiveModel.id.desc())))


def get_model(session: Session, model_id: int) -> DescriptiveModel:
    """One descriptive model (NotFound when there is none)."""
    model = session.get(DescriptiveModel, model_id)
    if model is None:
        raise NotFound(said("no descriptive model %(model)s", model=model_id))
    return model
