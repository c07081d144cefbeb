"""Moving a process's open cases to another version, in batches (docs/migration.md).

The cases are read a batch at a time (`BATCH`, in id order) and planned in one read-only
transaction per batch; each case that can move then moves in a transaction of its own, guarded
by the version of the case row read when it was planned. A case that changed in between (a
person completed a task, a timer fired) is skipped and reported, never half-moved; running
the migration again picks it up. A dry run plans and moves nothing.

Like the worker, this is an edge: it takes a sessionmaker and commits each case's move.
At the end one `cases_migrated` event on the system chain records the run.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.cases import migration, queries
from engine.errors import Conflict, EngineError, InvalidData, NotFound, said
from engine.processes import catalog
from engine.records import audit
from models import User

log = logging.getLogger(__name__)

BATCH = 200


@dataclass
class CaseOutcome:
    """What happened to one case: `can_move` / `cannot_move` (dry run), `moved`, `skipped`."""

    case_key: str
    from_version: int
    to_version: int
    status: str
    reasons: list[migration.Reason] = field(default_factory=list)
    title: str = ""
    skip: str = ""     # why a case was skipped: `changed` (since it was planned) or `failed` (in the target)
    message: str = ""  # the engine's words for it


@dataclass
class MigrationReport:
    key: str
    to_version: int
    to_sha256: str
    dry_run: bool
    cases: list[CaseOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.cases if c.status == status)


# Called with the case key just before a case moves (tests use it to act on the case in between).
BeforeMove = Callable[[str], None]


def _actor(session: Session, actor_id: int | None) -> User | None:
    if actor_id is None:
        return None
    actor = session.get(User, actor_id)
    if actor is None:
        raise NotFound(said("no user #%(user)s", user=actor_id))
    return actor


def run_migration(factory: sessionmaker[Session], key: str, *, to_version: int, from_version: int | None = None,
                  case_keys: Iterable[str] = (), mapping: Mapping[str, str] | None = None, dry_run: bool = False,
                  actor_id: int | None = None, batch: int = BATCH,
                  before_move: BeforeMove | None = None) -> MigrationReport:
    """Plan (dry run) or move the open cases of `key` to version `to_version`."""
    named = list(dict.fromkeys(case_keys))
    with factory.begin() as session:  # one transaction: commit, or roll back on error
        actor = _actor(session, actor_id)
        migration.check_may_migrate(actor)
        target = catalog.get_definition(session, key, to_version)
        report = MigrationReport(key, to_version, target.sha256, dry_run)
        for ref in named:
            case = queries.find_case(session, ref)
            if case.process_key != key:
                raise InvalidData(said("%(case)s is a case of %(other)s, not of %(process)s", case=case.key,
                                       other=case.process_key, process=key), {"case": [ref]})
    after_id = 0
    planner: migration.Planner | None = None
    while True:
        with factory.begin() as session:  # one transaction: commit, or roll back on error
            if planner is None:
                planner = migration.Planner(session, catalog.get_definition(session, key, to_version), mapping)
            cases = migration.open_cases(session, key, from_version=from_version, case_keys=named,
                                         after_id=after_id, limit=batch)
            if not cases:
                break
            after_id = cases[-1].id
            plans = [planner.plan(session, case) for case in cases]
        for plan in plans:
            if dry_run or not plan.can_move:
                status = "can_move" if plan.can_move else "cannot_move"
                report.cases.append(CaseOutcome(plan.case_key, plan.from_version, to_version, status, plan.reasons,
                                                plan.title))
                continue
            report.cases.append(_move(factory, planner, plan, actor, before_move))
    if not dry_run and report.count("moved"):
        with factory.begin() as session:  # one transaction: commit, or roll back on error
            audit.append_system(session, actor=_actor(session, actor_id), type="cases_migrated", data={
                "process": key, "to": {"version": to_version, "sha256": report.to_sha256},
                "moved": [c.case_key for c in report.cases if c.status == "moved"],
                "skipped": [c.case_key for c in report.cases if c.status == "skipped"],
                "cannot_move": [c.case_key for c in report.cases if c.status == "cannot_move"],
                "mapping": dict(mapping or {}),
            })
    return report


def _move(factory: sessionmaker[Session], planner: migration.Planner, plan: migration.CasePlan, actor: User | None,
          before_move: BeforeMove | None) -> CaseOutcome:
    """Move one planned case in its own transaction; a case that changed meanwhile is skipped."""
    if before_move is not None:
        before_move(plan.case_key)
    outcome = CaseOutcome(plan.case_key, plan.from_version, planner.target.version, "moved", title=plan.title)
    try:
        with factory.begin() as session:  # one transaction: commit, or roll back on error
            planner.move_planned(session, plan, actor=actor)
    except (StaleDataError, IntegrityError, Conflict):  # the guards of the writes (migration.Planner.move_planned)
        outcome.status, outcome.skip = "skipped", "changed"
        outcome.message = said("%(case)s changed since it was planned; run the migration again to move it",
                               case=plan.case_key)
    except EngineError as err:  # a step that failed in the target version: the case stays where it was
        log.warning("case %s not moved: %s", plan.case_key, err.message)
        outcome.status, outcome.skip, outcome.message = "skipped", "failed", err.message
    return outcome
