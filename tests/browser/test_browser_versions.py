"""Changing running processes in the browser: a process owner checks and moves open cases to
another version on the migrate page.

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


@pytest.fixture(scope="module")
def versions_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from webui import create_app
    from webui.cli.demo import seed_demo

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
        yield {"url": base, "passwords": passwords, "cases": keys}


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
