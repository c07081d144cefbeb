"""Evaluation report exports: JSON, CSV, XLSX (openpyxl) and printable HTML.

Used by `opsgate evaluate`, the API and the reports pages. Scores are rounded to two
decimals for people; a KPI or category without data shows "no data" (无数据), never 0.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.evaluation.annual import AnnualAssessment
from engine.evaluation.report_data import Report, report_dict, rounded
from engine.evaluation.scoring import NO_DATA, Scorecard

FORMATS = ("json", "csv", "xlsx", "html")
NO_DATA_TEXT = "no data / 无数据"


def to_json(report: Report) -> bytes:
    """Render the report as JSON."""
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2).encode("utf-8")


# Whether a KPI's figure was computed from the cases or typed by the supervisor.
ORIGIN_TEXT = {"computed": "computed / 计算", "typed": "typed / 录入"}
KPI_COLUMNS = ["provider", "period", "category", "category_zh", "kpi", "kpi_label",
               "kpi_label_zh", "direction", "target", "floor", "weight", "share", "value",
               "numerator", "denominator", "kpi_score", "origin", "category_score", "category_status",
               "total", "total_status", "config_version", "config_sha256"]
ANNUAL_COLUMNS = ["provider", "year", "item", "label", "label_zh", "status", "value",
                  "threshold", "months", "message", "message_zh", "verdict"]


def kpi_rows(cards: Sequence[Scorecard]) -> list[list[Any]]:
    """One row per provider, month and KPI."""
    rows = []
    for card in cards:
        for c in card.categories:
            for k in c.kpis:
                rows.append([
                    card.provider, card.period, c.key, c.label_zh, k.key, k.label_en,
                    k.label_zh, k.direction, k.target, k.floor, k.weight, rounded(k.share, 4),
                    NO_DATA_TEXT if k.value is None else rounded(k.value, 4), k.numerator,
                    k.denominator, NO_DATA_TEXT if k.score is None else rounded(k.score),
                    ORIGIN_TEXT.get(k.origin, k.origin), NO_DATA_TEXT if c.score is None else rounded(c.score), c.status,
                    NO_DATA_TEXT if card.total is None else rounded(card.total), card.status,
                    card.config_version, card.config_sha256])
    return rows


def annual_rows(results: Sequence[AnnualAssessment]) -> list[list[Any]]:
    """One row per provider and annual item."""
    return [[a.provider, a.year, i.key, i.label_en, i.label_zh, i.status,
             NO_DATA_TEXT if i.value is None else rounded(i.value, 4), i.threshold,
             " ".join(i.months), i.message_en, i.message_zh, a.verdict]
            for a in results for i in a.items]


def to_csv(report: Report) -> bytes:
    """Render the report as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if report.is_year:
        writer.writerow(ANNUAL_COLUMNS)
        writer.writerows(annual_rows(report.assessments))
        writer.writerow([])
    writer.writerow(KPI_COLUMNS)
    writer.writerows(kpi_rows(report.scorecards))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """Render the report as an XLSX workbook: summary, KPIs, notes (and the annual sheet)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    summary = book.active
    summary.title = "Summary 汇总"
    categories = report.scorecards[0].categories if report.scorecards else ()
    summary.append(["provider 服务商", "period 月份"]
                   + [f"{c.label_en} {c.label_zh}" for c in categories]
                   + ["total 总分", "status 状态", "below pass mark 未达标"])
    for card in report.scorecards:
        summary.append([card.provider, card.period]
                       + [NO_DATA_TEXT if c.score is None else rounded(c.score)
                          for c in card.categories]
                       + [NO_DATA_TEXT if card.total is None else rounded(card.total), card.status,
                          ", ".join(card.below_pass_mark)])
    sheets = [(summary, None)]
    if report.is_year:
        annual = book.create_sheet("Annual 年度评估")
        annual.append(ANNUAL_COLUMNS)
        for row in annual_rows(report.assessments):
            annual.append(row)
        sheets.append((annual, None))
    kpis = book.create_sheet("KPIs 指标")
    kpis.append(KPI_COLUMNS)
    for row in kpi_rows(report.scorecards):
        kpis.append(row)
    notes = book.create_sheet("Notes 说明")
    notes.append(["provider", "period", "note", "说明"])
    for card in report.scorecards:
        for note in card.notes:
            notes.append([card.provider, card.period, note.en, note.zh])
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_env: Environment | None = None


def _jinja() -> Environment:
    global _env
    if _env is None:
        _env = Environment(loader=PackageLoader("webui", "templates"),
                           autoescape=select_autoescape(["html"]))
        _env.filters["score"] = lambda v: NO_DATA_TEXT if v is None else f"{v:.2f}"
    return _env


def to_html(report: Report) -> bytes:
    """Render the printable HTML report (运维服务质量考核评估报告)."""
    template = _jinja().get_template("reports/print.html")
    return template.render(report=report, no_data=NO_DATA, no_data_text=NO_DATA_TEXT, origin_text=ORIGIN_TEXT
                           ).encode("utf-8")


def render(report: Report, fmt: str) -> bytes:
    """Render the report in one of FORMATS."""
    return {"json": to_json, "csv": to_csv, "xlsx": to_xlsx, "html": to_html}[fmt](report)
