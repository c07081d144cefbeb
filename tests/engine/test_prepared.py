"""Prepared statements store exactly what the ORM stores, fail the way Core fails, and stay visible
to cursor events and echo."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import cast

import pytest
from sqlalchemy import Engine, Table, bindparam, event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import prepared
from models import AuditEvent, HumanTask, HumanTaskGroup, User
from tests.conftest import rolled_back_session
from tests.engine.test_services import start


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, sqlite_engine: Engine) -> Iterator[Session]:
    """Each test on SQLite and, when configured, on PostgreSQL (rolled back after)."""
    engine = sqlite_engine if request.param == "sqlite" else request.getfixturevalue("pg_engine")
    with rolled_back_session(engine) as sess:
        yield sess


AT = dt.datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DATA = {"note": "打印机着火", "nested": {"list": [1, 2.5, None, True]}, "empty": {}}
_EVENTS = cast(Table, AuditEvent.__table__)
_INSERT_EVENT = prepared.insert(_EVENTS, ("chain", "case_id", "seq", "at", "actor", "type", "task", "data",
                                          "prev_hash", "hash"))
_USERS = cast(Table, User.__table__)
_INSERT_USER = prepared.insert(_USERS, ("name", "display_name", "email", "password_hash", "active", "locale",
                                        "created_at", "session_epoch"))


def _event(seq: int, **extra) -> dict:
    return {"chain": "test", "case_id": None, "seq": seq, "at": AT, "actor": "pat", "type": "tested",
            "task": None, "data": DATA, "prev_hash": "p", "hash": "h", **extra}


def _stored(session, seq: int) -> tuple:
    # The row as the database holds it, below any type processing.
    return session.execute(text("SELECT chain, case_id, at, actor, type, task, data, prev_hash, hash "
                                "FROM audit_event WHERE chain = 'test' AND seq = :seq"), {"seq": seq}).one()


def test_rows_are_stored_as_the_orm_stores_them(session):
    session.add(AuditEvent(**_event(1)))
    session.flush()
    assert _INSERT_EVENT.run(session, _event(2)) == 1
    assert _stored(session, 2) == _stored(session, 1)  # same text for the UTC time and the JSON
    session.expire_all()
    first, second = session.scalars(select(AuditEvent).where(AuditEvent.chain == "test").order_by(AuditEvent.seq))
    assert second.data == first.data == DATA
    assert second.at == first.at == AT and second.at.tzinfo == dt.timezone.utc  # stored as UTC


def test_json_and_many_rows_in_one_call(session, deploy, make_user):
    deploy("four_steps.bpmn")
    case_id = start(session, {"req": make_user(name="rita")}).id
    tasks = prepared.insert(cast(Table, HumanTask.__table__), [c.key for c in HumanTask.__table__.c])
    rows = [{**{c.key: None for c in HumanTask.__table__.c}, "id": f"t{i}", "case_id": case_id, "element_id": "x",
             "name": "X", "candidate_groups": ["a", "小组"], "state": "ready", "created_at": AT} for i in range(3)]
    assert tasks.run(session, rows) == 3
    groups = prepared.insert(cast(Table, HumanTaskGroup.__table__), ("task_id", "group"))
    assert groups.run(session, [{"task_id": "t0", "group": "a"}, {"task_id": "t0", "group": "小组"}]) == 2
    got = session.get(HumanTask, "t2")
    assert (got.candidate_groups, got.created_at, got.due_at) == (["a", "小组"], AT, None)
    assert set(session.scalars(select(HumanTaskGroup.group).where(HumanTaskGroup.task_id == "t0"))) == {"a", "小组"}


def test_statement_literals_and_updates(session):
    _INSERT_USER.run(session, {"name": "lit", "display_name": "", "email": "", "password_hash": None,
                               "active": True, "locale": "en", "created_at": AT, "session_epoch": 0})
    rename = prepared.Prepared(_USERS.update().where(_USERS.c.name == bindparam("old"), _USERS.c.active.is_(True),
                                                     _USERS.c.locale == "en")
                               .values(display_name=bindparam("display_name")))
    assert rename.run(session, {"old": "lit", "display_name": "Lit 李"}) == 1
    assert rename.run(session, {"old": "nobody", "display_name": "x"}) == 0
    assert session.scalar(select(User.display_name).where(User.name == "lit")) == "Lit 李"


def test_database_errors_are_sqlalchemys(session):
    _INSERT_EVENT.run(session, _event(1))
    nested = session.begin_nested()
    with pytest.raises(IntegrityError, match=r"UNIQUE|unique"):
        _INSERT_EVENT.run(session, _event(1))  # (chain, seq) is unique
    nested.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == "test")) == 1


def test_cursor_events_and_echo_see_prepared_statements(sqlite_engine, caplog):
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(sqlite_engine, "before_cursor_execute", listener)
    sqlite_engine.echo = True  # read when a connection is made
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), rolled_back_session(sqlite_engine) as s:
            _INSERT_EVENT.run(s, _event(1))
    finally:
        sqlite_engine.echo = False
        event.remove(sqlite_engine, "before_cursor_execute", listener)
    assert [s for s in seen if s.startswith("INSERT INTO audit_event")], seen
    assert any(r.getMessage().startswith("INSERT INTO audit_event") for r in caplog.records)


def test_statements_it_cannot_run_are_refused(session):
    expanding = prepared.Prepared(_EVENTS.delete().where(_EVENTS.c.chain.in_(bindparam("chains", expanding=True))))
    with pytest.raises(TypeError, match="expanding"):
        expanding.run(session, {"chains": ["x"]})
    defaults = prepared.Prepared(_USERS.insert().values(name=bindparam("name")))  # Python-side defaults
    with pytest.raises(TypeError, match="bind every value"):
        defaults.run(session, {"name": "x"})
    returning = prepared.Prepared(_USERS.delete().where(_USERS.c.name == bindparam("name")).returning(_USERS.c.id))
    with pytest.raises(TypeError, match="return nothing"):
        returning.run(session, {"name": "x"})


def test_each_transaction_gets_its_own_connection(sqlite_engine):
    from engine import db

    maker = db.make_sessionmaker(sqlite_engine)
    row = {"display_name": "", "email": "", "password_hash": None, "active": True, "locale": "en", "created_at": AT, "session_epoch": 0}
    with maker() as s:
        _INSERT_USER.run(s, {**row, "name": "first-tx"})
        s.rollback()  # the prepared write belonged to the transaction that rolled back
        _INSERT_USER.run(s, {**row, "name": "second-tx"})
        names = set(s.scalars(select(User.name).where(User.name.in_(["first-tx", "second-tx"]))))
        assert names == {"second-tx"}
        s.rollback()
