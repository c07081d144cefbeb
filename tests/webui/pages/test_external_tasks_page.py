"""An external task whose retries ran out needs attention: the case page and the process page say so
with the worker's error message, in English and Simplified Chinese, and a process owner retries it
there (audited)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import services
from engine.jobs import external_tasks as jobs
from engine.timing import clock
from models import AuditEvent, ExternalTask

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def stuck(deploy, session, people):
    """An archive case whose job failed for good: the archive was offline."""
    deploy("external/archive_job.bpmn")
    bot = people["engineer"]
    with clock.frozen(T0):
        case = services.start_case(session, "archive_job", {"document": "lease.pdf"}, actor=bot, title="Lease")
        [locked] = jobs.fetch_and_lock(session, "w1", [{"topicName": "archive", "lockDuration": 1000}], 1, actor=bot)
        jobs.report_failure(session, locked.job.id, "w1", "archive offline since 08:00", 0, 0, actor=bot)
    session.commit()
    return case, locked.job.id


def _section(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start:start + 3000]


def test_the_case_page_shows_the_job_that_needs_attention_in_both_languages(login, people, stuck):
    case, _job = stuck
    client = login(people["auditor"])
    shown = _section(client.get(f"/cases/{case.key}").get_data(as_text=True), 'id="external-tasks"')
    assert "Waiting on outside workers" in shown and "Archive the document" in shown
    assert "Needs attention" in shown and "The worker gave up: archive offline since 08:00" in shown
    assert "Retry" not in shown  # an auditor reads, retrying is the process owner's
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    chinese = _section(client.get(f"/cases/{case.key}").get_data(as_text=True), 'id="external-tasks"')
    assert "等待外部执行器" in chinese and "需要处理" in chinese and "执行器已放弃：archive offline since 08:00" in chinese  # noqa: RUF001


def test_a_process_owner_retries_it_from_the_process_page(login, people, stuck, session):
    case, job_id = stuck
    owner = login(people["process_owner"])
    listed = _section(owner.get("/processes/archive_job").get_data(as_text=True), 'id="external-attention"')
    assert case.key in listed and "archive offline since 08:00" in listed and "Retry" in listed
    refused = login(people["engineer"]).post(f"/processes/archive_job/external-tasks/{job_id}/retry",
                                             data={"retries": "2"})
    assert refused.status_code == 403
    done = owner.post(f"/processes/archive_job/external-tasks/{job_id}/retry", data={"retries": "2"},
                      follow_redirects=True)
    assert "Workers may fetch “archive” again: 2 retries." in done.get_data(as_text=True)
    assert 'id="external-attention"' not in done.get_data(as_text=True)
    session.expire_all()
    assert session.get(ExternalTask, job_id).retries == 2
    retried = session.scalars(select(AuditEvent).where(AuditEvent.type == "external_task_retried")).one()
    assert (retried.actor, retried.data["retries"]) == ("paul", 2)
    page = owner.get(f"/cases/{case.key}").get_data(as_text=True)
    assert "Waiting for a worker." in page and "Last failure: archive offline since 08:00 (2 retries left)." in page


def test_a_retry_from_the_case_page_with_a_bad_count_names_the_field(login, people, stuck):
    case, job_id = stuck
    answer = login(people["process_owner"]).post(f"/cases/{case.key}/external-tasks/{job_id}/retry",
                                                 data={"retries": "many"})
    assert answer.status_code == 422
    assert "retries" in answer.get_data(as_text=True)
