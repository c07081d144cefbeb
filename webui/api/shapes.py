"""The JSON shapes of the API (CONTRACT.md): cases, tasks, processes, audit events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_wtf.csrf import generate_csrf
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from engine.cases import queries
from engine.people import users
from engine.processes import catalog
from engine.processes.deployment import DeployResult
from engine.records import audit
from models import AuditEvent, Case, Delegation, HumanTask, Notification, ProcessDefinition, User


def stamp(moment: dt.datetime | None) -> str | None:
    """Format a time as ISO 8601 UTC, or None."""
    return moment.isoformat() if moment is not None else None


def me_json(user: User, auth: str) -> dict[str, Any]:
    """Describe the caller; a session caller also gets the CSRF token its writes need."""
    return {"name": user.name, "display_name": user.display_name,
            "groups": sorted(user.group_names), "auth": auth,
            "csrf_token": generate_csrf() if auth == "session" else None}


def process_json(definition: ProcessDefinition) -> dict[str, Any]:
    """Describe a deployed process version."""
    return {"key": definition.key, "name": definition.name, "version": definition.version,
            "deployed_at": stamp(definition.deployed_at), "sha256": definition.sha256}


def process_detail_json(session: Session, definition: ProcessDefinition) -> dict[str, Any]:
    """Describe a process version with its start form."""
    form = queries.start_form(session, definition.key, definition.version)
    return {**process_json(definition), "deployed_by": definition.deployed_by,
            "start_form": form.to_dict()}


def deploy_json(results: list[DeployResult]) -> dict[str, Any]:
    """Describe a deploy: the first process's {key, version}, and every file's result."""
    first = results[0]
    return {"key": first.key, "version": first.version,
            "changed": any(r.created for r in results),
            "status": first.definition.status,
            "deployed": [{"key": r.key, "version": r.version, "created": r.created, "status": r.definition.status,
                          "review_case": r.definition.review_case} for r in results],
            "warnings": [w for r in results for w in r.warnings]}


def _loaded(row: Any, relation: str) -> bool:
    return relation not in inspect(row).unloaded


def _name(session: Session, row: Any, relation: str, user_id: int | None) -> str | None:
    """A related user's name: from the loaded relation, else from the memo of names."""
    if _loaded(row, relation):
        user = getattr(row, relation)
        return user.name if user is not None else None
    return users.name_of(session, user_id)


def task_json(session: Session, task: HumanTask, *, with_form: bool = False) -> dict[str, Any]:
    """Describe a task; with its form for the task's own page."""
    out: dict[str, Any] = {
        "id": task.id, "case": task.case.key, "process": task.case.process_key,
        "name": task.name, "element_id": task.element_id, "lane": task.lane,
        "candidate_groups": list(task.candidate_groups or ()),
        "assignee": _name(session, task, "assignee", task.assignee_id),
        "state": task.state, "created_at": stamp(task.created_at),
        "due_at": stamp(task.due_at),
    }
    if with_form:
        out["form"] = queries.task_form(session, task).to_dict()
    return out


def case_json(session: Session, case: Case, tasks: list[HumanTask] | None = None) -> dict[str, Any]:
    """Describe a case with its open tasks (read here unless the caller holds them).

    The version number and people's names are the loaded relations' (a list loads them for its
    page), else come from process-wide memos (engine.memo): an action's answer is built from
    what the action holds, without reading the case's relations."""
    return {
        "id": case.id, "key": case.key, "process": case.process_key,
        "version": case.definition.version if _loaded(case, "definition") else
        catalog.version_of(session, case.definition_id),
        "status": case.status, "outcome": case.outcome, "title": case.title,
        "requester": _name(session, case, "requester", case.requester_id),
        "priority": case.priority, "provider": case.provider, "system": case.system,
        "created_at": stamp(case.created_at), "updated_at": stamp(case.updated_at),
        "closed_at": stamp(case.closed_at), "data": case.data or {},
        "dedup_key": case.dedup_key, "occurrences": case.occurrences,
        "sla_paused_since": stamp(case.sla_paused_at), "sla_paused_seconds": case.sla_paused_seconds or 0,
        "open_tasks": [task_json(session, t) for t in (queries.open_tasks(session, case) if tasks is None else tasks)],
    }


def case_page_json(session: Session, cases: list[Case], next_page: int | None, next_before: int | None = None
                   ) -> dict[str, Any]:
    """Describe one page of cases: their open tasks and process versions read once for the page.
    `next_before` is the id to ask `?before=` for the next page (None on the last page)."""
    tasks = queries.open_tasks_of(session, cases)
    queries.load_definitions(session, cases)
    return {"items": [case_json(session, c, tasks[c.id]) for c in cases], "next_page": next_page,
            "next_before": next_before}


def notice_json(notice: Notification, case_keys: dict[int, str]) -> dict[str, Any]:
    """Describe one in-app notice (`case` is the case key)."""
    return {"id": notice.id, "kind": notice.kind, "subject": notice.subject, "body": notice.body,
            "case": case_keys.get(notice.case_id) if notice.case_id is not None else None,
            "task_id": notice.task_id, "created_at": stamp(notice.created_at), "read_at": stamp(notice.read_at)}


def event_json(event: AuditEvent) -> dict[str, Any]:
    """Describe one audit event."""
    return {"seq": event.seq, "at": stamp(event.at), "actor": event.actor, "type": event.type,
            "task": event.task, "data": event.data, "hash": event.hash}


def verify_json(result: audit.Verification) -> dict[str, Any]:
    """Describe an audit chain verification."""
    return result.to_dict()


def delegation_json(row: Delegation) -> dict[str, Any]:
    return {"id": row.id, "user": row.user.name, "deputy": row.deputy.name, "starts_at": stamp(row.starts_at),
            "ends_at": stamp(row.ends_at), "ended_at": stamp(row.ended_at), "note": row.note}
