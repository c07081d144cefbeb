"""The parsed-spec cache is keyed by content and bounded: it never serves another version's spec."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine import config, db
from engine.processes import catalog, deployment, specs
from tests.conftest import DATA, rolled_back_session


def _deploy(session, name):
    path = DATA / name
    return deployment.deploy(session, [(path.name, path.read_bytes())], actor=None)[0].definition


def test_a_row_id_given_out_again_after_a_rollback_gets_its_own_spec(session):
    savepoint = session.begin_nested()
    first = _deploy(session, "four_steps.bpmn")
    first_id = first.id
    assert specs.load(session, first).spec.name == first.key
    savepoint.rollback()  # the deploy never happened; SQLite hands the id out again
    second = _deploy(session, "camunda_approval.bpmn")
    assert second.id == first_id and second.key != first.key
    loaded = specs.load_by_id(session, second.id)
    assert loaded.key == second.key == loaded.spec.name
    assert set(loaded.manifest.tasks) == set(catalog.get_definition(session, second.key).manifest["tasks"])


def test_two_databases_with_the_same_ids_keep_their_specs_apart(tmp_path: Path):
    loaded = []
    for name, source in (("a", "four_steps.bpmn"), ("b", "camunda_approval.bpmn")):
        engine = db.make_engine(f"sqlite:///{tmp_path / name}.db")
        db.upgrade(engine)
        with rolled_back_session(engine) as session:
            definition = _deploy(session, source)
            assert definition.id == 1
            loaded.append(specs.load_by_id(session, 1).key)
        engine.dispose()
    assert loaded == ["four_steps", "purchase_approval"]


def test_the_cache_keeps_at_most_its_size(session, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(specs, "cache", specs.SpecCache())
    config.bind(session.info, config.EngineConfig(spec_cache=1))
    first = _deploy(session, "four_steps.bpmn")
    second = _deploy(session, "camunda_approval.bpmn")
    a = specs.load(session, first)
    specs.load(session, second)
    assert len(specs.cache) == 1
    again = specs.load(session, first)  # evicted: parsed anew, the same process
    assert again is not a and again.spec.name == a.spec.name


def test_an_input_collection_larger_than_the_limit_fails_the_task_and_leaves_the_case(session, deploy, make_user):
    """Every built spec reads multi-instance input collections through the size check
    (specs.bound_inputs), whichever way the spec was built or restored."""
    from engine.cases import services
    from engine.errors import ProcessFailure
    from models import HumanTask

    deploy(DATA / "bounds" / "bounds_collection.bpmn")
    desk = make_user("service_desk")
    case = services.start_case(session, "bounds_collection", {}, actor=desk, title="many")
    session.commit()  # what the request that opened it did
    [task] = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready"))
    state = case.state
    with pytest.raises(ProcessFailure) as failed:
        services.complete_task(session, task.id, {"n": 1001}, actor=desk)
    assert failed.value.details == {"element_id": "fan_out"}
    assert "at most 1,000 instances" in failed.value.message and "'items' has 1001 items" in failed.value.message
    session.rollback()  # what the failed request does
    session.expire_all()
    assert session.get(type(case), case.id).state == state
    done = services.complete_task(session, task.id, {"n": 3}, actor=desk)  # a small list runs
    assert [t.element_id for t in session.scalars(select(HumanTask).where(
        HumanTask.case_id == done.id, HumanTask.state == "ready"))] == ["after"]
