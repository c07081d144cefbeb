"""Pure scoring: KPI, category and month scores and pass marks.

No database here: engine.evaluation.scorecards gathers the measures and calls these functions, and
the tests call them directly. Rules (EVALUATION.md):

* A KPI scores 100 at or beyond its target, 0 at or beyond its floor, linearly between.
* A KPI without data is "no data" (score None, never 0 or 100); its weight is shared
  among the category's other KPIs, and the scorecard says so in its notes.
* A category scores the weighted mean of its KPIs with data; a category with no KPI data
  is "no data" and its weight is shared among the other categories for the month total.
* A score passes when it is at or above its pass mark (达标).
* The annual rules live in engine.evaluation.annual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.evaluation.config import CategoryDef, EvaluationConfig, KpiDef

PASS, FAIL, NO_DATA = "pass", "fail", "no_data"


@dataclass(frozen=True)
class Measurement:
    """A measured value (None = no data) with what it was computed from."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    source: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    en: str
    zh: str


@dataclass(frozen=True)
class KpiScore:
    key: str
    label_en: str
    label_zh: str
    direction: str
    target: float
    floor: float
    weight: float
    share: float | None  # this KPI's share of the category score, after no-data sharing
    value: float | None
    numerator: float | None
    denominator: float | None
    score: float | None
    status: str  # "scored" or "no_data"
    source: Mapping[str, Any]
    # Where the figure comes from: "computed" from the cases, or "typed" by the supervisor
    # (an input KPI, or an input that overrides a computed one: source["override_of"]).
    origin: str = "computed"


@dataclass(frozen=True)
class CategoryScore:
    key: str
    label_en: str
    label_zh: str
    weight: float
    share: float | None  # this category's share of the month total
    pass_mark: float
    score: float | None
    status: str  # pass / fail / no_data
    kpis: tuple[KpiScore, ...]


@dataclass(frozen=True)
class Scorecard:
    provider: str
    period: str  # YYYY-MM
    config_version: str
    config_sha256: str
    total: float | None
    total_pass_mark: float
    status: str  # pass / fail / no_data
    categories: tuple[CategoryScore, ...]
    below_pass_mark: tuple[str, ...]  # category keys, and "total", below their pass mark
    notes: tuple[Note, ...]
    measures: Mapping[str, Measurement] = field(default_factory=dict)
    inputs: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when nothing was below its pass mark."""
        return not self.below_pass_mark

    def category(self, key: str) -> CategoryScore:
        """Return the category score with this key."""
        return next(c for c in self.categories if c.key == key)

    def kpi(self, key: str) -> KpiScore:
        """Return the KPI score with this key."""
        return next(k for c in self.categories for k in c.kpis if k.key == key)


def kpi_score(value: float, direction: str, target: float, floor: float) -> float:
    """Score a value 0-100: 100 at or beyond target, 0 at or beyond floor, linear between."""
    if direction == "higher":
        if value >= target:
            return 100.0
        if value <= floor:
            return 0.0
        return 100.0 * (value - floor) / (target - floor)
    if value <= target:
        return 100.0
    if value >= floor:
        return 0.0
    return 100.0 * (floor - value) / (floor - target)


def ratio(numerator: float | None, denominator: float | None,
          source: Mapping[str, Any] | None = None) -> Measurement:
    """Return numerator / denominator, or no data when either is missing or the base is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return Measurement(None, numerator, denominator, source or {})
    return Measurement(numerator / denominator, numerator, denominator, source or {})


def kpi_origin(kpi: KpiDef, inputs: Mapping[str, float | None]) -> str:
    """Say whether a KPI's figure is "computed" from the cases or "typed" by the supervisor:
    an input KPI is typed; a metric KPI is typed when all its override inputs were entered."""
    if kpi.metric is None:
        return "typed"
    if kpi.override and all(inputs.get(f) is not None for f in kpi.override):
        return "typed"
    return "computed"


def kpi_measurement(kpi: KpiDef, measures: Mapping[str, Measurement],
                    inputs: Mapping[str, float | None],
                    input_source: Mapping[str, Any] | None = None) -> Measurement:
    """Pick the measure a KPI reads: a process metric (unless the supervisor's override inputs
    replace it), an input or a ratio of two inputs."""
    if kpi.metric is not None and kpi_origin(kpi, inputs) == "computed":
        # Even without data the KPI names its measure, so it can link to (no) cases.
        return measures.get(kpi.metric, Measurement(None, source={"measure": kpi.metric}))
    fields = kpi.input or kpi.override
    source = dict(input_source or {}, fields=list(fields))
    if kpi.metric is not None:
        computed = measures.get(kpi.metric, Measurement(None))
        source["override_of"] = kpi.metric
        source["computed"] = {"value": computed.value, "numerator": computed.numerator,
                              "denominator": computed.denominator}
    if len(fields) == 2:
        return ratio(inputs.get(fields[0]), inputs.get(fields[1]), source)
    value = inputs.get(fields[0])
    return Measurement(None if value is None else float(value), source=source)


