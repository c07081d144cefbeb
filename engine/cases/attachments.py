"""Files attached to a case: limits, storage and the audit record of each file's sha256.

Limits (why): 10 MB per file keeps the database and the evidence pack small; an allow-list
of document and image types keeps executables and HTML (which a browser would run) out.
The type is decided from the file name, never from what the browser claims.
"""

from __future__ import annotations

import hashlib
import mimetypes

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import queries
from engine.errors import InvalidData, NotAllowed, NotFound, said
from engine.filenames import clean_filename
from engine.records import audit
from engine.timing import clock
from models import Attachment, Case, User

MAX_BYTES = 10 * 1024 * 1024
ALLOWED_EXTENSIONS = frozenset({
    "pdf", "txt", "log", "csv", "json", "xml", "md", "png", "jpg", "jpeg", "gif", "webp",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "zip", "gz", "eml", "bpmn",
})
_TYPES = {"log": "text/plain", "md": "text/markdown", "bpmn": "application/xml", "eml": "message/rfc822",
          "webp": "image/webp"}


# A case's status as a word in a sentence (the pages' own words for it).
CASE_STATUS = {"open": said("open"), "closed": said("closed"), "cancelled": said("cancelled")}


def check_file(filename: str, content: bytes) -> str:
    """Check one file against the limits; return its content type or raise InvalidData."""
    name = clean_filename(filename)
    if not name:
        raise InvalidData(said("choose a file to attach"), {"file": [said("no file was sent")]})
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED_EXTENSIONS:
        raise InvalidData(said("%(file)s: files of this type cannot be attached", file=name),
                          {"file": [said("%(file)s: allowed types are %(types)s", file=name,
                                         types=", ".join(sorted(ALLOWED_EXTENSIONS)))]})
    if len(content) > MAX_BYTES:
        raise InvalidData(said("%(file)s is larger than %(mb)s MB", file=name, mb=MAX_BYTES // (1024 * 1024)),
                          {"file": [said("%(file)s: at most %(mb)s MB per file", file=name, mb=MAX_BYTES // (1024 * 1024))]})
    if not content:
        raise InvalidData(said("%(file)s is empty", file=name), {"file": [said("%(file)s: the file is empty", file=name)]})
    return _TYPES.get(extension) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def check_files(files: list[tuple[str, bytes, str]]) -> None:
    """Check several uploads before anything is written."""
    for filename, content, _declared in files:
        check_file(filename, content)


def add_attachment(session: Session, ref: str, filename: str, content: bytes, declared_type: str = "",
                   *, actor: User) -> Attachment:
    """Attach a file to a case the actor works on, and audit its sha256."""
    case = queries.get_case(session, ref, actor=actor)
    if case.status != "open":
        raise NotAllowed(said("%(case)s is %(status)s: files can only be attached to open cases", case=case.key,
                              status=CASE_STATUS.get(case.status, case.status)))
    if not may_attach(session, case, actor):
        raise NotAllowed(said("role: only the requester, the people who may act on %(case)s and admins may attach "
                              "files to it", case=case.key))
    content_type = check_file(filename, content)
    item = Attachment(case_id=case.id, filename=clean_filename(filename), content_type=content_type,
                      size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content,
                      uploaded_by=actor.name, uploaded_at=clock.now())
    session.add(item)
    session.flush()
    audit.append(session, case, actor=actor, type="attachment_added",
                 data={"attachment_id": item.id, "filename": item.filename, "size": item.size,
                       "content_type": content_type, "sha256": item.sha256})
    return item


def may_attach(session: Session, case: Case, actor: User) -> bool:
    """Tell whether the actor may attach files: the requester, those who may act on it, admins."""
    if case.requester_id == actor.id or "admin" in actor.group_names:
        return True
    groups = actor.group_names
    return any(t.assignee_id == actor.id or groups & set(t.candidate_groups or ())
               for t in queries.open_tasks(session, case))


def list_attachments(session: Session, case: Case) -> list[Attachment]:
    """Return a case's attachments, oldest first, without their bytes."""
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)))


def get_attachment(session: Session, ref: str, attachment_id: int, *, actor: User) -> Attachment:
    """Return one attachment of a case the actor may read."""
    case = queries.get_case(session, ref, actor=actor)
    item = session.get(Attachment, attachment_id)
    if item is None or item.case_id != case.id:
        raise NotFound(said("%(case)s has no attachment %(attachment)s", case=case.key, attachment=attachment_id))
    return item
