"""Prepared statements write and read exactly what the ORM would, and fail the way it would."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.exc import IntegrityError

from engine import prepared
from models import AuditEvent, HumanTask, HumanTaskGroup, User

AT = dt.datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
_INSERT_USER = prepared.insert(User.__table__, ("name", "display_name", "email", "password_hash", "active",
                                                 "locale", "created_at"))
_USER_BY_NAME = prepared.Prepared(select(User.__table__).where(User.__table__.c.name == bindparam("name")))


def _user_row(name: str, **extra) -> dict:
    return {"name": name, "display_name": "", "email": "", "password_hash": None, "active": True, "locale": "en",
            "created_at": AT, **extra}


def test_values_round_trip_as_the_orm_reads_them(session):
    _INSERT_USER.run(session, _user_row("pat", display_name="Pat 王"))
    user = session.scalars(select(User).where(User.name == "pat")).one()
    assert (user.display_name, user.active) == ("Pat 王", True)
    assert user.created_at == AT and user.created_at.tzinfo == dt.timezone.utc  # stored as UTC
    row = _USER_BY_NAME.first(session, {"name": "pat"})
    assert row is not None and row[list(User.__table__.c.keys()).index("created_at")] == user.created_at
    assert _USER_BY_NAME.first(session, {"name": "nobody"}) is None


def test_json_and_many_rows(session, deploy):
    # A task and its groups, as the runtime writes them.
    from tests.engine.test_services import start

    deploy("four_steps.bpmn")
    people = {"req": session.scalars(select(User)).first()}
    case = start(session, people)
    tasks = prepared.insert(HumanTask.__table__, [c.key for c in HumanTask.__table__.c])
    tasks.run(session, [{**{c.key: None for c in HumanTask.__table__.c}, "id": f"t{i}", "case_id": case.id,
                         "element_id": "x", "name": "X", "candidate_groups": ["a", "b"], "state": "ready",
                         "created_at": AT} for i in range(3)])
    prepared.insert(HumanTaskGroup.__table__, ("task_id", "group")).run(
        session, [{"task_id": "t0", "group": "a"}, {"task_id": "t0", "group": "b"}])
    got = session.get(HumanTask, "t2")
    assert (got.candidate_groups, got.created_at, got.due_at) == (["a", "b"], AT, None)
    assert session.scalar(select(text("count(*)")).select_from(HumanTaskGroup)
                          .where(HumanTaskGroup.task_id == "t0")) == 2


def test_database_errors_are_sqlalchemys(session):
    _INSERT_USER.run(session, _user_row("dup"))
    nested = session.begin_nested()
    with pytest.raises(IntegrityError, match=r"UNIQUE|unique"):
        _INSERT_USER.run(session, _user_row("dup"))
    nested.rollback()
    assert session.scalar(select(text("count(*)")).select_from(User).where(User.name == "dup")) == 1


def test_cursor_events_see_prepared_statements(session):
    seen: list[str] = []
    engine = session.get_bind().engine

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        _INSERT_USER.run(session, _user_row("watched"))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert any(s.startswith('INSERT INTO') and 'user' in s for s in seen), seen


def test_statements_it_cannot_run_are_refused(session):
    expanding = prepared.Prepared(AuditEvent.__table__.delete().where(
        AuditEvent.__table__.c.chain.in_(bindparam("chains", expanding=True))))
    with pytest.raises(TypeError, match="expanding"):
        expanding.run(session, {"chains": ["x"]})
    defaults = prepared.Prepared(User.__table__.insert().values(name=bindparam("name")))
    with pytest.raises(TypeError, match="bind every value"):
        defaults.run(session, {"name": "x"})


def test_each_transaction_gets_its_own_connection(sqlite_engine):
    from engine import db

    maker = db.make_sessionmaker(sqlite_engine)
    with maker() as s:
        _INSERT_USER.run(s, _user_row("first-tx"))
        s.rollback()  # the prepared write belonged to the transaction that rolled back
        _INSERT_USER.run(s, _user_row("second-tx"))
        names = set(s.scalars(select(User.name).where(User.name.in_(["first-tx", "second-tx"]))))
        assert names == {"second-tx"}
        s.rollback()
