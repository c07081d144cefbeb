"""Database engines and schema upgrades (Alembic), for the CLI, the web app, workers and tests."""
from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from engine.config import DEFAULT_DATABASE_URL, EngineConfig, bind

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"
DEFAULT_URL = DEFAULT_DATABASE_URL


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # DBAPI callback
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create an Engine (the instance SQLite file without a URL); SQLite gets WAL, foreign keys and a
    busy timeout, and its folder is created."""
    url = url or DEFAULT_URL
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine, config: EngineConfig | None = None) -> sessionmaker:
    """Sessions that keep loaded objects usable after commit (the edge commits once per action) and
    carry the engine's configuration (engine.config.settings)."""
    info: dict[str, object] = {}
    if config is not None:
        bind(info, config)
    return sessionmaker(engine, expire_on_commit=False, info=info)


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema in place to the newest revision."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def schema_revisions(connection: Connection) -> tuple[set[str], set[str]]:
    """The database's Alembic revisions and the code's heads (equal when the schema is current)."""
    return set(MigrationContext.configure(connection).get_current_heads()), set(_code_heads())


@functools.cache
def _code_heads() -> tuple[str, ...]:
    # Read the migration scripts once per process (/readyz asks every few seconds).
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
