"""The PostgreSQL pool (engine.db.make_engine): a checkout costs no round trip, a connection
the server closed is replaced at checkout instead of failing the request that gets it, and a
transaction that only read ends with COMMIT, which keeps psycopg's prepared statements."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from engine import db


def _last_statement(server: Engine, pid: int) -> str:
    with server.connect() as other:
        return other.execute(text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one()


@pytest.mark.postgres
def test_a_pooled_connection_is_handed_out_without_a_round_trip_and_replaced_once_the_server_closed_it(pg_engine):
    engine = db.make_engine(pg_engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            fd = conn.connection.dbapi_connection.fileno()
        # Its transaction, which only read, ended with a COMMIT (db._commit_reads); checking it out
        # again sends nothing: the server's last statement from it is still that COMMIT, not
        # pool_pre_ping's SELECT 1.
        with engine.connect() as conn:
            assert _last_statement(pg_engine, pid) == "COMMIT"
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        assert not db.server_hung_up(fd)

        # The server ends that session (a restart does the same to every session).
        with pg_engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        deadline = time.monotonic() + 10
        while not db.server_hung_up(fd) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert db.server_hung_up(fd)
        # The next checkout drops the closed connection and hands out a new one: the statement works.
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def _prepared_here(session: Session, marker: str) -> list[str]:
    """The statements prepared on the session's connection whose text holds `marker`."""
    return session.execute(text("SELECT statement FROM pg_prepared_statements WHERE statement LIKE :m"),
                           {"m": f"%{marker}%"}).scalars().all()


@pytest.mark.postgres
def test_a_transaction_that_only_read_keeps_the_statements_psycopg_prepared(pg_engine):
    """psycopg prepares a statement the fifth time it runs, and forgets them all at a ROLLBACK:
    sessions that only read and are closed without a commit (a page view) end with COMMIT,
    so the statements stay prepared for the next transaction on the connection."""
    engine = db.make_engine(pg_engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        for _ in range(6):
            with Session(engine) as session:
                assert session.execute(text("SELECT 1 AS prepared_marker WHERE 1 = :one"), {"one": 1}).scalar() == 1
        with Session(engine) as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert _prepared_here(session, "prepared_marker") == ["SELECT 1 AS prepared_marker WHERE 1 = $1"]
        assert _last_statement(pg_engine, pid) == "COMMIT"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_transaction_that_wrote_is_still_rolled_back(pg_clean):
    """A session closed without committing its writes loses them, reads after the write or not;
    so does one rolled back explicitly, and one that failed."""
    engine = db.make_engine(pg_clean.url.render_as_string(hide_password=False), pool_size=1)
    insert = text("INSERT INTO case_counter (prefix, last) VALUES (:p, 1)")
    try:
        with Session(engine) as session:
            session.execute(insert, {"p": "CLOSED"})
            session.execute(text("SELECT count(*) FROM case_counter")).scalar_one()
        with Session(engine) as session:
            session.execute(text("SELECT 1")).scalar_one()
            session.execute(insert, {"p": "ROLLED"})
            session.rollback()
        with Session(engine) as session:
            session.execute(insert, {"p": "FAILED"})
            with pytest.raises(Exception, match="division by zero"):
                session.execute(text("SELECT 1 / 0")).scalar_one()
        with Session(engine) as session:
            assert session.execute(text("SELECT count(*) FROM case_counter")).scalar_one() == 0
            session.execute(insert, {"p": "KEPT"})
            session.commit()
            assert session.execute(text("SELECT prefix FROM case_counter")).scalars().all() == ["KEPT"]
    finally:
        engine.dispose()
