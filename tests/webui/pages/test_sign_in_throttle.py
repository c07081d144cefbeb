"""Sign-in throttling and lockout (issue 13): counted per account and per address in the
database, measured by the engine clock; anonymous failures do not grow the audit chain."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from engine.people import throttle
from engine.timing import clock
from models import AuditEvent, LoginThrottle
from tests.webui.pages.conftest import PASSWORD, build_app
from webui.auth import limiter


def _post(client, name: str, password: str, address: str = "10.0.0.1"):
    return client.post("/login", data={"name": name, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _events(session, kind: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.type == kind).order_by(AuditEvent.id)))


def test_twenty_wrong_passwords_lock_the_account_until_the_lock_ends(app, make_user, session):
    make_user("admin", name="ada", password=PASSWORD)
    session.commit()
    client = app.test_client()
    start = clock.now()
    with clock.frozen(start):
        for attempt in range(throttle.ACCOUNT_LIMIT):
            assert _post(client, "ada", f"wrong-{attempt}").status_code == 401
        locked = _post(client, "ada", PASSWORD)
        assert locked.status_code == 429
        assert "locked until" in locked.get_data(as_text=True)
        # Another address, the right password: still refused (the account is locked).
        assert _post(client, "ADA", PASSWORD, "10.9.9.9").status_code == 429
    with clock.frozen(start + throttle.LOCK_BASE - dt.timedelta(seconds=1)):
        assert _post(client, "ada", PASSWORD).status_code == 429
    with clock.frozen(start + throttle.LOCK_BASE + dt.timedelta(seconds=1)):
        assert _post(client, "ada", PASSWORD).status_code == 302
    failed, locks = _events(session, "user_login_failed"), _events(session, "user_login_locked")
    assert [e.data["user"] for e in failed] == ["ada"]  # once per window, not 20 times
    assert len(locks) == 1 and locks[0].data["failures"] == throttle.ACCOUNT_LIMIT
    assert session.get(LoginThrottle, throttle.account_key("ada")) is None  # the sign-in cleared it


def test_locks_in_a_row_last_longer(app, make_user, session):
    make_user(name="bea", password=PASSWORD)
    session.commit()
    client = app.test_client()
    start = clock.now()
    with clock.frozen(start):
        for attempt in range(throttle.ACCOUNT_LIMIT):
            _post(client, "bea", f"wrong-{attempt}")
    second = start + throttle.LOCK_BASE + dt.timedelta(seconds=1)
    with clock.frozen(second):
        for attempt in range(throttle.ACCOUNT_LIMIT):
            assert _post(client, "bea", f"wrong-{attempt}").status_code == 401
        assert _post(client, "bea", PASSWORD).status_code == 429
    with clock.frozen(second + throttle.LOCK_BASE + dt.timedelta(seconds=1)):
        assert _post(client, "bea", PASSWORD).status_code == 429  # the second lock lasts twice as long
    with clock.frozen(second + 2 * throttle.LOCK_BASE + dt.timedelta(seconds=1)):
        assert _post(client, "bea", PASSWORD).status_code == 302


def test_one_address_trying_many_names_is_locked_and_the_chain_stays_small(app, make_user, session):
    make_user(name="cid", password=PASSWORD)
    session.commit()
    client = app.test_client()
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    with clock.frozen(clock.now()):
        for i in range(throttle.ADDRESS_LIMIT):
            assert _post(client, f"guess{i % 10}", "nope-nope-nope", "203.0.113.5").status_code == 401
        assert _post(client, "cid", PASSWORD, "203.0.113.5").status_code == 429
        assert _post(client, "cid", PASSWORD, "198.51.100.7").status_code == 302  # others are not locked out
    session.expire_all()
    grown = session.scalar(select(func.count()).select_from(AuditEvent)) - before
    # 10 names tried 10 times each: 10 first failures, 1 address lock, 1 sign-in.
    assert grown == 12
    lock = _events(session, "user_login_locked")[-1]
    assert lock.data["from"] == "203.0.113.5" and "user" not in lock.data


def test_old_rows_are_pruned(app, make_user, session):
    client = app.test_client()
    start = clock.now()
    with clock.frozen(start):
        _post(client, "old-name", "nope-nope-nope", "192.0.2.1")
    with clock.frozen(start + throttle.KEEP + dt.timedelta(hours=1)):
        _post(client, "new-name", "nope-nope-nope", "192.0.2.2")
    session.expire_all()
    keys = set(session.scalars(select(LoginThrottle.key)))
    assert keys == {throttle.account_key("new-name"), "address:192.0.2.2"}


def test_the_request_rate_per_address_answers_429(ui_engine, make_user, session):
    app = build_app(ui_engine, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [_post(client, "nobody", "nope-nope-nope").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert client.get("/login").status_code == 200  # only POST is limited
    app.extensions["opsgate_engine"].dispose()


def test_limits_for_every_route_set_in_the_config_still_apply(ui_engine, make_user, session):
    """Requests without a limit of their own skip the limiter's lookup (webui.auth), unless the
    configuration sets limits for all routes, as Flask-Limiter's RATELIMIT_DEFAULT does."""
    plain = build_app(ui_engine)
    assert [plain.test_client().get("/healthz").status_code for _ in range(3)] == [200, 200, 200]
    app = build_app(ui_engine, RATELIMIT_DEFAULT="2 per minute")
    try:
        client = app.test_client()
        assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 429]
    finally:  # the limiter is the module's: later apps of this process must not inherit the limit
        limiter.limit_manager.set_default_limits([])
        limiter.reset()
        for each in (plain, app):
            each.extensions["opsgate_engine"].dispose()
