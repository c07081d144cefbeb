"""Reports pages, the metrics/evaluations API and `opsgate evaluate`, over a real app."""
import csv
import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine import db
from engine.evaluation import scorecards
from engine.people import providers, tokens, users
from engine.processes import catalog, deployment
from engine.timing import clock
from models import Case
from webui import create_app
from webui.cli.base import main

BAD_MONTH = {"planned_person_days": 20, "actual_person_days": 10, "qualified_staff_ratio": 0.5,
             "satisfaction": 60}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An app over its own SQLite file with a supervisor, an engineer, two providers, inputs."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'opsgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    issued = {}
    with db.make_sessionmaker(engine)() as session:
        for name in ("supervisor", "engineer", "auditor"):
            users.get_group(session, name)
        supervisor = users.create_user(session, "suzy", ["supervisor"], "pw-suzy-1234", actor=None)
        users.create_user(session, "eddie", ["engineer"], "pw-eddie-1234", actor=None)
        lin = users.create_user(session, "lin", ["supervisor"], "pw-lin-12345", actor=None)
        lin.locale = "zh_Hans"  # the language a user chose in the web UI
        deployment.deploy(session, [("rectification.bpmn",
                                      (catalog.workflows_dir() / "rectification.bpmn")
                                      .read_bytes())], actor=None)
        providers.add_provider(session, "Acme", ["erp"], actor=None)
        providers.add_provider(session, "Bolt", ["mail"], actor=None)
        with clock.frozen(dt.datetime(2026, 4, 2, tzinfo=dt.timezone.utc)):
            for month in ("2026-01", "2026-02", "2026-03"):
                scorecards.record_inputs(session, "Acme", month, BAD_MONTH, actor=supervisor)
        for name in ("suzy", "eddie", "lin"):
            issued[name] = tokens.create_token(session, name, actor=None)
        session.commit()
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "START_WORKER": False})
    yield app, issued, url
    app.extensions["opsgate_engine"].dispose()


PASSWORDS = {"suzy": "pw-suzy-1234", "eddie": "pw-eddie-1234", "lin": "pw-lin-12345"}


def signed_in(app, who):
    """A browser signed in as `who` (pages refuse bearer tokens; the API takes either)."""
    client = app.test_client()
    assert client.post("/login", data={"name": who, "password": PASSWORDS[who]}).status_code == 302
    return client


def get(site, path, who="suzy"):
    app, issued, _ = site
    if path.startswith("/api/"):
        return app.test_client().get(path, headers={"Authorization": f"Bearer {issued[who]}"})
    return signed_in(app, who).get(path)


def test_month_page_shows_scores_no_data_and_the_trend_data(site):
    page = get(site, "/reports/?period=2026-03")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme" in html and "Bolt" in html
    assert "no data" in html  # Bolt has neither cases nor inputs
    assert "/reports/trend.json?period=2026-03" in html  # the charts fetch the year after the page shows
    trend = json.loads(get(site, "/reports/trend.json?period=2026-03").get_data(as_text=True))
    assert trend["labels"] == ["2026-01", "2026-02", "2026-03"]
    basic = next(c for c in trend["charts"] if c["key"] == "basic")
    assert basic["series"]["Acme"] == [0.0, 0.0, 0.0]
    assert basic["series"]["Bolt"] == [None, None, None]  # a gap, not a zero
    assert "vendor/chartjs/chart.umd.min.js" in html


def test_month_page_opens_on_the_latest_month_with_cases(site):
    _app, _issued, url = site
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session:
        latest = session.scalar(select(func.max(Case.created_at)))
    engine.dispose()
    html = get(site, "/reports/").get_data(as_text=True)
    if latest:
        assert f'value="{latest:%Y-%m}"' in html and f"— {latest:%Y-%m}" in html
    else:
        now = clock.now()
        last = f"{now.year - (now.month == 1):04d}-{(now.month - 2) % 12 + 1:02d}"
        assert f'value="{last}"' in html


def test_scorecard_links_kpis_to_cases_and_inputs(site):
    html = get(site, "/reports/scorecard/Acme/2026-03").get_data(as_text=True)
    assert "/reports/cases?measure=incidents_resolved_in_sla" in html
    assert "supervisor input" in html
    # each KPI says whether its figure was computed from the cases or typed by the supervisor
    assert html.count('class="origin computed"') and html.count('class="origin typed"')
    assert "/reports/cases?measure=inspections_done" in html  # inspections come from their cases
    chinese = get(site, "/reports/scorecard/Acme/2026-03", who="lin").get_data(as_text=True)
    assert "<strong>计算</strong>" in chinese and "<strong>录入</strong>" in chinese
    assert get(site, "/reports/cases?measure=incidents_resolved_in_sla&provider=Acme"
                     "&period=2026-03").status_code == 200
    assert get(site, "/reports/cases?measure=nope&period=2026-03").status_code == 404


def test_annual_page_and_exports(site):
    html = get(site, "/reports/annual/2026?provider=Acme").get_data(as_text=True)
    assert "2026-01 to 2026-03" in html  # basic below the pass mark three months running
    xlsx = get(site, "/reports/export?period=2026&provider=Acme&format=xlsx")
    assert xlsx.headers["Content-Disposition"] == 'attachment; filename="evaluation-2026.xlsx"'
    book = load_workbook(io.BytesIO(xlsx.data))
    assert "Annual 年度评估" in book.sheetnames
    printable = get(site, "/reports/export?period=2026-03&format=html")
    assert "运维服务质量考核评估报告" in printable.get_data(as_text=True)


