"""Votes on a case (docs/bpmn.md, "Votes"): who is asked, casting a vote, closing a vote at its
deadline, and the tally people read.

A vote task runs as a parallel multi-instance (engine.processes.votes.expand) over the list
`<task>_voters`, which the engine writes into the live tasks' data before every action (the
members of the group as they are when the vote opens, less the requester and anyone a
separation-of-duties rule bars). Each instance is one member's vote, assigned to them. A vote is
kept on its instance (`internal_data["vote"]`, not in the case data); the instance that decides
writes the result where the process routes on it: `decision`, `<task>_decision`, `<task>_result`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import readable, stepping
from engine.people import users
from engine.people.roles import REQUESTER
from engine.processes import votes
from engine.processes.manifest import TaskRules
from engine.records import audit
from engine.timing import clock
from models import Case, Group, HumanTask, User, user_group

VOTE = "vote"  # the key of a cast vote in its instance's internal data


def members(session: Session, group: str) -> list[str]:
    """The names of a group's active members, sorted."""
    return list(session.scalars(select(User.name).join(user_group, user_group.c.user_id == User.id)
                                .join(Group, Group.id == user_group.c.group_id)
                                .where(Group.name == group, User.active).order_by(User.name)))


def eligible(session: Session, case: Case, rules: TaskRules) -> list[str]:
    """Who votes: the group's active members, less the case's requester (never on their own
    case) and whoever did a task the vote's separation-of-duties rules name."""
    group = rules.candidate_groups[0] if rules.candidate_groups else REQUESTER
    barred = {n for other in rules.sod_not_actor_of for n in (case.actors or {}).get(other, ())}
    requester = users.name_of(session, case.requester_id)
    if requester is not None:
        barred.add(requester)
    return [name for name in members(session, group) if name not in barred]


def prime(session: Session, instance: stepping.Instance, *, root: bool = False) -> None:
    """Write each vote task's current voters into the data the next steps inherit (the live
    tasks, or the root task of a case about to start), so a vote that opens in this action asks
    the members as they are now."""
    vote_tasks = instance.loaded.manifest.votes()
    if not vote_tasks:
        return
    values = {votes.voters_key(k): eligible(session, instance.case, rules) for k, rules in vote_tasks.items()}
    targets = [instance.workflow.task_tree] if root else stepping.live_tasks(instance.workflow)
    for task in targets:
        # A vote under way keeps the members it asked (its own key is left alone).
        own = votes.voters_key(getattr(task.task_spec, "bpmn_id", None) or "")
        task.data.update({k: v for k, v in values.items() if k != own})


def _round(spiff_task: Any) -> Any:
    """The multi-instance task a vote instance belongs to."""
    return spiff_task.parent


