"""Every page a role may not see answers 403; every form rejects a missing CSRF token."""

from __future__ import annotations

import re

import pytest

ROLES = ["requester", "cab", "change_manager", "auditor", "process_owner", "supervisor", "admin"]
ANY = frozenset(ROLES)

# (method, path, roles that may use it). {case}, {task}, {user}, {token}, {key} are filled in.
PAGES: list[tuple[str, str, frozenset[str]]] = [
    ("GET", "/", ANY),
    ("GET", "/tasks", ANY),
    ("GET", "/tasks?scope=mine", ANY),
    ("GET", "/cases", ANY),
    ("GET", "/cases/new", ANY),
    ("GET", "/cases/new/{key}", ANY),
    ("GET", "/processes", ANY),
    ("GET", "/processes/{key}", ANY),
    ("GET", "/processes/{key}/1", ANY),
    ("GET", "/processes/{key}/1/bpmn", ANY),
    ("GET", "/processes/{key}/compare?a=1&b=1", ANY),
    ("GET", "/processes/{key}/edit", frozenset({"process_owner", "admin"})),
    ("GET", "/processes/new", frozenset({"process_owner", "admin"})),
    ("POST", "/processes/deploy", frozenset({"process_owner", "admin"})),
    ("POST", "/processes/upload", frozenset({"process_owner", "admin"})),
    # The case was opened by the requester; its open task is the CAB's.
    ("GET", "/cases/{case}", frozenset({"requester", "cab", "auditor", "admin"})),
    ("GET", "/cases/{case}/evidence.zip", frozenset({"requester", "cab", "auditor", "admin"})),
    ("GET", "/tasks/{task}", frozenset({"cab", "admin", "auditor", "requester"})),
    ("GET", "/audit", frozenset({"auditor", "admin"})),
    ("POST", "/audit/verify", frozenset({"auditor", "admin"})),
    ("GET", "/admin/users", frozenset({"admin"})),
    ("GET", "/admin/users/{user}", frozenset({"admin"})),
    ("GET", "/admin/groups", frozenset({"admin"})),
    ("GET", "/admin/tokens", frozenset({"admin"})),
    ("POST", "/admin/tokens/{token}/revoke", frozenset({"admin"})),
    ("GET", "/admin/providers", frozenset({"admin"})),
]
