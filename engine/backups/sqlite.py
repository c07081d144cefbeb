"""SQLite: copy the database with SQLite's online backup API, while the server may be writing.

The backup API copies every page under one read transaction, so the copy is one consistent
instant of the database (WAL mode lets writers go on meanwhile). The copy is a plain SQLite
file; a restore checks it (`PRAGMA quick_check`) and copies it into the empty target the same way.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from engine.errors import InvalidData


def dump(engine: Engine, target: Path) -> None:
    """Copy the live database behind `engine` into a new SQLite file at `target`."""
    connection = engine.raw_connection()
    try:
        copy = sqlite3.connect(target)
        try:
            connection.driver_connection.backup(copy)  # type: ignore[union-attr]
        finally:
            copy.close()
    finally:
        connection.close()


def check(payload: Path) -> None:
    """Raise InvalidData unless `payload` is a sound SQLite database with an opsgate schema."""
    try:
        source = sqlite3.connect(f"file:{payload}?mode=ro", uri=True)
        try:
            verdict = source.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            source.close()
    except sqlite3.DatabaseError as err:
        raise InvalidData(f"the backup's database cannot be read by SQLite ({err})") from None
    if verdict != "ok":
        raise InvalidData(f"the backup's database is damaged (SQLite's check says: {verdict})")
    if "alembic_version" not in tables:
        raise InvalidData("the backup's database has no opsgate schema (no alembic_version table)")


def load(engine: Engine, payload: Path) -> None:
    """Copy the checked SQLite file `payload` into the (empty) database behind `engine`."""
    source = sqlite3.connect(f"file:{payload}?mode=ro", uri=True)
    try:
        connection = engine.raw_connection()
        try:
            source.backup(connection.driver_connection)  # type: ignore[arg-type]
        finally:
            connection.close()
    finally:
        source.close()
    engine.dispose()  # pooled connections opened before the copy hold the empty file's schema


def scalar(path: Path, sql: str) -> object:
    """One value read from the SQLite file at `path` (the copy, not the live database)."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return source.execute(sql).fetchone()[0]
    finally:
        source.close()