def _cast_votes(mi_task: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for child in mi_task.children:
        vote = child.internal_data.get(VOTE)
        if child.state == TaskState.COMPLETED and vote:
            out[vote["voter"]] = vote
    return out


def _chairs(session: Session, rules: votes.VoteRules, voters: list[str]) -> set[str]:
    return set(members(session, rules.chair)) & set(voters) if rules.chair else set()


def cast(session: Session, instance: stepping.Instance, task: HumanTask, spiff_task: Any, cleaned: dict[str, Any],
         *, actor: User, voter: str) -> votes.Tally:
    """Record `voter`'s vote (cast by `actor`, who may be their deputy), decide the vote if it
    can be decided now, and move the case on. Audits `vote_cast`, and the gate's event when the
    vote is decided."""
    rules = instance.task_rules(task.element_id)
    assert rules.vote is not None
    mi_task = _round(spiff_task)
    voters = list(mi_task.data.get(votes.voters_key(task.element_id)) or ())
    vote = {"voter": voter, "decision": cleaned["decision"], "comment": cleaned.get("comment") or "",
            "at": clock.now().isoformat()}
    if actor.name != voter:
        vote["by"] = actor.name
    cast_so_far = {name: v["decision"] for name, v in _cast_votes(mi_task).items()}
    cast_so_far[voter] = vote["decision"]
    tally = votes.decide(rules.vote, voters, cast_so_far, _chairs(session, rules.vote, voters))
    spiff_task.internal_data[VOTE] = vote
    _settle(spiff_task, task.element_id, tally, by=actor.name)
    stepping.run_task(instance, spiff_task)
    audit.append(session, instance.case, actor=actor, type="vote_cast", task=task.element_id,
                 data={"task_id": task.id, "name": task.name, "voter": voter,
                       **({"on_behalf_of": voter} if actor.name != voter else {}),
                       "data": {"decision": vote["decision"], "comment": vote["comment"]}, "tally": _counts(tally)})
    if tally.result is not None:
        _audit_result(session, instance.case, task.element_id, task.name, tally, actor=actor)
    return tally


def _settle(spiff_task: Any, element: str, tally: votes.Tally, *, by: str | None) -> None:
    """Write what the process reads of the vote into the instance that runs next: the result
    once decided (which ends the multi-instance), nothing else."""
    # The voter leaves the data with the instance: a later round of the same vote (after a
    # rework) must not find its input item already set.
    spiff_task.data.pop(votes.voter_key(element), None)
    if tally.result is None:
        spiff_task.data[votes.result_key(element)] = None
        return
    spiff_task.data.update({votes.result_key(element): tally.result, "decision": tally.result,
                            f"{element}_decision": tally.result, f"{element}_by": by or "vote",
                            f"{element}_tally": _counts(tally)})


def _counts(tally: votes.Tally) -> dict[str, Any]:
    return {"voters": tally.voters, "approve": tally.approve, "reject": tally.reject, "result": tally.result,
            "reason": tally.reason}


def _audit_result(session: Session, case: Case, element: str, name: str, tally: votes.Tally, *,
                  actor: User | None) -> None:
    kind = "gate_approved" if tally.result == votes.APPROVE else "gate_rejected"
    audit.append(session, case, actor=actor, type=kind, task=element,
                 data={"name": name, "data": {"decision": tally.result}, "vote": _counts(tally)})


def close_at_deadline(session: Session, instance: stepping.Instance, element: str) -> bool:
    """Close a vote whose quorum deadline passed with the result its `vote_on_deadline` names
    (approve or reject); return whether a vote was open to close."""
    rules = instance.task_rules(element)
    if rules.vote is None or rules.vote.on_deadline not in (votes.APPROVE, votes.REJECT):
        return False
    for mi_task in _open_rounds(instance.workflow, element):
        waiting = [c for c in mi_task.children if c.state == TaskState.READY]
        if not waiting:
            continue
        cast_so_far = {name: v["decision"] for name, v in _cast_votes(mi_task).items()}
        voters = list(mi_task.data.get(votes.voters_key(element)) or ())
        approve = sum(1 for v in cast_so_far.values() if v == votes.APPROVE)
        tally = votes.Tally(len(voters), approve, len(cast_so_far) - approve, rules.vote.on_deadline, "deadline")
        _settle(waiting[0], element, tally, by=None)
        stepping.run_task(instance, waiting[0])
        audit.append(session, instance.case, actor=None, type="vote_closed", task=element,
                     data={"name": rules.name, "reason": "deadline", "tally": _counts(tally)})
        _audit_result(session, instance.case, element, rules.name, tally, actor=None)
        return True
    return False


def _open_rounds(workflow: Any, element: str) -> list[Any]:
    return [t for t in stepping.live_tasks(workflow)
            if isinstance(t.task_spec, MultiInstanceTask) and getattr(t.task_spec, "bpmn_id", None) == element]


# ---------------------------------------------------------------- what people read


@dataclass
class Ballot:
    """One member's place in a vote: their vote and comment once cast (and who cast it for them)."""

    voter: str
    decision: str | None = None
    comment: str = ""
    at: str | None = None
    by: str | None = None
    voter_name: str = ""
    by_name: str | None = None


@dataclass
class VoteView:
    """A vote round on a case page: the rule, the count and each member's ballot."""

    element: str
    name: str
    name_zh: str | None
    rules: votes.VoteRules
    open: bool
    tally: votes.Tally
    ballots: list[Ballot] = field(default_factory=list)
    due_at: dt.datetime | None = None
    opened: float = 0.0


def views(session: Session, workflow: Any, manifest: Any, timers: Sequence[Any] = ()) -> list[VoteView]:
    """Every vote round of a case, oldest first, from its restored instance; each ballot names
    its voter as people read them (display name)."""
    out = []
    for element, rules in manifest.votes().items():
        assert rules.vote is not None
        deadline = next((t.due_at for t in timers if t.element_id == votes.deadline_id(element)
                         and t.kind != "sla_warning"), None)
        for mi_task in [t for t in workflow.get_tasks()
                        if isinstance(t.task_spec, MultiInstanceTask) and t.task_spec.bpmn_id == element
                        and t.state in (TaskState.STARTED, TaskState.READY, TaskState.COMPLETED)]:
            out.append(_view(session, element, rules, mi_task, deadline))
    out.sort(key=lambda v: v.opened)
    names = readable.display_names(session, {n for v in out for b in v.ballots for n in (b.voter, b.by) if n})
    for view in out:
        for ballot in view.ballots:
            ballot.voter_name = names.get(ballot.voter, ballot.voter)
            ballot.by_name = names.get(ballot.by, ballot.by) if ballot.by else None
    return out


def _view(session: Session, element: str, rules: TaskRules, mi_task: Any, deadline: dt.datetime | None) -> VoteView:
    assert rules.vote is not None
    voters = list(mi_task.data.get(votes.voters_key(element)) or ())
    cast_votes = _cast_votes(mi_task)
    ballots = [Ballot(voter=name, decision=cast_votes.get(name, {}).get("decision"),
                      comment=cast_votes.get(name, {}).get("comment") or "", at=cast_votes.get(name, {}).get("at"),
                      by=cast_votes.get(name, {}).get("by")) for name in voters]
    decided = {n: v["decision"] for n, v in cast_votes.items()}
    tally = votes.decide(rules.vote, voters, decided, _chairs(session, rules.vote, voters))
    open_now = mi_task.state == TaskState.STARTED
    result = mi_task.data.get(votes.result_key(element)) if not open_now else None
    if result and tally.result is None:
        tally = votes.Tally(tally.voters, tally.approve, tally.reject, result, "deadline")
    return VoteView(element=element, name=rules.name, name_zh=rules.name_zh, rules=rules.vote, open=open_now,
                    tally=tally, ballots=ballots, due_at=deadline if open_now else None,
                    opened=mi_task.last_state_change)


