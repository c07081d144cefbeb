"""Moving open cases to another version: dry run, move, mapping, a case changed meanwhile,
moving back, SLA clocks projected anew. On SQLite and PostgreSQL (committed databases)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from sqlalchemy import select, update

from engine.cases import migration, queries
from engine.errors import NotAllowed
from engine.jobs import migrations, worker
from engine.people import users
from engine.processes import deployment
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, ProcessDefinition
from tests.conftest import statements
from tests.engine.timer_helpers import UTC, World, migrated_copy

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
DATA = Path(__file__).parent.parent / "data"
# v1 start -> triage (SLA 8h) -> work -> end; v2 adds review after work; v3 has assess instead
# of triage; v4 is v1 with a 2h triage SLA.
VERSIONS = ("migrate_v1.bpmn", "migrate_v2.bpmn", "migrate_v3.bpmn", "migrate_sla.bpmn")


def _world(engine) -> World:
    w = World(engine)
    with w.tx(T0 - H) as s:
        owner = users.create_user(s, "olga", ["process_owner"], actor=None)
        users.create_user(s, "sam", ["service_desk"], actor=None)
        users.create_user(s, "erin", ["engineer"], actor=None)
        users.create_user(s, "rick", [], actor=None)
        users.create_user(s, "eve", ["engineer"], actor=None)
        deployment.deploy(s, [("mig.bpmn", (DATA / VERSIONS[0]).read_bytes())], actor=owner)
    return w


def later_versions(world: World) -> None:
    """Deploy versions 2 to 4 (cases started before run on version 1)."""
    with world.tx(T0) as s:
        owner = world.user(s, "olga")
        for name in VERSIONS[1:]:
            deployment.deploy(s, [("mig.bpmn", (DATA / name).read_bytes())], actor=owner)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, template: Path, tmp_path: Path):
    if request.param == "sqlite":
        engine = migrated_copy(template, tmp_path / "opsgate.db")
        yield _world(engine)
        engine.dispose()
    else:
        yield _world(request.getfixturevalue("pg_clean"))


def owner_id(world: World) -> int:
    with world.tx() as s:
        return world.user(s, "olga").id


def run(world: World, at: dt.datetime, **kw):
    with world.tx() as s:
        if len(s.scalars(select(ProcessDefinition.id)).all()) == 1:
            later_versions(world)
    with clock.frozen(at):
        return migrations.run_migration(world.factory, "mig", actor_id=owner_id(world), **kw)


def version_of(world: World, key: str) -> int:
    with world.tx() as s:
        case = queries.find_case(s, key)
        return s.get(ProcessDefinition, case.definition_id).version


def test_dry_run_says_who_can_move_and_why_not(world):
    at_triage = world.start(T0, "mig")
    at_work = world.start(T0, "mig")
    world.complete(T0 + H, at_work, "triage", "sam")
    report = run(world, T0 + 2 * H, to_version=3, dry_run=True)
    said = {c.case_key: (c.status, [r.message for r in c.reasons]) for c in report.cases}
    assert said[at_work] == ("cannot_move", [
        "Triage (triage, UserTask) is not in the target version; map it to an element of the target"])
    assert said[at_triage][0] == "cannot_move"
    assert any("triage" in m for m in said[at_triage][1])
    # a change that adds a task after the cases' position: both can move
    report = run(world, T0 + 2 * H, to_version=2, dry_run=True)
    assert {c.case_key: c.status for c in report.cases} == {at_triage: "can_move", at_work: "can_move"}
    assert version_of(world, at_triage) == 1  # a dry run moves nothing


def test_move_adds_the_new_task_and_records_both_versions(world):
    key = world.start(T0, "mig")
    world.complete(T0 + H, key, "triage", "sam")
    report = run(world, T0 + 2 * H, to_version=2)
    assert [(c.case_key, c.status) for c in report.cases] == [(key, "moved")]
    assert version_of(world, key) == 2
    assert world.ready(key) == ["work"]
    world.complete(T0 + 3 * H, key, "work", "erin")
    assert world.ready(key) == ["review"]  # the element version 2 added
    with world.tx() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.type == "case_migrated")).one()
        v1, v2 = (s.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "mig",
                                                              ProcessDefinition.version == v)).one() for v in (1, 2))
        assert event.actor == "olga"
        assert event.data["from"] == {"version": 1, "sha256": v1.sha256}
        assert event.data["to"] == {"version": 2, "sha256": v2.sha256}
        run_event = s.scalars(select(AuditEvent).where(AuditEvent.type == "cases_migrated")).one()
        assert run_event.data["moved"] == [key]


def test_a_removed_waiting_task_stops_the_move_and_a_mapping_lets_it(world):
    key = world.start(T0, "mig")
    report = run(world, T0 + H, to_version=3)
    assert report.cases[0].status == "cannot_move"
    assert version_of(world, key) == 1
    with world.tx() as s:
        claimed = s.scalars(select(HumanTask).where(HumanTask.state == "ready")).one()
        task_id = claimed.id
    report = run(world, T0 + H, to_version=3, mapping={"triage": "assess", "triage_sla": "assess_sla"})
    assert report.cases[0].status == "moved", report.cases[0]
    assert world.ready(key) == ["assess"]
    with world.tx() as s:
        row = s.get(HumanTask, task_id)  # the same task, renamed: claims and history stay with it
        assert (row.element_id, row.name, row.state) == ("assess", "Assess", "ready")
    assert [t[:2] for t in world.timers(key)] == [("assess_sla", "sla_warning"), ("assess_sla", "boundary")]
    world.complete(T0 + 2 * H, key, "assess", "sam")
    assert world.ready(key) == ["work"]


def test_a_case_changed_during_the_run_is_skipped(world):
    moved = world.start(T0, "mig")
    changed = world.start(T0, "mig")

    def act(case_key: str) -> None:
        if case_key == changed:
            world.complete(T0 + H, changed, "triage", "sam")

    later_versions(world)
    with clock.frozen(T0 + H):
        report = migrations.run_migration(world.factory, "mig", to_version=2, actor_id=owner_id(world),
                                          before_move=act)
    outcome = {c.case_key: c for c in report.cases}
    assert outcome[moved].status == "moved"
    assert outcome[changed].status == "skipped"
    assert "changed since it was planned" in outcome[changed].message
    assert version_of(world, changed) == 1  # not half-moved
    assert world.ready(changed) == ["work"]
    # running again moves it
    report = run(world, T0 + 2 * H, to_version=2, from_version=1)
    assert [(c.case_key, c.status) for c in report.cases] == [(changed, "moved")]


def test_a_run_compares_each_version_with_the_target_once(world, monkeypatch):
    keys = [world.start(T0, "mig") for _ in range(3)]
    later_versions(world)
    made = []

    def counted(*args):
        made.append(args[1:])
        return SpecDiff(*args)

    monkeypatch.setattr(migration, "SpecDiff", counted)
    with clock.frozen(T0 + H):
        dry = migrations.run_migration(world.factory, "mig", to_version=2, actor_id=owner_id(world), dry_run=True)
        moved = migrations.run_migration(world.factory, "mig", to_version=2, actor_id=owner_id(world))
    assert [c.status for c in dry.cases] == ["can_move"] * 3
    assert [c.status for c in moved.cases] == ["moved"] * 3
    assert len(made) == 2  # version 1 against version 2, once a run, not once a case
    assert all(version_of(world, k) == 2 for k in keys)


def test_a_case_whose_row_changed_without_an_event_is_skipped_with_nothing_written(world):
    """The move does not read the case again: the guarded write of its row is what refuses it."""
    key = world.start(T0, "mig")
    timers = world.timers(key)

    def touch(case_key: str) -> None:
        with world.tx() as s:
            s.execute(update(Case).where(Case.key == case_key).values(version_id=Case.version_id + 1))

    later_versions(world)
    with clock.frozen(T0 + H):
        report = migrations.run_migration(world.factory, "mig", to_version=4, actor_id=owner_id(world),
                                          before_move=touch)
    assert [(c.status, c.skip) for c in report.cases] == [("skipped", "changed")]
    assert "changed since it was planned" in report.cases[0].message
    assert version_of(world, key) == 1
    assert world.timers(key) == timers  # the 8 h clock, not version 4's 2 h one
    assert world.events(key, "case_migrated") == []


def test_a_moved_case_moves_back(world):
    key = world.start(T0, "mig")
    run(world, T0 + H, to_version=2)
    report = run(world, T0 + 2 * H, to_version=1, case_keys=[key])
    assert report.cases[0].status == "moved"
    assert version_of(world, key) == 1
    assert world.events(key, "case_migrated") == [("case_migrated", None)] * 2
    world.complete(T0 + 3 * H, key, "triage", "sam")
    world.complete(T0 + 3 * H, key, "work", "erin")
    assert world.case(key).status == "closed"  # version 1 has no review


def test_a_shorter_sla_escalates_at_the_new_time(world):
    key = world.start(T0, "mig")
    assert ("triage_sla", "boundary", T0 + 8 * H) in world.timers(key)
    run(world, T0 + H, to_version=4)  # 2h SLA: 1h used, 1h left
    assert ("triage_sla", "boundary", T0 + 2 * H) in world.timers(key)
    worker.run_once(world.factory, now=T0 + 2 * H - S)
    assert world.events(key, "timer_fired") == []
    worker.run_once(world.factory, now=T0 + 2 * H + S)
    assert ("timer_fired", "triage_sla") in world.events(key, "timer_fired")
    assert world.case(key).status == "closed"  # the SLA path of the test process ends the case


def test_named_case_that_is_closed_cannot_move_and_other_processes_are_refused(world):
    key = world.start(T0, "mig")
    world.complete(T0 + H, key, "triage", "sam")
    world.complete(T0 + H, key, "work", "erin")
    report = run(world, T0 + 2 * H, to_version=2, case_keys=[key], dry_run=True)
    assert [(c.status, [r.rule for r in c.reasons]) for c in report.cases] == [("cannot_move", ["not_open"])]


def test_only_process_owners_move_cases(world):
    world.start(T0, "mig")
    with world.tx() as s:
        erin = world.user(s, "erin").id
    with pytest.raises(NotAllowed):
        migrations.run_migration(world.factory, "mig", to_version=2, actor_id=erin)


# What moving one case writes, in order: its audit event, its kept task row renamed (with its
# candidate groups and bars rewritten), its timer rows, and its case row under its version guard.
ONE_MOVE = ["INSERT audit_event", "UPDATE human_task", "DELETE human_task_group", "INSERT human_task_group",
            "DELETE human_task_bar", "DELETE timer", "INSERT timer", "UPDATE case"]


def test_a_batch_is_read_with_one_statement_and_a_move_writes_a_fixed_list(world):
    keys = [world.start(T0, "mig") for _ in range(4)]
    later_versions(world)
    actor = owner_id(world)
    with clock.frozen(T0 + H), statements(world.engine) as seen:
        report = migrations.run_migration(world.factory, "mig", to_version=2, actor_id=actor, batch=2)
    assert [(c.case_key, c.status) for c in report.cases] == [(k, "moved") for k in keys]
    # From the first batch's read on: each batch is one SELECT of its cases (the first also reads
    # the version they are on), and each case's move writes the same rows and reads nothing.
    batches = seen[seen.index("SELECT case"):]
    assert batches[:2 + 2 * len(ONE_MOVE)] == ["SELECT case", "SELECT process_definition", *ONE_MOVE * 2]
    assert batches[2 + 2 * len(ONE_MOVE):][:2 + 2 * len(ONE_MOVE)] == ["SELECT case", *ONE_MOVE * 2, "SELECT case"]
    assert all(version_of(world, k) == 2 for k in keys)
    assert world.ready(keys[0]) == ["triage"]
