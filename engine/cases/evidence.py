"""The evidence pack of a case: one zip an auditor can keep and check offline.

Contents: ``events.json`` (every audit event of the case with its prev_hash and hash),
``process/<file>`` (the exact BPMN, and DMN, version the case ran on, whose sha256 is in the
manifest), ``attachments.json`` (each attached file's name, size, type and sha256; the
files themselves stay in opsgate, their hashes prove which ones they were),
``manifest.json`` (case facts, the chain check at export time, a sha256 of every file
in the pack) and ``README.txt`` (how to check it).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import queries
from engine.filenames import clean_filename
from engine.records import audit
from engine.timing import clock
from models import Attachment, AuditEvent, User

README = """Evidence pack for {key}, exported {at} by {by}.

events.json      the case's audit events, oldest first; each event's hash covers the event
                 and the previous event's hash (prev_hash), so changing or removing one
                 breaks every later link. `opsgate audit verify --case {key}` recomputes it.
process/         the BPMN (and DMN) source of {process} version {version}; its sha256 is
                 {sha256}.
attachments.json the files attached to the case, with their sha256 (the same hashes are in
                 the attachment_added events).
manifest.json    the case facts, the chain check made at export, and the sha256 of every
                 file in this pack.
"""


@dataclass(frozen=True)
class EvidencePack:
    """A built evidence pack."""

    filename: str
    content: bytes


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str).encode()


def build_evidence_pack(session: Session, ref: str, *, actor: User) -> EvidencePack:
    """Build the evidence pack of a case the actor may read."""
    case = queries.get_case(session, ref, actor=actor)
    definition = case.definition
    events = session.scalars(select(AuditEvent).where(AuditEvent.chain == case.key).order_by(AuditEvent.seq))
    event_rows = [{"seq": e.seq, "at": _iso(e.at), "actor": e.actor, "type": e.type, "task": e.task,
                   "data": e.data, "prev_hash": e.prev_hash, "hash": e.hash} for e in events]
    files_attached = session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))
    attachment_rows = [{"id": a.id, "filename": a.filename, "size": a.size, "content_type": a.content_type,
                        "sha256": a.sha256, "uploaded_by": a.uploaded_by, "uploaded_at": _iso(a.uploaded_at)}
                       for a in files_attached]
    check = audit.verify(session, case)
    now = clock.now()

    files: dict[str, bytes] = {
        "events.json": _dump(event_rows),
        "attachments.json": _dump(attachment_rows),
        f"process/{clean_filename(definition.filename or '') or definition.key + '.bpmn'}": definition.bpmn.encode(),
    }
    for extra in definition.extra_files or []:
        files[f"process/{clean_filename(str(extra['filename'])) or 'decision.dmn'}"] = extra["source"].encode()
    files["README.txt"] = README.format(key=case.key, at=now.isoformat(), by=actor.name, process=definition.key,
                                        version=definition.version, sha256=definition.sha256).encode()
    manifest = {
        "case": {"key": case.key, "title": case.title, "status": case.status, "outcome": case.outcome,
                 "requester": case.requester.name if case.requester else None,
                 "created_at": _iso(case.created_at), "closed_at": _iso(case.closed_at)},
        "process": {"key": definition.key, "version": definition.version, "name": definition.name,
                    "sha256": definition.sha256, "deployed_at": _iso(definition.deployed_at),
                    "deployed_by": definition.deployed_by},
        "chain": {**check.to_dict(),
                  "head": case.audit_head, "events": len(event_rows)},
        "exported_at": now.isoformat(),
        "exported_by": actor.name,
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", _dump(manifest))
        for name, content in sorted(files.items()):
            archive.writestr(name, content)
    return EvidencePack(filename=f"{case.key}-evidence.zip", content=buffer.getvalue())
