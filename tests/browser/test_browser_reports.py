"""The reports area in Chromium: the trend charts draw (Chart.js from our static files) and
the scorecard's drill-down link opens the cases behind a KPI."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import db
from engine.people import tokens, users
from tests.browser.conftest import serving, wait_until
from tests.engine.test_evaluation_year import build_year


@pytest.fixture(scope="module")
def reports_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A live app over the synthetic year of tests/engine/test_evaluation_year.py."""
    from webui import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'opsgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        users.get_group(session, "supervisor")
        build_year(session)
        users.create_user(session, "suzy", ["supervisor"], "pw-suzy-1234", actor=None)
        token = tokens.create_token(session, "suzy", actor=None)
        session.commit()
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "browser",
                      "START_WORKER": False})
    with serving(app) as base:
        yield {"url": base, "token": token}
    app.extensions["opsgate_engine"].dispose()


def test_trend_charts_draw_and_kpis_drill_down_to_cases(browser, reports_server):
    # Signed in as a person: the page fetches its trend after it shows, with the browser's session
    # as a person's browser does (with only a bearer header, the session cookie the page sets makes
    # Flask-Login's session protection treat the fetch as anonymous).
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(reports_server["url"] + "/login")
    page.fill("#name", "suzy")
    page.fill("#password", "pw-suzy-1234")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(reports_server["url"] + "/reports/?period=2026-12")
    wait_until(page, "!!(window.Chart && Object.keys(Chart.instances).length === 7)")
    assert page.locator("canvas[data-chart]").count() == 7  # the total and six categories
    context.close()
    context = browser.new_context()  # a fresh one, signed in again (a bearer token opens no pages)
    page = context.new_page()
    page.goto(reports_server["url"] + "/login")
    page.fill("#name", "suzy")
    page.fill("#password", "pw-suzy-1234")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(reports_server["url"] + "/reports/scorecard/Bolt/2026-05")
    row = page.locator("tr", has_text="Resolved within SLA")
    row.get_by_role("link", name="missed").click()
    page.wait_for_url("**/reports/cases?**")
    assert page.locator("table.cases tbody tr").count() == 6  # the six slow ones of May
    assert errors == []
    context.close()
