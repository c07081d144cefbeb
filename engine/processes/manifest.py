"""What opsgate reads from a process version besides SpiffWorkflow's spec: its properties, the
start form, each user task's rules and form, its end events and timers.

Deploy builds a `Manifest` from the BPMN (engine.processes.validation) and stores it as JSON on
the version's row; everything that runs or shows a case reads it back through `Manifest`
(`from_dict` accepts what older versions stored, so no stored row needs rewriting). The types are
frozen: a manifest describes an immutable version.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.processes.forms import Form
from engine.processes.votes import VoteRules


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


@dataclass(frozen=True)
class ProcessInfo:
    """The process's own properties (docs/bpmn.md, "Process properties")."""

    key: str
    name: str
    case_prefix: str
    required_records: tuple[str, ...] = ()
    name_zh: str | None = None
    # Who may open a case by hand (`start_groups`); empty: everyone (the system always may).
    start_groups: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ProcessInfo:
        key = str(raw.get("key") or "")
        return cls(key=key, name=str(raw.get("name") or key), case_prefix=str(raw.get("case_prefix") or "CASE"),
                   required_records=_strings(raw.get("required_records")), name_zh=raw.get("name_zh"),
                   start_groups=_strings(raw.get("start_groups")))

    def to_dict(self) -> dict[str, Any]:
        out = {"key": self.key, "name": self.name, "case_prefix": self.case_prefix,
               "required_records": list(self.required_records), "name_zh": self.name_zh}
        if self.start_groups:
            out["start_groups"] = list(self.start_groups)
        return out

    def may_start(self, groups: set[str]) -> bool:
        """Whether someone in these groups may open a case of this process by hand."""
        return not self.start_groups or bool(groups & set(self.start_groups))


@dataclass(frozen=True)
class TaskRules:
    """A user task's rules: who may act (candidate groups, separation of duties), whether it
    pauses the SLA, the provider measure it stands for, and its form."""

    name: str = ""
    lane: str | None = None
    candidate_groups: tuple[str, ...] = ()
    sod_not_requester: bool = False
    sod_not_actor_of: tuple[str, ...] = ()
    pauses_sla: bool | None = None  # None: a task of the requester pauses it, others do not
    measure: str | None = None
    name_zh: str | None = None
    form: Form = field(default_factory=Form)
    # A vote (engine.processes.votes): one instance per eligible member of the group.
    vote: VoteRules | None = None
    # Follow-up cases: once this task is completed (and the case has moved on), one case of the
    # process `opens_cases` is opened for each item of the list `opens_cases_from` in the case data.
    opens_cases: str | None = None
    opens_cases_from: str | None = None

    @property
    def pauses(self) -> bool:
        """Whether this task, while ready, stops the case's SLA clocks."""
        if self.pauses_sla is not None:
            return self.pauses_sla
        return self.candidate_groups == ("requester",)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TaskRules:
        return cls(name=str(raw.get("name") or ""), lane=raw.get("lane"),
                   candidate_groups=_strings(raw.get("candidate_groups")),
                   sod_not_requester=bool(raw.get("sod_not_requester")),
                   sod_not_actor_of=_strings(raw.get("sod_not_actor_of")),
                   pauses_sla=raw.get("pauses_sla"), measure=raw.get("measure") or None,
                   name_zh=raw.get("name_zh"), form=Form.from_list(raw.get("form")),
                   vote=VoteRules.from_dict(raw.get("vote")),
                   opens_cases=raw.get("opens_cases") or None, opens_cases_from=raw.get("opens_cases_from") or None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "lane": self.lane, "candidate_groups": list(self.candidate_groups),
               "sod_not_requester": self.sod_not_requester, "sod_not_actor_of": list(self.sod_not_actor_of),
               "pauses_sla": self.pauses_sla, "measure": self.measure, "name_zh": self.name_zh,
               "form": self.form.to_list()}
        if self.vote is not None:
            out["vote"] = self.vote.to_dict()
        if self.opens_cases:
            out["opens_cases"], out["opens_cases_from"] = self.opens_cases, self.opens_cases_from
        return out


NO_RULES = TaskRules()


