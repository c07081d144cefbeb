"""Four-eyes on process changes (docs/migration.md, "Four-eyes on process changes").

With the `four_eyes` setting on (the default of a new installation: `opsgate init` on an
empty database turns it on), a deploy by a process owner or an admin stores *proposed*
versions and opens one `process_change` case (PCH) per version; its `review` task is for
another process owner: the case's requester is the author and the task's
`sod_not_requester` rule bars them. Completing the review (`approve` or `reject` with a
comment) closes the case, and `settle` puts the version live or marks it rejected, recording
who, when and the comment on the version. Deploys by the system (`opsgate init`, `opsgate
deploy` without `--as`) go live at once. An admin may put a proposed version live without
the review (`put_live`, an emergency) with a reason: audited (`process_put_live`) and told to
every process owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cases import persistence, review, services
from engine.errors import Conflict, InvalidData, NotAllowed, NotFound, said
from engine.notifications import outbox
from engine.processes import catalog, compare, deployment
from engine.processes.schedule import schedule_start_timers
from engine.records import audit
from engine.timing import clock
from models import AuditEvent, Case, HumanTask, ProcessDefinition, Setting, User

PROCESS = review.PROCESS
FOUR_EYES = "four_eyes"
# A version's status as a word in a sentence (the pages' own words for it).
VERSION_STATUS = {"live": said("live"), "proposed": said("proposed"), "rejected": said("rejected")}


def four_eyes(session: Session) -> bool:
    """Tell whether process changes need a second process owner (the `four_eyes` setting)."""
    found = session.get(Setting, FOUR_EYES)
    return found is not None and found.value == "on"


def set_four_eyes(session: Session, on: bool, *, actor: User | None) -> None:
    """Turn four-eyes on process changes on or off (admins; None is the system)."""
    if actor is not None and "admin" not in actor.group_names:
        raise NotAllowed(said("role: only admins change the four-eyes setting"))
    found = session.get(Setting, FOUR_EYES)
    value = "on" if on else "off"
    if found is None:
        session.add(Setting(key=FOUR_EYES, value=value))
    elif found.value == value:
        return
    else:
        found.value = value
    session.flush()
    audit.append_system(session, actor=actor, type="setting_changed", data={"setting": FOUR_EYES, "value": value})


def default_four_eyes(session: Session, *, new_installation: bool) -> None:
    """Write the setting once: on for a new installation, off for one that already ran processes."""
    if session.get(Setting, FOUR_EYES) is None:
        set_four_eyes(session, new_installation, actor=None)


def deploy(session: Session, files: list[tuple[str, bytes]], *, actor: User | None,
           note: str = "") -> list[deployment.DeployResult]:
    """Deploy files: live at once, or, under four-eyes and by a person, as proposals each reviewed in a case."""
    proposing = actor is not None and four_eyes(session)
    results = deployment.deploy(session, files, actor=actor, proposed=proposing, note=note)
    if proposing and actor is not None:
        for result in results:
            if result.created:
                _open_review(session, result.definition, actor)
    return results


def _open_review(session: Session, definition: ProcessDefinition, author: User) -> Case:
    case = services.start_case(session, PROCESS, {"process_key": definition.key, "version": definition.version,
                                                  "change_note": definition.change_note or ""},
                               actor=author, title=f"{definition.name or definition.key} v{definition.version}")
    definition.review_case = case.key
    session.flush()
    return case


def get_proposal(session: Session, key: str, version: int) -> ProcessDefinition:
    """Return a version with its review state (NotFound naming it)."""
    return catalog.get_definition(session, key, version)


def review_task(session: Session, definition: ProcessDefinition) -> HumanTask | None:
    """The ready review task of a proposed version, if its review is open."""
    if not definition.review_case:
        return None
    return session.scalars(select(HumanTask).join(Case, Case.id == HumanTask.case_id).where(
        Case.key == definition.review_case, HumanTask.element_id == "review", HumanTask.state == "ready")).first()


def decide(session: Session, key: str, version: int, decision: str, comment: str, *, actor: User) -> Case:
    """Approve or reject a proposed version as its reviewer (completes the review case's task)."""
    definition = get_proposal(session, key, version)
    if definition.status != "proposed":
        raise Conflict(said("%(process)s version %(version)s is %(status)s, not waiting for a review", process=key,
                            version=version, status=VERSION_STATUS.get(definition.status, definition.status)))
    task = review_task(session, definition)
    if task is None:
        raise NotFound(said("%(process)s version %(version)s has no open review", process=key, version=version))
    return services.complete_task(session, task.id, {"decision": decision, "comment": comment}, actor=actor)


@dataclass(frozen=True)
class PutLive:
    key: str
    version: int
    notified: int


def put_live(session: Session, key: str, version: int, reason: str, *, actor: User) -> PutLive:
    """Put a proposed version live without a review (an emergency): admins only, with a reason."""
    if "admin" not in actor.group_names:
        raise NotAllowed(said("role: only admins put a version live without a review"))
    if not reason.strip():
        raise InvalidData(said("say why the version goes live without a review"), {"reason": [said("is required")]})
    definition = get_proposal(session, key, version)
    if definition.status != "proposed":
        raise Conflict(said("%(process)s version %(version)s is %(status)s, not proposed", process=key, version=version,
                            status=VERSION_STATUS.get(definition.status, definition.status)))
    definition.status = "live"
    definition.emergency = True
    definition.reviewed_by = actor.name
    definition.reviewed_at = clock.now()
    definition.review_comment = reason.strip()
    session.flush()
    audit.append_system(session, actor=actor, type="process_put_live", data={
        "key": key, "version": version, "sha256": definition.sha256, "reason": definition.review_comment,
        "emergency": True})
    schedule_start_timers(session, definition)
    task = review_task(session, definition)
    if task is not None:
        _cancel_review(session, task, actor=actor, reason=definition.review_comment)
    owners = outbox.group_members(session, ["process_owner"])
    notified = outbox.notify(session, kind="process_put_live", recipients=owners,
                             subject=f"{definition.name or key} v{version} was put live without a review",
                             body=f"{actor.name} put {key} version {version} live as an emergency: "
                                  f"{definition.review_comment}")
    return PutLive(key, version, notified)


def _cancel_review(session: Session, task: HumanTask, *, actor: User, reason: str) -> None:
    """End a review made moot by an emergency: its task and case are cancelled, on its record."""
    case = task.case
    now = clock.now()
    persistence.end_task(session, task, state="cancelled", ended_at=now)
    audit.append(session, case, actor=actor, type="case_cancelled", task="review",
                 data={"reason": f"put live without a review: {reason}"})
    case.status, case.outcome, case.closed_at, case.updated_at = "cancelled", "cancelled", now, now
    persistence.write_case(session, case)


def history(session: Session, key: str) -> dict[str, Any]:
    """A process's version history, newest first: who proposed each version, who reviewed it, when
    and why, how many open cases run on it; and every migration of its cases between versions."""
    rows = session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                           .order_by(ProcessDefinition.version.desc())).all()
    if not rows:
        raise NotFound(said("no process %(process)s", process=repr(key)))
    counts = dict(session.execute(select(Case.definition_id, func.count()).where(
        Case.process_key == key, Case.status == "open").group_by(Case.definition_id)).all())

    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    versions = [{"version": d.version, "status": d.status, "sha256": d.sha256, "proposed_by": d.deployed_by,
                 "proposed_at": when(d.deployed_at), "change_note": d.change_note, "reviewed_by": d.reviewed_by,
                 "reviewed_at": when(d.reviewed_at), "review_comment": d.review_comment,
                 "review_case": d.review_case, "emergency": d.emergency, "open_cases": int(counts.get(d.id, 0))}
                for d in rows]
    return {"key": key, "versions": versions, "migrations": migrations_of(session, key)}