def test_readers_only(site):
    assert get(site, "/reports/?period=2026-03", who="eddie").status_code == 403
    assert get(site, "/api/v1/evaluations?period=2026-03", who="eddie").status_code == 403
    app, _, _ = site
    assert app.test_client().get("/api/v1/metrics").status_code == 401


def test_api_evaluations_and_metrics(site):
    body = get(site, "/api/v1/evaluations?period=2026-03&provider=Acme").get_json()
    card = body["scorecards"][0]
    assert card["provider"] == "Acme" and card["below_pass_mark"] == ["basic", "total"]
    year = get(site, "/api/v1/evaluations?period=2026").get_json()
    acme = next(a for a in year["assessments"] if a["provider"] == "Acme")
    assert acme["verdict"] == "fail" and "basic" in acme["failed"]
    bad = get(site, "/api/v1/evaluations?period=March")
    assert bad.status_code == 422 and "period" in bad.get_json()["error"]["details"]
    metrics = get(site, "/api/v1/metrics?from=2026-03-01&to=2026-03-31&process=incident")
    assert metrics.status_code == 200
    assert metrics.get_json()["opened"] == 0
    assert metrics.get_json()["ratios"]["resolution_within_sla"]["value"] is None
    assert get(site, "/api/v1/metrics?from=2026-03-01").status_code == 422


def test_inputs_form_saves_and_refuses_bad_values(site):
    app, _, _ = site
    client = signed_in(app, "suzy")
    auth: dict[str, str] = {}
    assert client.get("/reports/inputs?provider=Bolt&period=2026-03", headers=auth).status_code == 200
    bad = client.post("/reports/inputs?provider=Bolt&period=2026-03", headers=auth,
                      data={"qualified_staff_ratio": "3", "satisfaction": "85"})
    assert bad.status_code == 422
    assert "Number must be between 0 and 1" in bad.get_data(as_text=True)
    ok = client.post("/reports/inputs?provider=Bolt&period=2026-03", headers=auth,
                     data={"satisfaction": "85", "comment": "survey of March"})
    assert ok.status_code == 302
    card = get(site, "/api/v1/evaluations?period=2026-03&provider=Bolt").get_json()["scorecards"][0]
    assert card["inputs"] == {"satisfaction": 85.0}
    other = signed_in(app, "eddie")
    assert other.post("/reports/inputs?provider=Bolt&period=2026-03", data={"satisfaction": "1"}).status_code == 403


def test_cli_evaluate_writes_each_format(site, tmp_path):
    _, _, url = site
    runner = CliRunner()
    out = tmp_path / "march.csv"
    result = runner.invoke(main, ["--database-url", url, "evaluate", "--period", "2026-03",
                                  "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["provider"] for r in rows} == {"Acme", "Bolt"}
    result = runner.invoke(main, ["--database-url", url, "evaluate", "--period", "2026",
                                  "--provider", "Acme"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["assessments"][0]["verdict"] == "fail"
    result = runner.invoke(main, ["--database-url", url, "evaluate", "--period", "2026-13"])
    assert result.exit_code == 1 and "YYYY-MM" in result.stderr


def test_api_lists_the_cases_behind_a_kpi(site):
    body = get(site, "/api/v1/evaluations/cases?measure=incidents_resolved_in_sla"
                     "&period=2026-03&provider=Acme&show=missed").get_json()
    assert body == {"items": [], "next_page": None}
    assert get(site, "/api/v1/evaluations/cases?measure=x&period=2026-03").status_code == 404
    assert get(site, "/api/v1/evaluations/cases?measure=mean_rating&period=2026-03"
                     "&show=maybe").status_code == 422


def test_cli_names_a_broken_configuration(site, tmp_path, monkeypatch):
    _, _, url = site
    broken = tmp_path / "eval.toml"
    broken.write_text('version = "x"\ntotal_pass_mark = 180\n')
    monkeypatch.setenv("OPSGATE_EVALUATION_CONFIG", str(broken))
    result = CliRunner().invoke(main, ["--database-url", url, "evaluate", "--period", "2026-03"])
    assert result.exit_code == 1
    assert "eval.toml: categories: at least one category is needed" in result.stderr


def test_pages_speak_chinese_to_a_user_who_chose_it(site):
    html = get(site, "/reports/?period=2026-03", who="lin").get_data(as_text=True)
    assert "运维服务商考核" in html and "故障/问题处理" in html and "无数据" in html
    annual = get(site, "/reports/annual/2026", who="lin").get_data(as_text=True)
    assert "连续3个月或以上不达标" in annual


def test_cli_publish_opens_a_rectification_case_once(site):
    _, _, url = site
    runner = CliRunner()
    args = ["--database-url", url, "evaluate", "--period", "2026-02", "--publish", "--as", "suzy",
            "--format", "csv"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "Acme 2026-02: below a pass mark; rectification case RCT-" in first.stderr
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "rectification case" not in again.stderr
    refused = runner.invoke(main, ["--database-url", url, "evaluate", "--period", "2026-02",
                                   "--publish", "--as", "eddie"])
    assert refused.exit_code == 1 and "supervisor" in refused.stderr
