"""Shared fixtures: a migrated database, a rolled-back session per test, factories, the app.

The default database is a SQLite file made once per run through the Alembic migrations.
PostgreSQL tests (marker `postgres`) use OPSGATE_TEST_POSTGRES_URL and are skipped without it;
CI sets it and fails when they were skipped.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import profiles
from sqlalchemy import Engine, event, make_url, text
from sqlalchemy.orm import Session

from engine import db, memo
from engine.cases import instance_cache
from engine.people import users
from engine.processes import deployment, specs
from models import Base, User

DATA = Path(__file__).parent / "data"
# Under pytest-xdist each worker gets a database of its own on the configured server, named
# after the configured one plus the worker id (made by pg_engine, dropped after the run).
_PG_BASE_URL = os.environ.get("OPSGATE_TEST_POSTGRES_URL")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
PG_URL = (make_url(_PG_BASE_URL).set(database=f"{make_url(_PG_BASE_URL).database}_{_WORKER}")
          .render_as_string(hide_password=False) if _PG_BASE_URL and _WORKER else _PG_BASE_URL)
_names = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    # Passwords are hashed and checked with argon2's cheapest parameters here: opsgate's own
    # (users.DEFAULT_HASHING) cost about 0.2 s of CPU per sign-in, a minute over the suite, and the
    # throttle tests alone sign in wrongly some 200 times. What a sign-in checks is the same;
    # tests/engine/test_passwords.py checks the default parameters and the rehash to them.
    users.use_hashing(profiles.CHEAPEST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="set OPSGATE_TEST_POSTGRES_URL to run PostgreSQL tests")
    skip_browser = pytest.mark.skip(reason="set OPSGATE_TEST_BROWSER=1 to run browser tests")
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
        if "browser" in item.keywords and os.environ.get("OPSGATE_TEST_BROWSER") != "1":
            item.add_marker(skip_browser)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per test process: tests copy it (timer_helpers.migrated_copy)
    rather than migrate a database of their own."""
    path = tmp_path_factory.mktemp("template") / "opsgate.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "opsgate.db"
    engine = db.make_engine(f"sqlite:///{path}")
    real_sqlite_transactions(engine)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def real_sqlite_transactions(engine: Engine) -> None:
    """Make pysqlite emit BEGIN itself (SQLAlchemy's documented recipe).

    Otherwise the driver defers BEGIN to the first write, a test session's SAVEPOINT opens
    the real transaction, and a commit inside a test (an HTTP request's) persists for good.
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(autouse=True)
def _fresh_instances() -> Iterator[None]:
    # Each test starts with no instance in memory, as a freshly started process would. (The spec
    # cache needs no clearing: it is keyed by content, so a reused row id cannot hit it.)
    instance_cache.instances.clear()
    memo.clear_all()
    specs.forget_ids()
    yield
    instance_cache.instances.clear()
    memo.clear_all()
    specs.forget_ids()


@contextlib.contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session joined to an outer transaction that is rolled back at the end (SQLAlchemy's
    recipe): the code under test may commit, and nothing stays."""
    connection = engine.connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@contextlib.contextmanager
