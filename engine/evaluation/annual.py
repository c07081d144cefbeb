"""The annual assessment (年度评估): the four rules of EVALUATION.md over monthly scorecards.

A category (and the month total) fails the year when it was below its pass mark in N
consecutive calendar months (N = 3 by default); a month without a score breaks the run,
since the provider was not found below standard that month. Records completeness,
satisfaction and workload are judged on the year's sums; each failure names the months
that caused it. An item without data is "no data" and does not fail the year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.evaluation.config import EvaluationConfig
from engine.evaluation.scoring import FAIL, NO_DATA, PASS, Scorecard


@dataclass(frozen=True)
class AnnualItem:
    key: str
    label_en: str
    label_zh: str
    status: str  # pass / fail / no_data
    value: float | None
    threshold: str
    months: tuple[str, ...]  # the months that caused a failure (or that were below)
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class AnnualAssessment:
    provider: str
    year: int
    config_version: str
    config_sha256: str
    verdict: str  # pass / fail
    items: tuple[AnnualItem, ...]
    months_scored: tuple[str, ...]

    @property
    def failed(self) -> tuple[AnnualItem, ...]:
        """The items that failed the year."""
        return tuple(i for i in self.items if i.status == FAIL)


def _month_index(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def failing_runs(failing: Sequence[str], length: int) -> list[list[str]]:
    """Return the runs of at least `length` consecutive calendar months among `failing`."""
    runs: list[list[str]] = []
    current: list[str] = []
    for period in sorted(set(failing), key=_month_index):
        if current and _month_index(period) == _month_index(current[-1]) + 1:
            current.append(period)
        else:
            current = [period]
            runs.append(current)
    return [run for run in runs if len(run) >= length]


def _consecutive_item(key: str, label_en: str, label_zh: str, failing: list[str],
                      scored: int, n: int) -> AnnualItem:
    runs = failing_runs(failing, n)
    threshold = f"below the pass mark in fewer than {n} consecutive months"
    if not scored:
        return AnnualItem(key, label_en, label_zh, NO_DATA, None, threshold, (),
                          f"{label_en}: no month was scored.", f"{label_zh}:全年无评分月份。")
    if runs:
        months = tuple(m for run in runs for m in run)
        spans = "; ".join(f"{run[0]} to {run[-1]}" for run in runs)
        return AnnualItem(key, label_en, label_zh, FAIL, float(len(failing)), threshold, months,
                          f"{label_en}: below the pass mark {n} or more months running ({spans}).",
                          f"{label_zh}:连续{n}个月或以上不达标({spans})。")
    below = tuple(sorted(failing, key=_month_index))
    extra_en = f" (below in {', '.join(below)}, not {n} running)" if below else ""
    extra_zh = f"({'、'.join(below)}不达标,但未连续{n}个月)" if below else ""
    return AnnualItem(key, label_en, label_zh, PASS, float(len(failing)), threshold, below,
                      f"{label_en}: passed{extra_en}.", f"{label_zh}:合格{extra_zh}。")


def assess_year(config: EvaluationConfig, provider: str, year: int,
                scorecards: Sequence[Scorecard]) -> AnnualAssessment:
    """Apply the four annual rules of EVALUATION.md to a provider's monthly scorecards."""
    cards = sorted((c for c in scorecards if c.period.startswith(f"{year}-")),
                   key=lambda c: _month_index(c.period))
    n = config.annual.consecutive_failing_months
    items: list[AnnualItem] = []
    for category in config.categories:
        results = [(c.period, c.category(category.key)) for c in cards]
        failing = [p for p, r in results if r.status == FAIL]
        scored = sum(1 for _, r in results if r.status != NO_DATA)
        items.append(_consecutive_item(category.key, category.label_en, category.label_zh,
                                       failing, scored, n))
    failing = [c.period for c in cards if c.status == FAIL]
    scored = sum(1 for c in cards if c.status != NO_DATA)
    items.append(_consecutive_item("total", "Monthly total", "月度总分", failing, scored, n))
    items.append(_records_item(config, cards))
    items.append(_satisfaction_item(config, cards))
    items.append(_workload_item(config, cards))
    verdict = FAIL if any(i.status == FAIL for i in items) else PASS
    return AnnualAssessment(provider, year, config.version, config.sha256, verdict,
                            tuple(items), tuple(c.period for c in cards))


