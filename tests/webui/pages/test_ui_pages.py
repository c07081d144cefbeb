"""The pages people use, through HTTP: what they see and what the data becomes."""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

from sqlalchemy import select

from engine.cases import queries, services
from engine.jobs import firing
from engine.people import users
from engine.records import audit
from engine.timing import clock
from models import Attachment, AuditEvent, HumanTask


def test_login_renews_the_session_and_audits_failures(app, people, session):
    client = app.test_client()
    assert client.get("/").status_code == 302
    bad = client.post("/login", data={"name": "rita", "password": "wrong-password"})
    assert bad.status_code == 401
    assert "Wrong user name or password" in bad.get_data(as_text=True)
    failed = session.scalars(select(AuditEvent).where(AuditEvent.type == "user_login_failed")).all()
    assert [e.data["user"] for e in failed] == ["rita"]
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    ok = client.post("/login?next=/tasks", data={"name": "rita", "password": "correct-horse-1"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/tasks")
    with client.session_transaction() as after:
        assert "planted" not in after
    home = client.get("/")
    assert "Hello, rita" in home.get_data(as_text=True)


def test_login_does_not_redirect_off_site(app, people):
    client = app.test_client()
    response = client.post("/login?next=//evil.example/x", data={"name": "rita", "password": "correct-horse-1"})
    assert response.headers["Location"] == "/"


def test_requester_opens_a_case_from_the_generated_form(login, people, deploy, session):
    deploy("camunda_approval.bpmn")
    session.commit()
    client = login(people["requester"])
    page = client.get("/cases/new/purchase_approval").get_data(as_text=True)
    assert 'id="item"' in page and 'id="amount"' in page and 'class="required"' in page
    missing = client.post("/cases/new/purchase_approval", data={"title": "Laptop", "item": "", "amount": "x"})
    assert missing.status_code == 422
    text = missing.get_data(as_text=True)
    assert "has-error" in text and "This field is required" in text
    upload = (io.BytesIO(b"quote from the vendor"), "quote.pdf")
    done = client.post("/cases/new/purchase_approval", data={"title": "Laptop", "item": "Laptop", "amount": "1200",
                                                             "attachments": upload},
                       content_type="multipart/form-data")
    assert done.status_code == 302
    case = queries.list_cases(session, actor=people["requester"])[0][0]
    assert done.headers["Location"].endswith(f"/cases/{case.key}")
    attached = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
    event = next(e for e in audit.history(session, case) if e.type == "attachment_added")
    assert event.data["sha256"] == attached.sha256 and event.data["filename"] == "quote.pdf"


def test_attachment_limits_are_explained(login, people, purchase):
    client = login(people["requester"])
    response = client.post(f"/cases/{purchase.key}/attachments",
                           data={"file": (io.BytesIO(b"MZ..."), "tool.exe")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "cannot be attached" in response.get_data(as_text=True)


def test_case_page_shows_timeline_path_and_open_step(login, people, purchase):
    client = login(people["auditor"])
    page = client.get(f"/cases/{purchase.key}").get_data(as_text=True)
    assert "Review request" in page and "Case opened" in page
    marks = json.loads(page.split('id="case-marks">')[1].split("</script>")[0])
    assert marks["current"] == ["review"]
    assert "StartEvent_1" in marks["done"]
    assert "version 1" in page
    data = page.split('id="data-h"')[1]
    # values under their form labels, booleans as yes/no (not "false"), no variable keys
    assert "<dt>Urgent</dt><dd>no</dd>" in data and "<dt>Amount</dt><dd>1200</dd>" in data
    assert "case_key" not in page and "requester</dt>" not in data


def test_task_completion_and_refusal_in_words(login, people, purchase, session):
    task = queries.open_tasks(session, purchase)[0]
    outsider = login(people["cab"])
    refused = outsider.post(f"/tasks/{task.id}/claim")
    assert refused.status_code == 403
    assert "candidate group" in refused.get_data(as_text=True)
    assert "Traceback" not in refused.get_data(as_text=True)
    engineer = login(people["engineer"])
    page = engineer.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="review_notes"' in page and "Laptop" in page
    done = engineer.post(f"/tasks/{task.id}", data={"review_notes": "fine"})
    assert done.status_code == 302
    gate = queries.open_tasks(session, purchase)[0]
    assert gate.element_id == "approve"
    manager = login(people["manager"])
    page = manager.get(f"/tasks/{gate.id}").get_data(as_text=True)
    assert 'name="decision" value="approve"' in page and 'name="decision" value="reject"' in page
    no_comment = manager.post(f"/tasks/{gate.id}", data={"decision": "reject"})
    assert no_comment.status_code == 422
    assert "comment is required" in no_comment.get_data(as_text=True)
    approved = manager.post(f"/tasks/{gate.id}", data={"decision": "approve"})
    assert approved.status_code == 302
    session.expire_all()
    assert queries.find_case(session, purchase.key).status == "closed"


def test_inbox_sorted_by_due_with_claim_and_release(login, people, purchase, session):
    engineer = login(people["engineer"])
    inbox = engineer.get("/tasks").get_data(as_text=True)
    assert purchase.key in inbox and "due" in inbox
    task = queries.open_tasks(session, purchase)[0]
    assert engineer.post(f"/tasks/{task.id}/claim").status_code == 302
    assert purchase.key in engineer.get("/tasks?scope=mine").get_data(as_text=True)
    assert engineer.post(f"/tasks/{task.id}/release").status_code == 302
    assert purchase.key not in engineer.get("/tasks?scope=mine").get_data(as_text=True)


def test_evidence_pack_holds_events_hashes_and_bpmn(login, people, purchase):
    client = login(people["auditor"])
    response = client.get(f"/cases/{purchase.key}/evidence.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    pack = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(pack.read("manifest.json"))
    events = json.loads(pack.read("events.json"))
    assert manifest["chain"]["ok"] is True and manifest["process"]["version"] == 1
    assert events[0]["type"] == "case_started" and len(events[0]["hash"]) == 64
    assert any(name.startswith("process/") for name in pack.namelist())


def test_audit_search_and_verify(login, people, purchase):
    client = login(people["auditor"])
    found = client.get("/audit?type=case_started").get_data(as_text=True)
    assert purchase.key in found
    verified = client.post("/audit/verify", data={"case": purchase.key}).get_data(as_text=True)
    assert "Chain intact" in verified


def test_audit_search_names_processes_and_refuses_an_unreadable_search(login, people, purchase):
    client = login(people["auditor"])
    page = client.get("/audit").get_data(as_text=True)
    assert '<option value="purchase_approval">Purchase approval</option>' in page
    # A date that cannot be read lists no event (all of them would read as its result) and says why.
    response = client.get("/audit?date_from=2026-13-45&actor=nobody")
    refused = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="search-refused"' in refused
    assert "Not a valid date value" in refused and purchase.key not in refused
    assert purchase.key in client.get("/audit?date_from=2020-01-01").get_data(as_text=True)
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    chinese = client.get("/audit?date_from=2026-13-45").get_data(as_text=True)
    assert "无法读取此搜索" in chinese and "不是有效的日期值" in chinese


def _deploy_purchase_with_chinese_names(deploy) -> None:
    """The purchase approval whose review task has a Chinese name (name_zh)."""
    xml = (DATA_DIR / "camunda_approval.bpmn").read_text().replace(
        '<bpmn:userTask id="review" name="Review request" camunda:candidateGroups="engineer">\n'
        '      <bpmn:extensionElements>',
        '<bpmn:userTask id="review" name="Review request" camunda:candidateGroups="engineer">\n'
        '      <bpmn:extensionElements><camunda:properties><camunda:property name="name_zh" value="审核申请"/>'
        '</camunda:properties>')
    deploy(("purchase.bpmn", xml))


def test_home_page_sla_warnings_name_the_task_in_the_readers_language(login, people, deploy, session):
    _deploy_purchase_with_chinese_names(deploy)
    opened = clock.now()
    services.start_case(session, "purchase_approval", {"item": "Laptop", "amount": 1200},
                        actor=people["requester"], title="New laptop")
    session.commit()
    engineer = login(people["engineer"])
    with clock.frozen(opened + dt.timedelta(hours=5)):  # the 8-hour review is due within 4 hours
        assert "— Review request</li>" in engineer.get("/").get_data(as_text=True)
        engineer.post("/language", data={"locale": "zh_Hans", "next": "/"})
        chinese = engineer.get("/").get_data(as_text=True)
    assert "— 审核申请</li>" in chinese and "Review request" not in chinese


def test_audit_trail_names_tasks_and_the_system_in_the_readers_language(login, people, deploy, session):
    _deploy_purchase_with_chinese_names(deploy)
    case = services.start_case(session, "purchase_approval", {"item": "Laptop", "amount": 1200},
                               actor=people["requester"], title="New laptop")
    task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready")).one()
    services.complete_task(session, task.id, {"review_notes": "ok"}, actor=people["engineer"])
    session.commit()
    client = login(people["auditor"])
    english = client.get(f"/audit?case={case.key}").get_data(as_text=True)
    assert "<td>Review request</td>" in english
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    chinese = client.get("/audit").get_data(as_text=True)
    assert "<td>审核申请</td>" in chinese and "<td>Review request</td>" not in chinese
    assert "<td>系统</td>" in chinese and "<td>system</td>" not in chinese  # the deploy, on the system chain
    assert "流程已部署" in chinese
    processes = client.get("/processes").get_data(as_text=True)
    assert "· 系统</td>" in processes


def test_process_pages_and_comparison(login, people, purchase, deploy, session):
    xml = (DATA_DIR / "camunda_approval.bpmn").read_text().replace('name="Review request"', 'name="Check request"')
    owner = login(people["process_owner"])
    deployed = owner.post("/processes/deploy", data=xml.encode(), content_type="application/xml")
    assert deployed.status_code == 200 and deployed.json["version"] == 2
    assert owner.get("/processes/purchase_approval").status_code == 200
    diff = owner.get("/processes/purchase_approval/compare?a=1&b=2").get_data(as_text=True)
    assert "Check request" in diff and "Review request" in diff
    # The running case stays on version 1.
    session.expire_all()
    assert queries.find_case(session, purchase.key).definition.version == 1
    broken = owner.post("/processes/deploy", data=xml.replace('candidateGroups="engineer"', 'candidateGroups="nobody"').encode(),
                        content_type="application/xml")
    assert broken.status_code == 422
    assert any(d["element_id"] == "review" for d in broken.json["error"]["details"])


def test_language_choice_is_remembered(login, people, session):
    client = login(people["requester"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    assert "你好" in client.get("/").get_data(as_text=True)
    session.expire_all()
    assert users.get_user(session, "rita").locale == "zh_Hans"


from tests.conftest import DATA as DATA_DIR  # noqa: E402


def test_case_list_marks_escalated_cases(login, people, purchase, session):
    import datetime as dt

    from engine.timing import clock

    fired = firing.fire_due_timers(session, now=clock.now() + dt.timedelta(days=1))
    session.commit()
    assert fired >= 1
    page = login(people["auditor"]).get("/cases").get_data(as_text=True)
    assert purchase.key in page and "escalated" in page


def test_upload_deploys_and_refusals_name_file_element_and_line(login, people, session):
    owner = login(people["process_owner"])
    xml = (DATA_DIR / "camunda_approval.bpmn").read_bytes()
    done = owner.post("/processes/upload", data={"files": (io.BytesIO(xml), "purchase.bpmn")},
                      content_type="multipart/form-data")
    assert done.status_code == 302
    assert "purchase_approval" in owner.get("/processes").get_data(as_text=True)
    download = owner.get("/processes/purchase_approval/1/bpmn?download=1")
    assert download.data == xml and "attachment" in download.headers["Content-Disposition"]
    bad = xml.replace(b'candidateGroups="engineer"', b'candidateGroups="nobody"')
    refused = owner.post("/processes/upload", data={"files": (io.BytesIO(bad), "purchase.bpmn")},
                         content_type="multipart/form-data")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "purchase.bpmn" in text and "review" in text and "nobody" in text


def test_home_warns_about_sla_clocks_running_out(login, people, purchase, session):
    import datetime as dt

    from engine.timing import clock

    with clock.frozen(clock.now() + dt.timedelta(hours=7)):
        page = login(people["engineer"]).get("/").get_data(as_text=True)
    assert "SLA warnings" in page and purchase.key in page


def test_history_says_which_clock_is_running_out_and_when(login, people, purchase, session):
    import datetime as dt

    from engine.jobs import firing
    from engine.timing import clock

    assert firing.fire_due_timers(session, now=clock.now() + dt.timedelta(hours=7)) == 0  # a warning (75% of 8 hours)
    session.commit()
    page = login(people["engineer"]).get(f"/cases/{purchase.key}").get_data(as_text=True)
    history = page[page.index('id="timeline-h"'):]
    warned = history[history.index("SLA warning"):]
    assert "75% of 8 hours used; it runs out at " in warned[:400]
    assert "SLA warning — 8 hours" not in history  # the timer's name is not the event's subject


def test_notices_page_counts_opens_and_clears(login, people, purchase, session):
    from engine.notifications import outbox

    engineer = login(people["engineer"])
    page = engineer.get("/notices").get_data(as_text=True)
    assert "No notices." in page and 'class="count"' not in page
    outbox.announce_ready_tasks(session)  # the worker's pass
    session.commit()
    page = engineer.get("/notices").get_data(as_text=True)
    assert f"{purchase.key}: Review request" in page and "New laptop" in page
    assert '<span class="count" aria-label="1 unread">1</span>' in page
    assert "Review request" not in login(people["cab"]).get("/notices").get_data(as_text=True)
    notice_id = int(page.split('data-notice-id="')[1].split('"')[0])
    opened = engineer.post(f"/notices/{notice_id}/read", data={"case": purchase.key})
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/cases/{purchase.key}")
    assert "No unread notices." in engineer.get("/notices?unread=1").get_data(as_text=True)
    assert engineer.post("/notices/99999/read").status_code == 404
    assert engineer.post("/notices/read").status_code == 302


def test_the_unread_badge_stops_counting_at_99_plus(login, people, session):
    from engine.notifications import notices
    from engine.timing import clock
    from models import Notification

    engineer = people["engineer"]
    session.add_all([Notification(channel="app", kind="case_escalated", user_id=engineer.id, subject=f"Notice {n}",
                                  status="sent", created_at=clock.now()) for n in range(notices.UNREAD_CAP + 5)])
    session.commit()
    assert notices.count_unread(session, actor=engineer) == notices.UNREAD_CAP  # counted no further
    assert notices.count_unread(session, actor=engineer, cap=1000) == notices.UNREAD_CAP + 5
    client = login(engineer)
    page = client.get("/notices").get_data(as_text=True)
    assert '<span class="count" aria-label="more than 99 unread">99+</span>' in page
    client.post("/language", data={"locale": "zh_Hans", "next": "/notices"})
    assert '<span class="count" aria-label="超过 99 条未读">99+</span>' in client.get("/notices").get_data(as_text=True)


def test_pages_show_and_read_times_in_the_configured_zone(login, people, deploy, session, ui_engine):
    import pytest

    from tests.conftest import DATA
    from tests.webui.pages.conftest import build_app

    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone"):
        build_app(ui_engine, TIMEZONE="Mars/Olympus")
    source = (DATA / "camunda_approval.bpmn").read_text().replace(
        '<camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="false" />',
        '<camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="false" />'
        '<camunda:formField id="needed_by" label="Needed by" type="datetime" />', 1)
    assert "needed_by" in source
    deploy(("camunda_approval.bpmn", source))
    session.commit()
    shanghai = build_app(ui_engine, TIMEZONE="Asia/Shanghai")
    client = login(people["requester"], shanghai)
    done = client.post("/cases/new/purchase_approval", data={
        "title": "Chairs", "item": "Chairs", "amount": "4", "needed_by": "2026-12-01T09:00"})
    assert done.status_code == 302
    case = queries.list_cases(session, actor=people["requester"])[0][0]
    assert case.data["needed_by"] == "2026-12-01T01:00:00+00:00"  # 09:00 in Shanghai, kept in UTC
    page = client.get(f"/cases/{case.key}").get_data(as_text=True)
    started = next(e for e in audit.history(session, case) if e.type == "case_started").at
    local = (started + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert local in page and "Times in Asia/Shanghai" in page
    assert "<dd>2026-12-01 09:00</dd>" in page  # case data in the zone too
    assert "Times in UTC" in login(people["requester"]).get("/cases").get_data(as_text=True)