def statements(source: Session | Engine) -> Iterator[list[str]]:
    """Collect the statements the session's connection (or every connection of an engine: code
    that opens its own sessions) sends to the database, as 'VERB table' (e.g. "SELECT human_task",
    "INSERT audit_event"), savepoints (the test session's) left out.

    HTTP tests share the test's session (tests/webui/conftest.py), so a request's statements
    are collected too: `with statements(session) as seen: client.get(...)`."""
    seen: list[str] = []
    connection = source.connection() if isinstance(source, Session) else source

    def listener(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        words = re.sub(r"\s+", " ", statement).strip()
        if words.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            return
        verb = words.split(" ", 1)[0]
        table = re.search(r"(?:INTO|UPDATE|FROM) \"?(\w+)\"?", words)
        seen.append(f"{verb} {table.group(1) if table else '?'}")

    event.listen(connection, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", listener)


@pytest.fixture
def count_statements(session: Session) -> Callable[[], contextlib.AbstractContextManager[list[str]]]:
    """`with count_statements() as seen: ...` collects the test session's statements
    (see `statements`); compare `seen` with the exact list a path may run, or the lengths of
    two runs (a page of 5 against a page of 50) to prove a list has no N+1."""
    return lambda: statements(session)


@pytest.fixture
def session(sqlite_engine: Engine) -> Iterator[Session]:
    """A session joined to an outer transaction that is rolled back after the test."""
    with rolled_back_session(sqlite_engine) as sess:
        yield sess


def reset_postgres(engine: Engine) -> None:
    """Drop everything and migrate from scratch."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)


@contextlib.contextmanager
def sibling_postgres(engine: Engine, suffix: str) -> Iterator[Engine]:
    """A migrated database named after `engine`'s plus `_suffix`, on the same server, dropped
    after use (for session-wide templates that pg_clean would otherwise empty, and for each
    pytest-xdist worker's own database)."""
    name = f"{engine.url.database}_{suffix}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    sibling = db.make_engine(engine.url.set(database=name).render_as_string(hide_password=False))
    db.upgrade(sibling)
    try:
        yield sibling
    finally:
        sibling.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    if not PG_URL or not _PG_BASE_URL:
        pytest.skip("set OPSGATE_TEST_POSTGRES_URL to run PostgreSQL tests")
    server = db.make_engine(_PG_BASE_URL)
    if _WORKER:  # this worker's database, PG_URL
        with sibling_postgres(server, _WORKER) as engine:
            yield engine
    else:
        reset_postgres(server)
        yield server
    server.dispose()


@pytest.fixture
def pg_clean(pg_engine: Engine) -> Iterator[Engine]:
    """A PostgreSQL engine whose tables are emptied before and after the test (tests here really commit).

    Emptied after too: a committed row left behind (a schedule due on a fixed date) would be
    fired by later tests that fire everything due in the database."""
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield pg_engine
    with pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    """Create a user in the given groups: make_user("cab") or make_user(groups=["cab"], name="x")."""

    def make(*groups: str, name: str | None = None, password: str | None = None, **kw: Any) -> User:
        wanted = list(groups) + list(kw.pop("groups", []))
        user = users.create_user(session, name or f"user{next(_names)}", wanted, actor=None, **kw)
        if password is not None:
            user.password_hash = password_hash(password)
            session.flush()
        return user

    return make


def password_hash(password: str) -> str:
    """An argon2 hash of `password` (with the suite's cheap parameters, see pytest_configure)."""
    assert len(password) >= users.MIN_PASSWORD, "test passwords follow the same rule"
    return users.hash_password(password)


@pytest.fixture
def deploy(session: Session) -> Callable[..., list[deployment.DeployResult]]:
    """Deploy files from tests/data (by name), paths, or (filename, bytes) pairs."""

    def run(*items: Any, actor: User | None = None) -> list[deployment.DeployResult]:
        files = []
        for item in items:
            if isinstance(item, tuple):
                files.append((item[0], item[1] if isinstance(item[1], bytes) else item[1].encode()))
            else:
                path = Path(item) if Path(item).exists() else DATA / item
                files.append((path.name, path.read_bytes()))
        return deployment.deploy(session, files, actor=actor)

    return run


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenLDAP (Debian's slapd) with the test directory of tests/directory_server.py."""
    from tests import directory_server

    if not directory_server.available():
        pytest.skip("Debian's slapd is not installed (apt-get install slapd)")
    server = directory_server.start(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


CHROMIUM = os.environ.get("OPSGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, launched once per run (per pytest-xdist worker) for
    the browser tests and tests/workflows/test_render.py: a test opens a context of its own (fresh
    cookies and storage) and closes it. Playwright's sync API runs one instance per thread, so
    every module shares this one."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """With OPSGATE_REQUIRE_ALL_SUITES=1 (CI), a skipped PostgreSQL or browser test is a failure."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("OPSGATE_REQUIRE_ALL_SUITES") == "1" and report.skipped and \
            not hasattr(report, "wasxfail") and any(m in item.keywords for m in ("postgres", "browser", "ldap", "oidc")):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: this suite must run in CI but was skipped: {report.longrepr}"
