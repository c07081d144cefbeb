"""Scorecards and assessments as JSON-ready dictionaries (API, exports, stored scorecards)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.evaluation.annual import AnnualAssessment
from engine.evaluation.scoring import CategoryScore, KpiScore, Scorecard


@dataclass(frozen=True)
class Report:
    """What `opsgate evaluate`, the API and the reports pages show for one period."""

    period: str
    scorecards: list[Scorecard]
    assessments: list[AnnualAssessment]  # empty for a month

    @property
    def is_year(self) -> bool:
        """True for an annual report."""
        return len(self.period) == 4


def rounded(value: float | None, places: int = 2) -> float | None:
    """Round for people; None stays None (no data)."""
    return None if value is None else round(value, places)


def kpi_dict(kpi: KpiScore) -> dict[str, Any]:
    """A KPI score as JSON, with the source it was computed from."""
    return {
        "key": kpi.key, "label": kpi.label_en, "label_zh": kpi.label_zh,
        "direction": kpi.direction, "target": kpi.target, "floor": kpi.floor,
        "weight": kpi.weight, "share": rounded(kpi.share, 4), "value": rounded(kpi.value, 4),
        "numerator": kpi.numerator, "denominator": kpi.denominator,
        "score": rounded(kpi.score), "status": kpi.status, "origin": kpi.origin,
        "source": dict(kpi.source),
    }


def category_dict(category: CategoryScore) -> dict[str, Any]:
    """A category score as JSON."""
    return {
        "key": category.key, "label": category.label_en, "label_zh": category.label_zh,
        "weight": category.weight, "share": rounded(category.share, 4),
        "pass_mark": category.pass_mark, "score": rounded(category.score),
        "status": category.status, "kpis": [kpi_dict(k) for k in category.kpis],
    }


def scorecard_dict(card: Scorecard) -> dict[str, Any]:
    """A monthly scorecard as JSON."""
    return {
        "provider": card.provider, "period": card.period,
        "config": {"version": card.config_version, "sha256": card.config_sha256},
        "total": rounded(card.total), "total_pass_mark": card.total_pass_mark,
        "status": card.status, "below_pass_mark": list(card.below_pass_mark),
        "categories": [category_dict(c) for c in card.categories],
        "notes": [{"en": n.en, "zh": n.zh} for n in card.notes],
        "inputs": dict(card.inputs),
    }


def assessment_dict(result: AnnualAssessment) -> dict[str, Any]:
    """An annual assessment as JSON."""
    return {
        "provider": result.provider, "year": result.year, "verdict": result.verdict,
        "config": {"version": result.config_version, "sha256": result.config_sha256},
        "months_scored": list(result.months_scored),
        "failed": [i.key for i in result.failed],
        "items": [{"key": i.key, "label": i.label_en, "label_zh": i.label_zh,
                   "status": i.status, "value": rounded(i.value, 4), "threshold": i.threshold,
                   "months": list(i.months), "message": i.message_en,
                   "message_zh": i.message_zh} for i in result.items],
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as JSON."""
    out: dict[str, Any] = {"period": report.period,
                           "scorecards": [scorecard_dict(c) for c in report.scorecards]}
    if report.is_year:
        out["assessments"] = [assessment_dict(a) for a in report.assessments]
    return out