@dataclass(frozen=True)
class EndRules:
    """An end event's outcome and, where its path owes other records, those records."""

    outcome: str | None = None
    required_records: tuple[str, ...] | None = None
    # What people read for the outcome (`outcome_name` / `outcome_name_zh` on the end event).
    outcome_name: str | None = None
    outcome_name_zh: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EndRules:
        records = raw.get("required_records")
        return cls(outcome=raw.get("outcome") or None,
                   required_records=None if records is None else _strings(records),
                   outcome_name=raw.get("outcome_name") or None, outcome_name_zh=raw.get("outcome_name_zh") or None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.outcome:
            out["outcome"] = self.outcome
        if self.outcome_name:
            out["outcome_name"] = self.outcome_name
        if self.outcome_name_zh:
            out["outcome_name_zh"] = self.outcome_name_zh
        if self.required_records is not None:
            out["required_records"] = list(self.required_records)
        return out


@dataclass(frozen=True)
class TimerInfo:
    """A timer event: its kind (boundary, intermediate, start), whether firing it escalates the
    case (an SLA clock), its name, and whether it belongs to the top-level process."""

    kind: str
    escalation: bool
    name: str
    top_level: bool = True
    name_zh: str | None = None
    # What the clock measures, for SLA clocks: "response", "resolution", "recovery", ... (the
    # timer's `sla` property; read from its id for versions that have none).
    sla: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TimerInfo:
        return cls(kind=str(raw.get("kind") or "intermediate"), escalation=bool(raw.get("escalation")),
                   name=str(raw.get("name") or ""), top_level=bool(raw.get("top_level", True)),
                   name_zh=raw.get("name_zh") or None, sla=raw.get("sla") or None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "escalation": self.escalation, "name": self.name,
                               "top_level": self.top_level}
        if self.name_zh:
            out["name_zh"] = self.name_zh
        if self.sla:
            out["sla"] = self.sla
        return out


@dataclass(frozen=True)
class Manifest:
    """Everything opsgate reads of one deployed version, by element id."""

    process: ProcessInfo
    start_form: Form = field(default_factory=Form)
    tasks: Mapping[str, TaskRules] = field(default_factory=dict)
    end_events: Mapping[str, EndRules] = field(default_factory=dict)
    timers: Mapping[str, TimerInfo] = field(default_factory=dict)
    # The message names whose arrival starts a case (message start events of the process, #16).
    message_starts: tuple[str, ...] = ()

    def task(self, element_id: str) -> TaskRules:
        """Return a user task's rules (no rules for an element that is not a user task)."""
        return self.tasks.get(element_id, NO_RULES)

    def element_name(self, element_id: str) -> str:
        """The name a person reads for a task or timer element (its id when it has none)."""
        found = self.tasks.get(element_id) or self.timers.get(element_id)
        return (found.name if found is not None else "") or element_id

    def element_names(self, element_id: str, recorded: str | None = None) -> tuple[str, str | None]:
        """The name and Chinese name of a task or timer element; where this version gives it no
        name, the name a row or event `recorded` for it, else its id."""
        found = self.tasks.get(element_id) or self.timers.get(element_id)
        if found is None:
            return recorded or element_id, None
        return found.name or recorded or element_id, found.name_zh

    def outcome_names(self, outcome: str) -> tuple[str | None, str | None]:
        """The name and Chinese name an end event gives an outcome (None where none does)."""
        for rules in self.end_events.values():
            if rules.outcome == outcome and (rules.outcome_name or rules.outcome_name_zh):
                return rules.outcome_name, rules.outcome_name_zh
        return None, None

    def votes(self) -> dict[str, TaskRules]:
        """The vote tasks by element id."""
        return {k: t for k, t in self.tasks.items() if t.vote is not None}

    def sla_timers(self) -> frozenset[str]:
        """The timer events that are SLA clocks (firing one escalates the case)."""
        return frozenset(k for k, t in self.timers.items() if t.escalation)

    def start_timers(self) -> list[str]:
        """The timer start events of the top-level process (scheduled starts)."""
        return [k for k, t in self.timers.items() if t.kind == "start" and t.top_level]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Manifest:
        """Read a stored manifest (any version opsgate has written)."""
        raw = raw or {}
        return cls(
            process=ProcessInfo.from_dict(raw.get("process") or {}),
            start_form=Form.from_list(raw.get("start_form")),
            tasks={k: TaskRules.from_dict(v) for k, v in (raw.get("tasks") or {}).items()},
            end_events={k: EndRules.from_dict(v) for k, v in (raw.get("end_events") or {}).items()},
            timers={k: TimerInfo.from_dict(v) for k, v in (raw.get("timers") or {}).items()},
            message_starts=_strings(raw.get("message_starts")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored on the version's row."""
        return {"process": self.process.to_dict(), "start_form": self.start_form.to_list(),
                "tasks": {k: v.to_dict() for k, v in self.tasks.items()},
                "end_events": {k: v.to_dict() for k, v in self.end_events.items()},
                "timers": {k: v.to_dict() for k, v in self.timers.items()},
                **({"message_starts": list(self.message_starts)} if self.message_starts else {})}
