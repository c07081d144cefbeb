"""Back up the whole database to one file, and restore such a file into an empty database.

Everything opsgate keeps is in the database, attachments included (models.attachment), so the
file is the installation's data. These work on the engine, not a session: a backup reads one
consistent snapshot of every table, a restore fills an empty database in one piece.
"""
from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, inspect

from engine import db
from engine.backups import archive, postgres, sqlite
from engine.backups.archive import Header
from engine.errors import Conflict, EngineError, InvalidData
from engine.timing import clock

# What a header counts, for the person who restores it to recognise their data.
COUNTED = {"cases": 'SELECT count(*) FROM "case"', "attachments": "SELECT count(*) FROM attachment",
           "audit events": "SELECT count(*) FROM audit_event", "users": 'SELECT count(*) FROM "user"'}
REVISION = "SELECT version_num FROM alembic_version"


@dataclasses.dataclass(frozen=True)
class Restored:
    """What a restore put in the database, and the revision it upgraded the schema to (if any)."""

    header: Header
    upgraded_to: str | None


def backup_database(engine: Engine, path: Path) -> Header:
    """Write the database behind `engine` to the backup file `path`; return its header."""
    dialect = _dialect(engine)
    if "alembic_version" not in inspect(engine).get_table_names():
        raise EngineError(f"nothing to back up: {_where(engine)} has no opsgate schema (`opsgate init` makes one)")
    try:
        with tempfile.TemporaryDirectory(dir=path.resolve().parent, prefix=".opsgate-backup-") as folder:
            payload = Path(folder) / "payload"
            if dialect == "sqlite":
                sqlite.dump(engine, payload)
                revision, counts = _describe(lambda sql: sqlite.scalar(payload, sql))
                made_by = f"sqlite3 {sqlite3.sqlite_version}"
            else:
                with postgres.snapshot(engine) as (connection, snapshot_id):
                    revision, counts = _describe(postgres.counter(connection))
                    postgres.dump(engine, payload, snapshot_id)
                made_by = postgres.version("pg_dump")
            size, sha256 = archive.digest(payload)
            header = Header(dialect=dialect, revision=revision, created_at=_now(), payload_size=size,
                            payload_sha256=sha256, counts=counts, tool=made_by)
            archive.write(path, header, payload)
    except OSError as err:
        raise EngineError(f"cannot write {path}: {err.strerror or err}") from None
    return header


def restore_database(engine: Engine, path: Path) -> Restored:
    """Fill the empty database behind `engine` from the backup file `path`, then bring its schema
    up to this code's revision. Refuse a database that has any table, touching nothing."""
    dialect = _dialect(engine)
    tables = sorted(inspect(engine).get_table_names())
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise Conflict(f"{_where(engine)} is not empty ({len(tables)} tables: {shown}); restore only into an "
                       f"empty database (a new SQLite file, or a database made with createdb); nothing was changed")
    with tempfile.TemporaryDirectory(prefix="opsgate-restore-") as folder:
        payload = Path(folder) / "payload"
        header = archive.read(path, payload)
        if header.dialect != dialect:
            raise InvalidData(f"{path} holds a {header.database_name} database and the target is "
                              f"{archive.DIALECT_NAMES[dialect]}: restore it into a {header.database_name} "
                              f"database (--database-url); nothing was changed")
        if not db.known_revision(header.revision):
            raise InvalidData(f"{path} was made by a newer opsgate (schema revision {header.revision} is unknown "
                              f"here): upgrade opsgate, then restore; nothing was changed")
        if dialect == "sqlite":
            sqlite.check(payload)
            sqlite.load(engine, payload)
        else:
            postgres.check(payload)
            postgres.load(engine, payload)
    with engine.connect() as connection:
        current, heads = db.schema_revisions(connection)
    if current == heads:
        return Restored(header, None)
    db.upgrade(engine)
    return Restored(header, ", ".join(sorted(heads)))


def _dialect(engine: Engine) -> str:
    if engine.dialect.name not in archive.PAYLOADS:
        raise EngineError(f"backups are made of SQLite and PostgreSQL databases, not {engine.dialect.name}")
    return engine.dialect.name


def _describe(read: Callable[[str], object]) -> tuple[str, dict[str, int]]:
    return str(read(REVISION)), {what: int(str(read(sql))) for what, sql in COUNTED.items()}


def _where(engine: Engine) -> str:
    return f"the database {engine.url.render_as_string(hide_password=True)}"


def _now() -> str:
    return clock.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