def _passes(score: float, mark: float) -> bool:
    # Round away float noise so 74.99999999 computed for an exact 75 still passes.
    return round(score, 6) >= mark


def score_category(category: CategoryDef, values: Mapping[str, Measurement],
                   origins: Mapping[str, str] | None = None) -> tuple[CategoryScore, list[Note]]:
    """Score one category from its KPIs' measurements (keyed by KPI key); `origins` says which
    were typed (kpi_origin; computed when not given)."""
    origins = origins or {}
    notes: list[Note] = []
    with_data = [k for k in category.kpis if values.get(k.key, Measurement(None)).value is not None]
    total_weight = sum(k.weight for k in with_data)
    kpis: list[KpiScore] = []
    weighted = 0.0
    for kpi in category.kpis:
        m = values.get(kpi.key, Measurement(None))
        if m.value is None:
            kpis.append(KpiScore(kpi.key, kpi.label_en, kpi.label_zh, kpi.direction, kpi.target,
                                 kpi.floor, kpi.weight, None, None, m.numerator, m.denominator,
                                 None, NO_DATA, m.source, origins.get(kpi.key, "computed")))
            continue
        score = kpi_score(m.value, kpi.direction, kpi.target, kpi.floor)
        weighted += kpi.weight * score
        kpis.append(KpiScore(kpi.key, kpi.label_en, kpi.label_zh, kpi.direction, kpi.target,
                             kpi.floor, kpi.weight, kpi.weight / total_weight, m.value,
                             m.numerator, m.denominator, score, "scored", m.source,
                             origins.get(kpi.key, "computed")))
    missing = [k for k in category.kpis if k not in with_data]
    if not with_data:
        notes.append(Note(f"{category.label_en}: no data for any KPI; the category is not "
                          "scored and its weight is shared among the other categories.",
                          f"{category.label_zh}:所有指标均无数据,本类不计分,其权重由其他类别分摊。"))
        return (CategoryScore(category.key, category.label_en, category.label_zh,
                              category.weight, None, category.pass_mark, None, NO_DATA,
                              tuple(kpis)), notes)
    for kpi in missing:
        notes.append(Note(
            f"{category.label_en}: no data for '{kpi.label_en}'; its weight {kpi.weight:g} is "
            f"shared among the other {len(with_data)} KPI(s) of the category.",
            f"{category.label_zh}:「{kpi.label_zh}」无数据,其权重{kpi.weight:g}由本类其他"
            f"{len(with_data)}项指标分摊。"))
    score = weighted / total_weight
    status = PASS if _passes(score, category.pass_mark) else FAIL
    return (CategoryScore(category.key, category.label_en, category.label_zh, category.weight,
                          None, category.pass_mark, score, status, tuple(kpis)), notes)


def score_month(config: EvaluationConfig, provider: str, period: str,
                measures: Mapping[str, Measurement], inputs: Mapping[str, float | None],
                input_source: Mapping[str, Any] | None = None) -> Scorecard:
    """Build one provider's monthly scorecard from its measures and supervisor inputs."""
    notes: list[Note] = []
    scored: list[CategoryScore] = []
    for category in config.categories:
        values = {k.key: kpi_measurement(k, measures, inputs, input_source) for k in category.kpis}
        origins = {k.key: kpi_origin(k, inputs) for k in category.kpis}
        result, category_notes = score_category(category, values, origins)
        for kpi in category.kpis:
            if kpi.metric is not None and origins[kpi.key] == "typed":
                who = values[kpi.key].source.get("entered_by")
                category_notes.append(Note(
                    f"{category.label_en}: '{kpi.label_en}' uses the supervisor's typed figures"
                    f"{f' (entered by {who})' if who else ''}, which override the figure computed from the cases.",
                    f"{category.label_zh}:「{kpi.label_zh}」采用监理录入的数据"
                    f"{f'(录入人{who})' if who else ''},取代由工单计算的数据。"))
        scored.append(result)
        notes.extend(category_notes)
    with_data = [c for c in scored if c.score is not None]
    weight = sum(c.weight for c in with_data)
    categories = tuple(
        c if c.score is None else _with_share(c, c.weight / weight) for c in scored)
    below = [c.key for c in categories if c.status == FAIL]
    if with_data:
        weighted = sum(c.weight * (c.score or 0.0) for c in with_data) / weight
        total: float | None = weighted
        status = PASS if _passes(weighted, config.total_pass_mark) else FAIL
        if status == FAIL:
            below.append("total")
    else:
        total, status = None, NO_DATA
        notes.append(Note("No data for any category: the month is not scored.",
                          "所有类别均无数据,本月不计分。"))
    return Scorecard(provider, period, config.version, config.sha256, total,
                     config.total_pass_mark, status, categories, tuple(below), tuple(notes),
                     dict(measures), dict(inputs))


def _with_share(category: CategoryScore, share: float) -> CategoryScore:
    return CategoryScore(category.key, category.label_en, category.label_zh, category.weight,
                         share, category.pass_mark, category.score, category.status,
                         category.kpis)
