"""`opsgate backup` / `opsgate restore`: backup, wipe, restore and verify, on SQLite and PostgreSQL (issue 13)."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, inspect, select, text

from engine import db
from engine.backups import archive
from engine.cases import attachments
from engine.people import users
from models import Attachment, AuditEvent, Case, User
from tests.conftest import sibling_postgres
from webui.cli.base import main
from webui.cli.demo_data import seed_demo

EVIDENCE = b"UPS battery test\n9 minutes of autonomy, 20 required\n\x00\xff binary tail"


def opsgate(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, *args])


def seeded(url: str) -> dict[str, object]:
    """The demo's cases, with a file attached to an open incident; return what must survive a restore."""
    seed_demo(url, password="a-long-demo-password")
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session, session.begin():
            rita = users.get_user(session, "rita")
            incident = session.scalars(select(Case).where(Case.process_key == "incident", Case.status == "open")
                                       .order_by(Case.id)).first()
            attachments.add_attachment(session, incident.key, "ups-test.txt", EVIDENCE, actor=rita)
        return contents(engine)
    finally:
        engine.dispose()


def contents(engine: Engine) -> dict[str, object]:
    with db.make_sessionmaker(engine)() as session:
        return {
            "cases": [(c.key, c.status, c.title) for c in session.scalars(select(Case).order_by(Case.key))],
            "attachments": [(a.filename, a.content, a.uploaded_by) for a in session.scalars(select(Attachment))],
            "events": session.scalar(select(func.count()).select_from(AuditEvent)),
            "users": sorted(session.scalars(select(User.name))),
        }


def round_trip(url: str, backup: Path, wipe: Callable[[], None]) -> None:
    before = seeded(url)
    made = opsgate(url, "backup", str(backup))
    assert made.exit_code == 0, made.output
    assert f"wrote {backup}: " in made.output and "1 attachments" in made.output
    wipe()
    restored = opsgate(url, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    events = before["events"]
    assert f"restored {backup}: " in restored.output and "1 attachments" in restored.output
    assert f"ok: {events} events verified" in restored.output
    engine = db.make_engine(url)
    try:
        assert contents(engine) == before
        assert before["attachments"] == [("ups-test.txt", EVIDENCE, "rita")]
    finally:
        engine.dispose()
    assert opsgate(url, "audit", "verify").output.strip() == f"ok: {events} events verified"
    # The restored database takes new rows (PostgreSQL's sequences came along).
    added = opsgate(url, "user", "add", "newcomer", "--group", "engineer")
    assert added.exit_code == 0, added.output


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in inspect(connection).get_table_names()}


def test_sqlite_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path}/opsgate.db"

    def wipe() -> None:
        for name in ("opsgate.db", "opsgate.db-wal", "opsgate.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)

    round_trip(url, tmp_path / "nightly.opsgate-backup", wipe)
    assert (tmp_path / "nightly.opsgate-backup").stat().st_mode & 0o077 == 0  # it holds password hashes


@pytest.fixture
def sqlite_backup(tmp_path) -> Path:
    url = f"sqlite:///{tmp_path}/source.db"
    assert opsgate(url, "init").exit_code == 0
    path = tmp_path / "source.opsgate-backup"
    assert opsgate(url, "backup", str(path)).exit_code == 0
    return path


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, sqlite_backup):
    url = f"sqlite:///{tmp_path}/in-use.db"
    assert opsgate(url, "init").exit_code == 0
    engine = db.make_engine(url)
    before = table_counts(engine)
    result = opsgate(url, "restore", str(sqlite_backup))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is not empty" in result.output and "restore only into an empty database" in result.output
    assert "nothing was changed" in result.output
    assert table_counts(engine) == before
    engine.dispose()