def _records_item(config: EvaluationConfig, cards: Sequence[Scorecard]) -> AnnualItem:
    minimum = config.annual.records_completeness_min
    key, en, zh = "records", "Completeness of records", "文档完整性、齐全性"
    threshold = f">= {minimum:.0%}"
    present = required = 0.0
    low: list[str] = []
    for card in cards:
        m = card.measures.get("records_complete")
        if m is None or not m.denominator:
            continue
        present += m.numerator or 0.0
        required += m.denominator
        if (m.numerator or 0.0) / m.denominator < minimum:
            low.append(card.period)
    if not required:
        return AnnualItem(key, en, zh, NO_DATA, None, threshold, (),
                          f"{en}: no case with required records closed this year.",
                          f"{zh}:全年无需提交文档的已结案件。")
    value = present / required
    status = PASS if value >= minimum else FAIL
    verb_en = "meets" if status == PASS else "is below"
    return AnnualItem(key, en, zh, status, value, threshold, tuple(low),
                      f"{en}: {present:g} of {required:g} closed cases carried every required "
                      f"record ({value:.1%}), which {verb_en} {minimum:.0%}"
                      + (f"; short in {', '.join(low)}." if low else "."),
                      f"{zh}:{required:g}件中{present:g}件文档齐全({value:.1%}),"
                      + ("达标" if status == PASS else f"低于{minimum:.0%}")
                      + (f";不足月份:{'、'.join(low)}。" if low else "。"))


def _satisfaction_item(config: EvaluationConfig, cards: Sequence[Scorecard]) -> AnnualItem:
    minimum = config.annual.satisfaction_min
    key, en, zh = "satisfaction", "User satisfaction", "用户部门满意度"
    threshold = f">= {minimum:g}"
    values = [(c.period, float(v)) for c in cards if (v := c.inputs.get("satisfaction")) is not None]
    if not values:
        return AnnualItem(key, en, zh, NO_DATA, None, threshold, (),
                          f"{en}: no satisfaction survey result was entered this year.",
                          f"{zh}:全年未录入满意度调查结果。")
    mean = sum(v for _, v in values) / len(values)
    low = tuple(p for p, v in values if v < minimum)
    status = PASS if mean >= minimum else FAIL
    return AnnualItem(key, en, zh, status, mean, threshold, low,
                      f"{en}: mean survey result {mean:.1f} over {len(values)} month(s)"
                      + (f", below {minimum:g}" if status == FAIL else "")
                      + (f"; below in {', '.join(low)}." if low else "."),
                      f"{zh}:{len(values)}个月平均{mean:.1f}分"
                      + (f",低于{minimum:g}分" if status == FAIL else "")
                      + (f";低分月份:{'、'.join(low)}。" if low else "。"))


def _workload_item(config: EvaluationConfig, cards: Sequence[Scorecard]) -> AnnualItem:
    low_ratio, high_ratio = config.annual.workload_ratio_min, config.annual.workload_ratio_max
    key, en, zh = "workload", "Workload reasonable and real", "工作量合理性、真实性"
    threshold = f"actual / planned person-days between {low_ratio:g} and {high_ratio:g}"
    actual = planned = 0.0
    outside: list[str] = []
    missing: list[str] = []
    for card in cards:
        a, p = card.inputs.get("actual_person_days"), card.inputs.get("planned_person_days")
        if a is None or p is None or not p:
            missing.append(card.period)
            continue
        actual += float(a)
        planned += float(p)
        if not low_ratio <= float(a) / float(p) <= high_ratio:
            outside.append(card.period)
    if not planned:
        return AnnualItem(key, en, zh, NO_DATA, None, threshold, (),
                          f"{en}: no planned and actual person-days were entered this year.",
                          f"{zh}:全年未录入计划与实际人天。")
    value = actual / planned
    status = PASS if low_ratio <= value <= high_ratio else FAIL
    note_en = (f"; outside the band in {', '.join(outside)}" if outside else "") + \
        (f"; no input for {', '.join(missing)}" if missing else "")
    note_zh = (f";超出范围月份:{'、'.join(outside)}" if outside else "") + \
        (f";未录入月份:{'、'.join(missing)}" if missing else "")
    return AnnualItem(key, en, zh, status, value, threshold, tuple(outside),
                      f"{en}: {actual:g} actual against {planned:g} planned person-days "
                      f"({value:.2f}){note_en}.",
                      f"{zh}:实际{actual:g}人天,计划{planned:g}人天({value:.2f}){note_zh}。")
