"""Database engines and schema upgrades (Alembic), for the CLI, the web app, workers and tests."""
from __future__ import annotations

import contextlib
import functools
import select
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

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


def _sqlite_write_savepoint(conn: Connection, _name: str | None) -> None:
    """Start the transaction a SAVEPOINT would open as a write transaction (BEGIN IMMEDIATE).

    pysqlite leaves BEGIN to the first INSERT/UPDATE/DELETE, which takes the write lock at once
    and waits for it (busy_timeout). A SAVEPOINT before any write instead opens a *deferred*
    transaction: its reads pin a snapshot, and when it then writes after another connection
    committed, SQLite answers `database is locked` at once, without waiting (it cannot upgrade
    a stale snapshot). Savepoints only wrap writes here (an alert's dedup insert, a timer's
    firing), so the transaction they open takes the write lock up front and waits its turn.
    """
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def begin_write(session: Session) -> None:
    """Take the database's write lock now, before reading what the write depends on.

    PostgreSQL locks rows (`SELECT ... FOR UPDATE`); SQLite has one lock for the whole file and no
    row locks, so there the transaction starts with BEGIN IMMEDIATE: it waits for other writers
    (busy_timeout), then reads and writes with nobody in between. Without it, two requests that
    read the same row before either writes (an alert posted twice at once) would both act on it.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is not None and not dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


# A pooled PostgreSQL connection is replaced after this long (engine.db.make_engine), so that no
# connection outlives a server-side or network limit on a session's age by much.
POOL_RECYCLE_SECONDS = 1800


def server_hung_up(fd: int) -> bool:
    """Say whether an idle connection's socket has something to read: the server closed it or said
    goodbye (a restart, `pg_terminate_backend`, `idle_session_timeout`). Between transactions a
    PostgreSQL connection is sent nothing else, as nothing here LISTENs."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no pooled PostgreSQL connection that the server has closed (a checkout event).

    SQLAlchemy's `pool_pre_ping` asks the server (`SELECT 1`, a round trip and a wake-up of the
    server process) on every checkout, so on every request; asking the kernel whether the server
    hung up finds the same closed connections, after a restart or a terminated backend, for one
    poll(). `DisconnectionError` makes the pool drop the connection and check out a fresh one
    (SQLAlchemy's documented pessimistic handling). A connection lost without a word (a network cut)
    is found by neither: the request fails and SQLAlchemy invalidates the pool, as it would after
    a ping that timed out."""
    if dbapi_connection.closed or server_hung_up(dbapi_connection.fileno()):
        raise exc.DisconnectionError("the database server closed this pooled connection")


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create an Engine (the instance SQLite file without a URL); SQLite gets WAL, foreign keys and a
    busy timeout, and its folder is created. A PostgreSQL pool checks at checkout that the server
    has not closed the connection, without a round trip (`_refuse_closed_connection`), and
    replaces connections after POOL_RECYCLE_SECONDS; on psycopg a transaction that only read ends
    with COMMIT, which keeps the connection's prepared statements (`_commit_reads`)."""
    url = url or DEFAULT_URL
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_write_savepoint)
        return engine
    engine = create_engine(url, **{"pool_recycle": POOL_RECYCLE_SECONDS, **kwargs})
    event.listen(engine, "checkout", _refuse_closed_connection)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "before_cursor_execute", _note_write)
        event.listen(engine, "commit", _forget_writes)
        event.listen(engine, "rollback", _commit_reads)
    return engine


# Set in a DB-API connection's info by the first statement of its transaction that is not a SELECT.
_WROTE = "opsgate.wrote"


def _note_write(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """Note a transaction that may have written (any statement but a SELECT: a savepoint, a
    `WITH`, a write; a before_cursor_execute event of a psycopg engine)."""
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.info[_WROTE] = True


def _forget_writes(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)  # a commit event: the transaction ends


def _commit_reads(conn: Connection) -> None:
    """End a transaction that only read with COMMIT instead of the ROLLBACK it is about to get (a
    rollback event of a psycopg engine: a session closed without committing, a request that only
    read).

    For SELECTs the two are the same, but psycopg forgets every statement it prepared on the
    connection at a ROLLBACK (a rolled-back transaction might have dropped what they refer to)
    and sends `DEALLOCATE ALL` before the next query; a page view, which ends with one, made
    every statement of the next action on that connection be parsed and planned again
    (`prepare_threshold`: psycopg prepares a statement the fifth time it is run). A transaction
    that ran anything else, or failed, is rolled back as before; SQLAlchemy's rollback that
    follows the COMMIT finds the connection idle and sends nothing."""
    if conn.closed or conn.invalidated:
        return
    info = conn.info
    if info.pop(_WROTE, False):
        return
    import psycopg  # the driver of this engine

    driver = conn.connection.driver_connection
    if isinstance(driver, psycopg.Connection) and driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
        # Should the COMMIT fail (a lost connection), SQLAlchemy's rollback goes on as without it
        # and meets the same state.
        with contextlib.suppress(psycopg.Error):
            driver.commit()


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


def known_revision(revision: str) -> bool:
    """Whether this code's migrations know a schema revision (a newer opsgate's are unknown)."""
    script = ScriptDirectory.from_config(alembic_config())
    return any(found.revision == revision for found in script.walk_revisions())


@functools.cache
def _code_heads() -> tuple[str, ...]:
    # Read the migration scripts once per process (/readyz asks every few seconds).
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def for_one_aggregate(session: Session) -> None:
    """Set PostgreSQL up, for the rest of the transaction, for one large aggregate: no JIT, and
    memory enough to hash its groups.

    A month's evaluation is one statement over the month's cases. Its estimated cost passes
    `jit_above_cost`, and compiling its expressions took 100-170 ms of a query that runs in less;
    its estimate of the groups (tens of thousands, a few thousand in fact) passes the default 4 MB
    `work_mem`, and the sort PostgreSQL then chose instead of a hash spilled to disk and took over a
    second at 100,000 cases (docs/performance.md)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"))
