"""The backup file: a two-line header, then the database itself (docs/operations.md, "The backup file").

    OPSGATE-BACKUP 1\\n
    {"format": 1, "dialect": "sqlite", "revision": "0021_...", "payload_size": ..., ...}\\n
    <payload: a SQLite database file, or a pg_dump custom-format archive>

The header says what the payload is and which schema revision it has, so a restore can refuse
the wrong kind of database and say what it restored; its size and SHA-256 catch a truncated
or damaged file before anything is written to the target database.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from engine.errors import InvalidData

MAGIC = b"OPSGATE-BACKUP 1\n"
FORMAT = 1
PAYLOADS = {"sqlite": "SQLite database file", "postgresql": "pg_dump custom-format archive"}
DIALECT_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
_HEADER_LIMIT = 64 * 1024
_CHUNK = 1024 * 1024
# How other files start, to name what was given instead of a backup.
_OTHER_KINDS = {b"SQLite format 3\x00": "a bare SQLite database file",
                b"PGDMP": "a bare pg_dump archive (restore it with pg_restore)",
                b"PK\x03\x04": "a zip file", b"\x1f\x8b": "a gzip file"}


@dataclasses.dataclass(frozen=True)
class Header:
    """What a backup holds: the kind of database, its schema revision, when, and how much."""

    dialect: str
    revision: str
    created_at: str
    payload_size: int
    payload_sha256: str
    counts: dict[str, int]
    tool: str = ""
    format: int = FORMAT

    @property
    def database_name(self) -> str:
        return DIALECT_NAMES.get(self.dialect, self.dialect)

    def summary(self) -> str:
        """One line for a person: what kind, which revision, what it holds."""
        held = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()))
        return f"{self.database_name} database at schema revision {self.revision}, made {self.created_at}: {held}"


def write(path: Path, header: Header, payload: Path) -> None:
    """Write the backup file at `path` (atomically, readable by its owner only)."""
    path = path.resolve()
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, payload.open("rb") as source:
            out.write(MAGIC)
            out.write(json.dumps(dataclasses.asdict(header), sort_keys=True).encode() + b"\n")
            shutil.copyfileobj(source, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def digest(path: Path) -> tuple[int, str]:
    """The size and SHA-256 of a file."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def read(path: Path, payload: Path) -> Header:
    """Check the backup at `path`, copy its payload to `payload` and return its header.

    Raise InvalidData, naming what is wrong, for anything that is not a whole opsgate backup."""
    try:
        source = path.open("rb")
    except OSError as err:
        raise InvalidData(f"cannot read {path}: {err.strerror}") from None
    with source:
        header = _header(path, source)
        sha, size = hashlib.sha256(), 0
        with payload.open("wb") as out:
            while chunk := source.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
                out.write(chunk)
    if size != header.payload_size or sha.hexdigest() != header.payload_sha256:
        raise InvalidData(f"{path} is truncated or damaged: its header announces {header.payload_size} bytes of "
                          f"database, the file holds {size}" + (" with other content" if size == header.payload_size
                                                               else ""))
    return header


def _header(path: Path, source: IO[bytes]) -> Header:
    first = source.readline(len(MAGIC))
    if first != MAGIC:
        kind = next((name for start, name in _OTHER_KINDS.items() if first.startswith(start)), None)
        if not first:
            kind = "an empty file"
        raise InvalidData(f"{path} is not an opsgate backup" + (f": it is {kind}" if kind else "")
                          + " (an opsgate backup is made by `opsgate backup` and starts with OPSGATE-BACKUP)")
    line = source.readline(_HEADER_LIMIT)
    try:
        fields: Any = json.loads(line)
        if not isinstance(fields, dict):
            raise ValueError("not an object")
        if fields.get("format") != FORMAT:
            raise InvalidData(f"{path} is a backup of format {fields.get('format')!r}, made by another version of "
                              f"opsgate; this one reads format {FORMAT}")
        header = Header(**fields)
        if header.dialect not in PAYLOADS or not isinstance(header.payload_size, int):
            raise ValueError(f"unknown database kind {header.dialect!r}")
    except (ValueError, TypeError) as err:
        raise InvalidData(f"{path} is damaged: its header cannot be read ({err})") from None
    return header
