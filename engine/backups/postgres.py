"""PostgreSQL: pg_dump's custom format out, pg_restore in (Debian package postgresql-client).

The dump runs on a snapshot exported by a repeatable-read transaction that also reads the
schema revision and the counts in the header, so header and dump describe the same instant
while the server goes on writing. The restore runs in one transaction (`--single-transaction
--exit-on-error`): a failure leaves the target database as empty as it was. Objects are
restored without their original owner and grants (`--no-owner --no-privileges`): they belong
to the user the restore connects as, which is the user opsgate connects as.
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine

from engine.config import child_environment
from engine.errors import EngineError, InvalidData

INSTALL = "install the PostgreSQL client tools (Debian: apt-get install postgresql-client)"


def tool(name: str) -> str:
    """The path of pg_dump or pg_restore, or an error saying what to install."""
    found = shutil.which(name)
    if found is None:
        raise EngineError(f"{name} is not installed: {INSTALL}, of the server's major version or newer")
    return found


def version(name: str) -> str:
    """What `NAME --version` says (recorded in the header: which pg_dump made the archive)."""
    return subprocess.run([tool(name), "--version"], capture_output=True, text=True, check=False).stdout.strip()


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[tuple[Connection, str]]:
    """A repeatable-read transaction and the id of its exported snapshot, open for the block."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            exported = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            yield connection, exported


def dump(engine: Engine, target: Path, snapshot_id: str) -> None:
    """Write a pg_dump custom-format archive of the database, as of the exported snapshot."""
    _run([tool("pg_dump"), "--format=custom", f"--snapshot={snapshot_id}", f"--file={target}",
          f"--dbname={_conninfo(engine)}"], engine, "pg_dump")


def check(payload: Path) -> None:
    """Raise InvalidData unless `payload` is an archive pg_restore can read."""
    done = subprocess.run([tool("pg_restore"), "--list", str(payload)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InvalidData(f"the backup's archive cannot be read by pg_restore ({_last_line(done.stderr)})")


def load(engine: Engine, payload: Path) -> None:
    """Restore the checked archive `payload` into the (empty) database, all or nothing."""
    _run([tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          f"--dbname={_conninfo(engine)}", str(payload)], engine, "pg_restore")


def _conninfo(engine: Engine) -> str:
    # libpq's URI without the password (which goes in PGPASSWORD, not on a command line others can read).
    return engine.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(command: list[str], engine: Engine, name: str) -> None:
    password = engine.url.password
    env = child_environment(PGPASSWORD=str(password)) if password else child_environment()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise EngineError(f"{name} failed: {_last_line(done.stderr)}")


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or "no message"


def counter(connection: Connection) -> Callable[[str], object]:
    """Run one SQL statement in the snapshot's transaction and return its single value."""
    return lambda sql: connection.exec_driver_sql(sql).scalar_one()
