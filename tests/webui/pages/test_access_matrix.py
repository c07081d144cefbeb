"""Every page a role may not see answers 403; every form rejects a missing CSRF token."""
from __future__ import annotations

import pytest

from engine.cases import queries, services
from engine.people import tokens

ROLES = ["requester", "engineer", "cab", "auditor", "process_owner", "supervisor", "admin"]
EVERYONE = frozenset(ROLES)
STAFF = EVERYONE - {"requester"}
OWNERS = frozenset({"process_owner", "admin"})
AUDIT = frozenset({"auditor", "admin"})
ADMIN = frozenset({"admin"})

# (method, path, roles that may use it). The case is the requester's; its open task is the
# engineer's. A plain requester reads only their own cases; staff read every case (engine.cases.access).
PAGES: list[tuple[str, str, frozenset[str]]] = [
    ("GET", "/", EVERYONE),
    ("GET", "/tasks", EVERYONE),
    ("GET", "/tasks?scope=mine", EVERYONE),
    ("GET", "/notices", EVERYONE),
    ("POST", "/notices/read", EVERYONE),
    ("GET", "/cases", EVERYONE),
    ("GET", "/cases/new", EVERYONE - {"auditor"}),  # auditors read and change nothing
    ("GET", "/cases/new/purchase_approval", EVERYONE - {"auditor"}),
    ("GET", "/cases/{case}", EVERYONE),
    ("GET", "/cases/{case}/evidence.zip", EVERYONE),
    ("GET", "/cases/{other}", STAFF),
    ("GET", "/cases/{other}/evidence.zip", STAFF),
    ("GET", "/tasks/{task}", STAFF),
    ("POST", "/tasks/{task}/claim", frozenset({"engineer"})),
    ("POST", "/cases/{other}/attachments", frozenset({"engineer", "admin"})),
    ("GET", "/processes", EVERYONE),
    ("GET", "/processes/purchase_approval", EVERYONE),
    ("GET", "/processes/purchase_approval/1", EVERYONE),
    ("GET", "/processes/purchase_approval/1/bpmn", EVERYONE),
    ("GET", "/processes/purchase_approval/compare?a=1&b=1", EVERYONE),
    ("GET", "/processes/purchase_approval/edit", OWNERS),
    ("GET", "/processes/new", OWNERS),
    ("POST", "/processes/deploy", OWNERS),
    ("POST", "/processes/upload", OWNERS),
    ("GET", "/audit", AUDIT),
    ("POST", "/audit/verify", AUDIT),
    ("GET", "/admin/users", ADMIN),
    ("GET", "/admin/users/{user}", ADMIN),
    ("GET", "/admin/groups", ADMIN),
    ("GET", "/admin/tokens", ADMIN),
    ("POST", "/admin/tokens/{token}/revoke", ADMIN),
    ("GET", "/admin/providers", ADMIN),
]


@pytest.fixture
def world(people, make_user, purchase, session):
    """Two cases: `case` opened by each role's own user, `other` opened by someone else."""
    everyone = {role: people[role] for role in ROLES}
    someone = make_user(name="someone", password="correct-horse-1")
    other = services.start_case(session, "purchase_approval", {"item": "Desk", "amount": 300}, actor=someone,
                                title="A desk")
    token = tokens.create_token(session, "someone", actor=None, name="ci")
    del token
    session.commit()
    from models import ApiToken
    token_id = session.query(ApiToken.id).first()[0]
    return {"people": everyone, "other": other, "token_id": token_id, "someone": someone}


@pytest.mark.parametrize("role", ROLES)
def test_forbidden_pages_answer_403_and_allowed_ones_do_not(role, world, login, session):
    me = world["people"][role]
    other = world["other"]
    mine = other if role == "auditor" else services.start_case(
        session, "purchase_approval", {"item": "Pen", "amount": 2}, actor=me, title="Pen")
    session.commit()
    task = queries.open_tasks(session, other)[0]
    client = login(me)
    wrong: list[str] = []
    for method, path, allowed in PAGES:
        url = path.format(case=mine.key, other=other.key, task=task.id, user=world["someone"].id,
                          token=world["token_id"])
        response = client.open(url, method=method, data={})
        denied = response.status_code == 403
        if denied == (role in allowed):
            wrong.append(f"{method} {url}: {response.status_code} (allowed: {role in allowed})")
        if denied:
            assert "Traceback" not in response.get_data(as_text=True)
    assert not wrong, "\n".join(wrong)


def _forms(app):
    """Every POST route of the people's pages (the API has its own CSRF rule: tokens or header)."""
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/"):
            yield rule


def test_every_form_rejects_a_missing_csrf_token(csrf_app, world, session):
    admin = world["people"]["admin"]
    task = queries.open_tasks(session, world["other"])[0]
    client = csrf_app.test_client()
    # Log in with the token the login page gives, as a browser would.
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    logged = client.post("/login", data={"name": admin.name, "password": "correct-horse-1", "csrf_token": token})
    assert logged.status_code == 302
    values = {"ref": world["other"].key, "task_id": task.id, "user_id": admin.id, "token_id": world["token_id"],
              "process_key": "purchase_approval", "key": "purchase_approval", "attachment_id": 1, "notice_id": 1,
              "sub_id": 1, "version": 1, "delegation_id": 1, "job_id": 1}
    checked = []
    for rule in _forms(csrf_app):
        url = rule.build({**dict.fromkeys(rule.arguments, "x"), **values})[1]
        assert url, rule.rule
        response = client.post(url, data={})
        body = response.get_data(as_text=True)
        assert response.status_code == 400, f"{rule.rule}: {response.status_code}"
        assert "security token" in body or "CSRF" in body, rule.rule
        checked.append(rule.rule)
    assert {"/login", "/logout", "/language", "/tasks/<task_id>", "/tasks/<task_id>/claim",
            "/cases/new/<process_key>", "/processes/deploy", "/admin/users", "/admin/webhooks/",
            "/admin/webhooks/<int:sub_id>/delete"} <= set(checked)
    # A logged-out form is refused too.
    anonymous = csrf_app.test_client()
    assert anonymous.post("/login", data={"name": admin.name, "password": "correct-horse-1"}).status_code == 400
