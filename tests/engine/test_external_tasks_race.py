"""Workers racing for external tasks (#16): two workers never lock the same job, on SQLite and on
PostgreSQL, with real commits on separate connections."""
from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from engine import db
from engine.cases import services
from engine.jobs import external_tasks as jobs
from engine.people import users
from engine.processes import deployment
from engine.timing import clock
from tests.conftest import DATA

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
ARCHIVE = [{"topicName": "archive", "lockDuration": 60_000}]
CASES = 24


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_clean")
        return
    # As the server runs it (pysqlite starts a transaction at the first write), not the test sessions' BEGIN.
    fresh = db.make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    db.upgrade(fresh)
    yield fresh
    fresh.dispose()


def _open(engine: Engine) -> None:
    maker = db.make_sessionmaker(engine)
    with maker.begin() as s, clock.frozen(T0):
        deployment.deploy(s, [("archive_job.bpmn", (DATA / "external" / "archive_job.bpmn").read_bytes())], actor=None)
        for name in ("bot1", "bot2", "bot3", "bot4"):
            users.create_user(s, name, ["engineer"], actor=None)
        starter = users.create_user(s, "starter", ["engineer"], actor=None)
        for n in range(CASES):
            services.start_case(s, "archive_job", {"document": f"doc-{n}"}, actor=starter)


def test_concurrent_fetches_never_lock_the_same_job(engine):
    _open(engine)
    maker = db.make_sessionmaker(engine)
    got: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        try:
            start.wait()
            while True:
                with maker.begin() as s, clock.frozen(T0 + dt.timedelta(seconds=1)):
                    actor = users.get_user(s, name)
                    locked = jobs.fetch_and_lock(s, name, ARCHIVE, 2, actor=actor)
                    ids = [j.job.id for j in locked]
                if not ids:
                    return
                got.extend(ids)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(f"bot{i}",)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    counted = Counter(got)
    assert len(counted) == CASES and set(counted.values()) == {1}


@pytest.mark.postgres
def test_a_fetch_skips_the_rows_another_open_fetch_has_locked(pg_clean):
    _open(pg_clean)
    maker = db.make_sessionmaker(pg_clean)
    with maker() as first, maker() as second, clock.frozen(T0):
        a = jobs.fetch_and_lock(first, "w1", ARCHIVE, 3, actor=users.get_user(first, "bot1"))
        b = jobs.fetch_and_lock(second, "w2", ARCHIVE, 3, actor=users.get_user(second, "bot2"))  # w1 not committed
        assert len(a) == len(b) == 3 and not {j.job.id for j in a} & {j.job.id for j in b}
        first.commit()
        second.commit()