def _refused(tmp_path: Path, backup: Path) -> str:
    url = f"sqlite:///{tmp_path}/target.db"
    result = opsgate(url, "restore", str(backup))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    engine = db.make_engine(url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()
    return result.output


def test_restore_refuses_garbage_truncated_and_foreign_files(tmp_path, sqlite_backup):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    assert "is not an opsgate backup" in _refused(tmp_path, garbage)

    whole = sqlite_backup.read_bytes()
    truncated = tmp_path / "truncated.opsgate-backup"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert "is truncated or damaged" in _refused(tmp_path, truncated)

    dump = tmp_path / "plain.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(100))
    assert "it is a bare pg_dump archive" in _refused(tmp_path, dump)

    sqlite_file = tmp_path / "source.db"
    assert "it is a bare SQLite database file" in _refused(tmp_path, sqlite_file)

    # A PostgreSQL backup given to SQLite (the header says which kind it holds).
    magic, header, payload = whole.split(b"\n", 2)
    fields = json.loads(header)
    fields["dialect"] = "postgresql"
    foreign = tmp_path / "foreign.opsgate-backup"
    foreign.write_bytes(magic + b"\n" + json.dumps(fields).encode() + b"\n" + payload)
    assert "holds a PostgreSQL database and the target is SQLite" in _refused(tmp_path, foreign)

    fields.update(dialect="sqlite", revision="9999_from_the_future")
    newer = tmp_path / "newer.opsgate-backup"
    newer.write_bytes(magic + b"\n" + json.dumps(fields).encode() + b"\n" + payload)
    assert "made by a newer opsgate" in _refused(tmp_path, newer)

    missing = _refused(tmp_path, tmp_path / "no-such-file")
    assert "cannot read" in missing and "No such file" in missing


def test_backup_of_an_empty_database_says_there_is_nothing(tmp_path):
    result = opsgate(f"sqlite:///{tmp_path}/empty.db", "backup", str(tmp_path / "x.opsgate-backup"))
    assert result.exit_code == 1 and "nothing to back up" in result.output
    assert not (tmp_path / "x.opsgate-backup").exists()


def test_the_header_names_kind_revision_and_contents(tmp_path, sqlite_backup):
    magic, header, payload = sqlite_backup.read_bytes().split(b"\n", 2)
    fields = json.loads(header)
    engine = db.make_engine(f"sqlite:///{tmp_path}/source.db")
    with engine.connect() as connection:
        current, _heads = db.schema_revisions(connection)
    engine.dispose()
    assert magic + b"\n" == archive.MAGIC and payload.startswith(b"SQLite format 3\x00")
    assert fields["dialect"] == "sqlite" and {fields["revision"]} == current
    assert fields["counts"]["cases"] == 0 and fields["counts"]["users"] == 1
    assert fields["payload_size"] == len(payload)


@pytest.mark.postgres
def test_postgres_round_trip(pg_engine, tmp_path):
    with sibling_postgres(pg_engine, "backup") as engine:
        url = engine.url.render_as_string(hide_password=False)
        with engine.begin() as connection:  # start from an empty database: seed_demo runs init itself
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))

        def wipe() -> None:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))

        round_trip(url, tmp_path / "pg.opsgate-backup", wipe)

        before = table_counts(engine)
        again = opsgate(url, "restore", str(tmp_path / "pg.opsgate-backup"))
        assert again.exit_code == 1 and "is not empty" in again.output and "nothing was changed" in again.output
        assert table_counts(engine) == before

        wipe()
        sqlite_url = f"sqlite:///{tmp_path}/small.db"
        assert opsgate(sqlite_url, "init").exit_code == 0
        assert opsgate(sqlite_url, "backup", str(tmp_path / "small.opsgate-backup")).exit_code == 0
        foreign = opsgate(url, "restore", str(tmp_path / "small.opsgate-backup"))
        assert foreign.exit_code == 1 and "holds a SQLite database and the target is PostgreSQL" in foreign.output
        assert inspect(engine).get_table_names() == []


def test_a_backup_taken_while_cases_change_is_one_consistent_instant(tmp_path):
    """Files are attached (each an audit event moving its case's chain head) while backups run:
    every backup restores to a chain that holds."""
    url = f"sqlite:///{tmp_path}/busy.db"
    seeded(url)
    stop, written = threading.Event(), []

    def attach_files() -> None:
        engine = db.make_engine(url)
        maker = db.make_sessionmaker(engine)
        try:
            while not stop.is_set():
                with maker() as session, session.begin():
                    rita = users.get_user(session, "rita")
                    case = session.scalars(select(Case).where(Case.process_key == "incident", Case.status == "open")
                                           .order_by(Case.id)).first()
                    attachments.add_attachment(session, case.key, f"log-{len(written)}.txt", b"line\n", actor=rita)
                written.append(1)
        finally:
            engine.dispose()

    writer = threading.Thread(target=attach_files)
    writer.start()
    try:
        for n in range(3):
            made = opsgate(url, "backup", str(tmp_path / f"busy-{n}.opsgate-backup"))
            assert made.exit_code == 0, made.output
    finally:
        stop.set()
        writer.join()
    assert written, "the writer ran during the backups"
    for n in range(3):
        restored = opsgate(f"sqlite:///{tmp_path}/restored-{n}.db", "restore", str(tmp_path / f"busy-{n}.opsgate-backup"))
        assert restored.exit_code == 0 and "events verified" in restored.output, restored.output


def test_a_restored_chain_that_does_not_hold_is_reported_tampered(tmp_path):
    url = f"sqlite:///{tmp_path}/edited.db"
    seeded(url)
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = (SELECT max(id) FROM audit_event)"))
    engine.dispose()
    assert opsgate(url, "backup", str(tmp_path / "edited.opsgate-backup")).exit_code == 0
    restored = opsgate(f"sqlite:///{tmp_path}/restored.db", "restore", str(tmp_path / "edited.opsgate-backup"))
    assert restored.exit_code == 1
    assert "restored " in restored.output and "TAMPERED: " in restored.output and "first bad event" in restored.output
