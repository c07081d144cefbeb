"""Group approval: a user task marked as a vote (docs/bpmn.md, "Votes").

A process owner marks an approval gate with the `vote` property; opsgate turns it into a
parallel SpiffWorkflow multi-instance task with one instance per eligible member of its group
(`expand`, applied on every parse; the stored source stays as written), and decides the vote
from the votes cast (`decide`). What the engine does with the votes (who is asked, casting,
closing at the deadline, the tally people read) is engine.cases.voting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.errors import said

RULES = ("any", "all", "majority")
ON_DEADLINE = ("escalate", "reject", "approve")
APPROVE, REJECT = "approve", "reject"


@dataclass(frozen=True)
class VoteRules:
    """How a vote decides: the rule (`any`, `all`, `majority`, or `n` approvals of the group),
    whether one reject vetoes, the group whose voting member breaks a tie (the chair), and the
    quorum deadline with what happens when it passes."""

    rule: str = "majority"
    n: int | None = None
    veto: bool = False
    chair: str | None = None
    deadline: str | None = None
    on_deadline: str = "escalate"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> VoteRules | None:
        if not raw:
            return None
        return cls(rule=str(raw.get("rule") or "majority"), n=raw.get("n"), veto=bool(raw.get("veto")),
                   chair=raw.get("chair") or None, deadline=raw.get("deadline") or None,
                   on_deadline=str(raw.get("on_deadline") or "escalate"))

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "n": self.n, "veto": self.veto, "chair": self.chair,
                "deadline": self.deadline, "on_deadline": self.on_deadline}

    def needed(self, voters: int) -> int:
        """Approvals that pass the vote among `voters` eligible members."""
        if self.rule == "any":
            return 1
        if self.rule == "all":
            return voters
        if self.rule == "n":
            return self.n or 1
        return voters // 2 + 1


# Names the engine gives to what it adds for a vote task `t` (case data and generated elements).
def voters_key(task_id: str) -> str:
    return f"{task_id}_voters"


def result_key(task_id: str) -> str:
    return f"{task_id}_result"


def deadline_id(task_id: str) -> str:
    return f"{task_id}_vote_deadline"


def voter_key(task_id: str) -> str:
    """Where a vote instance finds its voter (the multi-instance input item)."""
    return f"{task_id}_voter"


@dataclass(frozen=True)
class Tally:
    """The count of a vote so far and, once it is decided, the result and why."""

    voters: int
    approve: int
    reject: int
    result: str | None = None
    reason: str | None = None  # rule | veto | chair | no_majority

    @property
    def pending(self) -> int:
        return self.voters - self.approve - self.reject


def decide(rules: VoteRules, voters: list[str], votes: Mapping[str, str], chairs: set[str] | None = None) -> Tally:
    """Decide a vote from the votes cast so far (voter name -> approve/reject).

    `chairs` are the voters in the chair group: when every vote is in and approvals equal
    rejections, the chair's vote decides (if the chairs who voted agree); without one a tie
    rejects, since nothing won a majority."""
    approve = sum(1 for v in votes.values() if v == APPROVE)
    reject = sum(1 for v in votes.values() if v == REJECT)
    total = len(voters)
    pending = total - approve - reject
    need = rules.needed(total)

    def tally(result: str | None = None, reason: str | None = None) -> Tally:
        return Tally(total, approve, reject, result, reason)

    if reject and (rules.veto or rules.rule == "all"):
        return tally(REJECT, "veto")
    if approve >= need:
        return tally(APPROVE, "rule")
    if rules.rule == "majority":
        if reject * 2 > total:
            return tally(REJECT, "rule")
        if pending:
            return tally()
        chair_votes = {votes[c] for c in chairs or () if c in votes}
        if approve == reject and len(chair_votes) == 1:
            return tally(chair_votes.pop(), "chair")
        return tally(REJECT, "no_majority")
    if approve + pending < need:
        return tally(REJECT, "rule")
    return tally()


# ---------------------------------------------------------------- reading and expanding the BPMN

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def read(props: Mapping[str, str], problem: Any) -> VoteRules | None:
    """Read a user task's vote properties; report each bad one through `problem(message)`.
    None when the task is not a vote."""
    raw = props.get("vote", "").strip().lower()
    if not raw:
        extra = sorted(k for k in props if k.startswith("vote_"))
        if extra:
            problem(said("%(properties)s set without the vote property: add vote = any, all, majority or a number",
                         properties=", ".join(extra)))
        return None
    rule, n = raw, None
    if raw.isdigit():
        rule, n = "n", int(raw)
        if n < 1:
            problem(said("vote = 0: a vote needs at least one approval (use any, all, majority or a number from 1)"))
    elif raw not in RULES:
        problem(said("vote %(vote)s is not a rule: use any, all, majority, or the number of approvals needed (2 for 2 "
                     "of M)", vote=repr(raw)))
        rule = "majority"
    veto_text = props.get("vote_veto", "false").strip().lower()
    if veto_text not in ("true", "false"):
        problem(said("vote_veto %(value)s must be true or false", value=repr(veto_text)))
    on_deadline = props.get("vote_on_deadline", "escalate").strip().lower() or "escalate"
    if on_deadline not in ON_DEADLINE:
        problem(said("vote_on_deadline %(value)s must be one of %(choices)s", value=repr(on_deadline),
                     choices=", ".join(ON_DEADLINE)))
        on_deadline = "escalate"
    deadline = props.get("vote_deadline", "").strip() or None
    if "vote_on_deadline" in props and deadline is None:
        problem(said("vote_on_deadline is set but vote_deadline is not: give the quorum deadline (P2D, PT8H, ...)"))
    chair = props.get("vote_chair", "").strip() or None
    return VoteRules(rule=rule, n=n, veto=veto_text == "true", chair=chair, deadline=deadline, on_deadline=on_deadline)


def _q(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def expand(tree: etree._ElementTree, vote_tasks: Mapping[str, VoteRules]) -> None:
    """Make each vote task a parallel multi-instance over its voters (the engine fills
    `<task>_voters`), complete when the engine has decided (`<task>_result`), and give a vote
    with a deadline a non-interrupting boundary timer ending in its own end event."""
    root = tree.getroot()
    for task in root.iter(_q("userTask")):
        task_id = task.get("id") or ""
        rules = vote_tasks.get(task_id)
        if rules is None or task.find(_q("multiInstanceLoopCharacteristics")) is not None:
            continue
        loop = etree.Element(_q("multiInstanceLoopCharacteristics"), isSequential="false")
        etree.SubElement(loop, _q("loopDataInputRef")).text = voters_key(task_id)
        etree.SubElement(loop, _q("inputDataItem"), id=voter_key(task_id), name="voter")
        etree.SubElement(loop, _q("completionCondition")).text = f"{result_key(task_id)} is not None"
        task.append(loop)
        if rules.deadline:
            _add_deadline(task, task_id, rules.deadline)


def _add_deadline(task: etree._Element, task_id: str, deadline: str) -> None:
    container = task.getparent()
    timer_id = deadline_id(task_id)
    boundary = etree.SubElement(container, _q("boundaryEvent"), id=timer_id, name="Vote deadline",
                                attachedToRef=task_id, cancelActivity="false")
    etree.SubElement(boundary, _q("outgoing")).text = f"{timer_id}_flow"
    definition = etree.SubElement(boundary, _q("timerEventDefinition"))
    etree.SubElement(definition, _q("timeDuration")).text = deadline
    end = etree.SubElement(container, _q("endEvent"), id=f"{timer_id}_end", name="Vote deadline handled")
    etree.SubElement(end, _q("incoming")).text = f"{timer_id}_flow"
    etree.SubElement(container, _q("sequenceFlow"), id=f"{timer_id}_flow", sourceRef=timer_id,
                     targetRef=f"{timer_id}_end")


def vote_tasks_of(tree: etree._ElementTree, props_of: Any) -> dict[str, VoteRules]:
    """The vote tasks of a tree by id (problems are the validator's to report)."""
    out = {}
    for task in tree.getroot().iter(_q("userTask")):
        rules = read(props_of(task), lambda _message: None)
        if rules is not None:
            out[task.get("id") or ""] = rules
    return out
