"""bench/engine.py's rows floor writes what opsgate writes: the same audit chain (it verifies), the
same task rows, groups and bars, the same case data. Its figures are only worth comparing if
it does the same work."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.records import audit
from models import AuditEvent, Case, HumanTask, HumanTaskBar, HumanTaskGroup

_PATH = Path(__file__).resolve().parents[2] / "bench" / "engine.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_engine_rows", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stored(maker, case_id: int) -> dict:
    """What a reader sees of a case: its data, events and task rows (ids and times left out)."""
    with maker() as s:
        case = s.get(Case, case_id)
        assert audit.verify(s, case).ok
        tasks = s.scalars(select(HumanTask).where(HumanTask.case_id == case_id).order_by(HumanTask.created_at,
                                                                                          HumanTask.element_id))
        ids = {t.id: t.element_id for t in s.scalars(select(HumanTask).where(HumanTask.case_id == case_id))}
        return {
            "status": case.status, "data": case.data, "actors": case.actors, "version": case.version_id,
            "events": [(e.seq, e.actor, e.type, e.task, (e.data or {}).get("name"),
                        (e.data or {}).get("data"))
                       for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                          .order_by(AuditEvent.seq))],
            "tasks": [(t.element_id, t.name, t.state, t.candidate_groups, t.completed_by_id is not None) for t in tasks],
            "groups": sorted((ids[g.task_id], g.group) for g in s.scalars(select(HumanTaskGroup))
                             if g.task_id in ids),
            "bars": sorted((ids[b.task_id], b.user_id) for b in s.scalars(select(HumanTaskBar)) if b.task_id in ids),
        }


@pytest.mark.parametrize("cached", [False, True])
def test_rows_floor_stores_what_opsgate_stores(bench, tmp_path, cached):
    floor = bench.RowsFloor(str(tmp_path / "rows.db"), cached=cached)
    side = bench.Opsgate(f"sqlite:///{tmp_path / 'opsgate.db'}")
    ids = [(floor.start(), side.start()) for _ in range(2)]
    for _element, data, who in bench.STEPS[:3]:  # the first case is left at its last task
        for floor_case, side_case in ids:
            floor.step(floor.ready_task(floor_case), data, who)
            side.step(side.ready_task(side_case), data, who)
    _element, data, who = bench.STEPS[3]
    floor.step(floor.ready_task(ids[1][0]), data, who)
    side.step(side.ready_task(ids[1][1]), data, who)
    for floor_case, side_case in ids:
        written, expected = _stored(floor.side.maker, floor_case), _stored(side.maker, side_case)
        if expected["status"] == "closed":  # the rows floor does not close cases: no closing event, no facts
            expected["events"] = [e for e in expected["events"] if e[2] != "case_closed"]
            expected["status"], expected["data"] = "open", written["data"]
        assert written == expected
