"""Changing running processes in the browser: a process owner checks and moves open cases to
another version on the migrate page; a second process owner reviews a proposed version's
difference (elements, forms, groups, timers, decision table rows) and approves it.

A server of its own (a demo-seeded database plus a small test process with open cases).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine import db
from engine.cases import services
from engine.config import EngineConfig
from engine.processes import deployment
from models import User
from tests.browser.conftest import Visitor, serving

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def versions_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from webui import create_app
    from webui.cli.demo_data import seed_demo

    instance = tmp_path_factory.mktemp("versions")
    url = f"sqlite:///{instance / 'versions.db'}"
    passwords = seed_demo(url, password="demo-password-1")
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine, EngineConfig.from_environ())() as s, s.begin():
        paul = s.scalars(select(User).where(User.name == "paul")).one()
        deployment.deploy(s, [("mig.bpmn", (DATA / "migrate_v1.bpmn").read_bytes())], actor=None)
        keys = [services.start_case(s, "mig", {}, actor=paul, title=f"Printer {n}").key for n in range(3)]
        deployment.deploy(s, [("mig.bpmn", (DATA / "migrate_v3.bpmn").read_bytes())], actor=None)
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "versions-tests", "START_WORKER": False})
    with serving(app) as base:
        yield {"url": base, "passwords": passwords, "cases": keys, "db": url}


@pytest.fixture
def visitor(browser: object, versions_server: dict, request: pytest.FixtureRequest) -> Iterator:
    contexts: list[object] = []

    def make(user: str, locale: str = "en-US") -> Visitor:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale=locale)  # type: ignore[attr-defined]
        contexts.append(context)
        person = Visitor(context, versions_server["url"], f"{request.node.name}-{user}")
        person.login(user, versions_server["passwords"][user])
        return person

    yield make
    for context in contexts:
        context.close()  # type: ignore[attr-defined]


def test_review_page_shows_the_diff_and_a_second_owner_approves(visitor, versions_server):
    from engine.cases import proposals
    from models import ProcessDefinition

    engine = db.make_engine(versions_server["db"])
    with db.make_sessionmaker(engine, EngineConfig.from_environ())() as s, s.begin():
        proposals.set_four_eyes(s, True, actor=None)
        paul = s.scalars(select(User).where(User.name == "paul")).one()
        if "process_owner" not in paul.group_names:
            pytest.skip("the demo's paul is no process owner")
        dmn = (ROOT / "workflows" / "incident_priority.dmn").read_text().replace('"PT2H"', '"PT1H"', 1)
        bpmn = (ROOT / "workflows" / "incident.bpmn").read_bytes()
        results = proposals.deploy(s, [("incident.bpmn", bpmn), ("incident_priority.dmn", dmn.encode())],
                                   actor=paul, note="P1 resolves within one hour")
        version = results[0].version
        second = s.scalars(select(User).where(User.name != "paul")).all()
        reviewer = next(u for u in second if "process_owner" in u.group_names and u.name != "paul")
        assert s.scalars(select(ProcessDefinition.status).where(ProcessDefinition.key == "incident",
                                                                ProcessDefinition.version == version)).one() == "proposed"
    engine.dispose()
    author = visitor("paul")
    author.goto(f"/processes/incident/{version}/review")
    expect(author.page.locator("#author-notice")).to_be_visible()
    expect(author.page.locator("#review-form")).to_have_count(0)
    board = visitor(reviewer.name)
    board.goto("/processes/incident")
    board.page.click(f"a[href='/processes/incident/{version}/review']")
    expect(board.page.locator("#version-status")).to_contain_text("proposed, waiting for a review")
    expect(board.page.locator("#proposal")).to_contain_text("P1 resolves within one hour")
    rows = board.page.locator("#dmn-rows")
    expect(rows).to_contain_text("sla_resolve = \"PT1H\"")
    expect(rows).to_contain_text("removed")
    board.shot("review-diff")
    board.page.select_option("#decision", "approve")
    board.page.fill("#comment", "One hour for P1 is what the contract says.")
    board.page.click("#review-form button[type=submit]")
    expect(board.page.locator("#version-status")).to_contain_text("live")
    expect(board.page.locator("#review-comment")).to_contain_text("One hour for P1")
    board.shot("approved")
    assert not board.errors and not author.errors, (board.errors, author.errors)


def test_migrate_page_checks_then_moves_one_case(visitor, versions_server):
    first = versions_server["cases"][0]
    paul = visitor("paul")
    paul.goto("/processes/mig")
    paul.page.click("text=Move open cases")
    expect(paul.page.locator("h1")).to_contain_text("Move open cases of")
    paul.page.select_option("#to_version", "2")
    paul.page.click("#check")
    report = paul.page.locator("#migration-report")
    expect(report).to_contain_text("Dry run: version 2")
    expect(report).to_contain_text("0 can move, 3 cannot move.")
    expect(report).to_contain_text("Triage (triage) is not in the target version")
    paul.shot("dry-run")
    paul.page.fill("#cases", first)
    paul.page.fill("#mapping", "triage=assess\ntriage_sla=assess_sla")
    paul.page.click("#check")
    expect(report).to_contain_text("1 can move, 0 cannot move.")
    paul.page.click("#move")
    expect(paul.page.locator("#migration-report")).to_contain_text("1 moved, 0 skipped, 0 cannot move.")
    paul.shot("moved")
    paul.goto(f"/cases/{first}")
    expect(paul.page.locator("body")).to_contain_text("Assess")
    assert not paul.errors, paul.errors