def migrations_of(session: Session, key: str) -> list[dict[str, Any]]:
    """Every migration of a process's open cases between versions, newest first (from the
    `cases_migrated` events of the system chain)."""
    runs = session.scalars(select(AuditEvent).where(AuditEvent.chain == audit.SYSTEM_CHAIN,
                                                    AuditEvent.type == "cases_migrated")
                           .order_by(AuditEvent.seq.desc())).all()
    return [{"at": e.at.isoformat() if e.at is not None else None, "by": e.actor, "to": (e.data or {}).get("to"),
             "moved": len((e.data or {}).get("moved", [])), "skipped": len((e.data or {}).get("skipped", [])),
             "cannot_move": len((e.data or {}).get("cannot_move", [])), "mapping": (e.data or {}).get("mapping", {})}
            for e in runs if (e.data or {}).get("process") == key]


@dataclass
class ReviewView:
    """What the review page shows: the proposal, the live version it changes, the difference."""

    definition: ProcessDefinition
    live: ProcessDefinition | None
    diff: compare.VersionDiff
    rules: list[compare.RuleChange]
    task: HumanTask | None
    may_review: bool
    is_author: bool


def review_view(session: Session, key: str, version: int, *, actor: User) -> ReviewView:
    """Read a version against the live one, and whether the actor may review it."""
    definition = get_proposal(session, key, version)
    live = catalog.latest(session, key)
    if live is not None and live.id == definition.id:
        live = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.status == "live",
            ProcessDefinition.version < version).order_by(ProcessDefinition.version.desc()).limit(1)).first()
    empty = b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'
    diff = compare.compare_bpmn(live.bpmn.encode() if live is not None else empty, definition.bpmn.encode())
    rules = compare.compare_dmn(live.extra_files if live is not None else [], definition.extra_files or [])
    task = review_task(session, definition) if definition.status == "proposed" else None
    is_author = definition.deployed_by_id is not None and definition.deployed_by_id == actor.id
    may_review = task is not None and not is_author and "process_owner" in actor.group_names
    return ReviewView(definition, live, diff, rules, task, may_review, is_author)
