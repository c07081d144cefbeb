"""Evaluation exports: what a supervisor opens in a browser, a spreadsheet or a script."""
import csv
import io
import json

from openpyxl import load_workbook

from engine.evaluation.annual import assess_year
from engine.evaluation.config import load_config
from engine.evaluation.report_data import Report
from engine.evaluation.scoring import Measurement, score_month
from webui.exports import render


def month_report():
    config = load_config()
    measures = {"incidents_resolved_in_sla": Measurement(0.8, 8, 10),
                "incidents_resolved": Measurement(1.0, 10, 10)}
    card = score_month(config, "Acme", "2026-03", measures, {"satisfaction": 90})
    return Report("2026-03", [card], [])


def year_report():
    config = load_config()
    cards = [score_month(config, "Acme", f"2026-{m:02d}",
                         {"incidents_resolved_in_sla": Measurement(0.5 if m in (4, 5, 6) else 1, 1, 1)},
                         {"satisfaction": 85})
             for m in range(1, 13)]
    return Report("2026", cards, [assess_year(config, "Acme", 2026, cards)])


def test_json_keeps_no_data_as_null_with_its_status():
    data = json.loads(render(month_report(), "json"))
    card = data["scorecards"][0]
    kpis = {k["key"]: k for c in card["categories"] for k in c["kpis"]}
    assert kpis["responded_in_sla"]["score"] is None
    assert kpis["responded_in_sla"]["status"] == "no_data"
    assert kpis["resolved_in_sla"]["score"] == 40.0
    assert card["config"]["sha256"] == load_config().sha256
    assert any("shared" in n["en"] for n in card["notes"])


def test_csv_says_no_data_in_words_and_has_chinese_labels():
    text = render(month_report(), "csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_kpi = {r["kpi"]: r for r in rows}
    assert by_kpi["responded_in_sla"]["kpi_score"] == "no data / 无数据"
    assert by_kpi["resolved_in_sla"]["kpi_score"] == "40.0"
    assert by_kpi["resolved_in_sla"]["category_zh"] == "故障/问题处理"


def test_xlsx_has_summary_annual_kpi_and_notes_sheets():
    book = load_workbook(io.BytesIO(render(year_report(), "xlsx")))
    assert book.sheetnames == ["Summary 汇总", "Annual 年度评估", "KPIs 指标", "Notes 说明"]
    annual = list(book["Annual 年度评估"].iter_rows(values_only=True))
    faults = next(r for r in annual if r[2] == "faults")
    assert faults[5] == "fail" and faults[8] == "2026-04 2026-05 2026-06"
    summary = list(book["Summary 汇总"].iter_rows(values_only=True))
    assert len(summary) == 13


def test_printable_html_names_the_failed_months_in_both_languages():
    html = render(year_report(), "html").decode()
    assert "运维服务质量考核评估报告" in html
    assert "below the pass mark 3 or more months running (2026-04 to 2026-06)" in html
    assert "连续3个月或以上不达标" in html
    assert "no data / 无数据" in html
