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
from engine.errors import InvalidData, NotAllowed, NotFound
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


def check_file(filename: str, content: bytes) -> str:
    """Check one file against the limits; return its content type or raise InvalidData."""
    name = clean_filename(filename)
    if not name:
        raise InvalidData("choose a file to attach", {"file": ["no file was sent"]})
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED_EXTENSIONS:
        raise InvalidData(f"{name or 'the file'}: files of this type cannot be attached",
                          {"file": [f"{name}: allowed types are {', '.join(sorted(ALLOWED_EXTENSIONS))}"]})
    if len(content) > MAX_BYTES:
        raise InvalidData(f"{name} is larger than {MAX_BYTES // (1024 * 1024)} MB",
                          {"file": [f"{name}: at most {MAX_BYTES // (1024 * 1024)} MB per file"]})
    if not content:
        raise InvalidData(f"{name} is empty", {"file": [f"{name}: the file is empty"]})
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
        raise NotAllowed(f"{case.key} is {case.status}: files can only be attached to open cases")
    if not may_attach(session, case, actor):
        raise NotAllowed(f"role: only the requester, the people who may act on {case.key} and admins "
                         "may attach files to it")
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
        raise NotFound(f"{case.key} has no attachment {attachment_id}")
    return item
