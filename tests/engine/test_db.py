"""The PostgreSQL pool (engine.db.make_engine): a checkout costs no round trip, and a connection
the server closed is replaced at checkout instead of failing the request that gets it."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text

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
        # Checked in with a ROLLBACK (the pool's reset); checking it out again sends nothing: the
        # server's last statement from it is still that ROLLBACK, not pool_pre_ping's SELECT 1.
        with engine.connect() as conn:
            assert _last_statement(pg_engine, pid) == "ROLLBACK"
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
