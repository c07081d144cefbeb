"""Pure scoring: KPI interpolation, no-data sharing, pass marks, annual rules."""

import pytest

from engine.evaluation.annual import assess_year, failing_runs
from engine.evaluation.config import load_config
from engine.evaluation.scoring import (
    FAIL,
    NO_DATA,
    PASS,
    Measurement,
    kpi_score,
    score_month,
)


@pytest.mark.parametrize("value,expected", [
    (1.0, 100), (1.2, 100), (0.8, 0), (0.5, 0), (0.9, 50), (0.95, 75)])
def test_higher_is_better_interpolates(value, expected):
    assert kpi_score(value, "higher", 1.0, 0.8) == pytest.approx(expected)


@pytest.mark.parametrize("value,expected", [
    (0.02, 100), (0.0, 100), (0.15, 0), (0.3, 0), (0.085, 50)])
def test_lower_is_better_interpolates(value, expected):
    assert kpi_score(value, "lower", 0.02, 0.15) == pytest.approx(expected)


def full_inputs(**over):
    values = dict(planned_person_days=20, actual_person_days=20, qualified_staff_ratio=1,
                  doc_grade=95, docs_due=5, docs_on_time=5, satisfaction=90,
                  vuln_scan_coverage=1, security_reports_due=1, security_reports_on_time=1)
    values.update(over)
    return values


def perfect_measures(**over):
    config = load_config()
    measures = {k.metric: Measurement(1.0, 10, 10) for c in config.categories
                for k in c.kpis if k.metric}
    measures["mean_rating"] = Measurement(5.0, 50, 10)
    measures["incidents_reopened"] = Measurement(0.0, 0, 10)
    measures.update(over)
    return measures


def test_perfect_month_scores_100_and_passes():
    card = score_month(load_config(), "Acme", "2026-03", perfect_measures(), full_inputs())
    assert card.total == pytest.approx(100)
    assert card.status == PASS and card.passed and not card.notes


def test_no_data_kpi_is_neither_0_nor_100_and_its_weight_is_shared():
    config = load_config()
    measures = perfect_measures(incidents_resolved_in_sla=Measurement(None, 0, 0),
                                incidents_resolved=Measurement(0.825, 33, 40))
    card = score_month(config, "Acme", "2026-03", measures, full_inputs())
    sla = card.kpi("resolved_in_sla")
    assert sla.status == NO_DATA and sla.score is None and sla.value is None
    faults = card.category("faults")
    weights = {k.key: k.weight for k in config.category("faults").kpis}
    rest = sum(w for key, w in weights.items() if key != "resolved_in_sla")
    resolved_score = 100 * (0.825 - 0.7) / (0.95 - 0.7)
    expected = (weights["incidents_resolved"] * resolved_score
                + (rest - weights["incidents_resolved"]) * 100) / rest
    assert faults.score == pytest.approx(expected)
    assert card.kpi("incidents_resolved").share == pytest.approx(
        weights["incidents_resolved"] / rest)
    assert any("Resolved within SLA" in n.en and "shared" in n.en for n in card.notes)


def test_category_without_any_data_is_not_scored_and_shares_its_weight():
    config = load_config()
    inputs = full_inputs(planned_person_days=None, actual_person_days=None,
                         qualified_staff_ratio=None)
    measures = perfect_measures(incidents_resolved=Measurement(0.7, 7, 10))
    card = score_month(config, "Acme", "2026-03", measures, inputs)
    basic = card.category("basic")
    assert basic.status == NO_DATA and basic.score is None and basic.share is None
    others = [c for c in config.categories if c.key != "basic"]
    faults_weights = {k.key: k.weight for k in config.category("faults").kpis}
    faults = 100 * (1 - faults_weights["incidents_resolved"] / sum(faults_weights.values()))
    expected = sum(c.weight * (faults if c.key == "faults" else 100) for c in others) / sum(
        c.weight for c in others)
    assert card.total == pytest.approx(expected)
    assert card.category("faults").score == pytest.approx(faults)
    assert card.below_pass_mark == ()


def test_a_score_exactly_on_the_pass_mark_passes():
    config = load_config()
    # qualified staff at 0.6 + 0.4*0.25 -> 25 points; person-days at 1.0 -> 100:
    # basic = (2*100 + 1*25) / 3 = 75 = pass mark.
    card = score_month(config, "Acme", "2026-03", perfect_measures(),
                       full_inputs(qualified_staff_ratio=0.7))
    assert card.category("basic").score == pytest.approx(75)
    assert card.category("basic").status == PASS


def test_ratio_with_zero_base_is_no_data():
    card = score_month(load_config(), "Acme", "2026-03", perfect_measures(),
                       full_inputs(inspections_planned=0, inspections_done=0, inspection_records_complete=0))
    assert card.kpi("inspections_done").status == NO_DATA
    assert card.kpi("inspection_records").status == NO_DATA


def test_inspection_figures_are_computed_unless_the_supervisor_overrides_them():
    measures = perfect_measures(inspections_done=Measurement(0.5, 1, 2, {"measure": "inspections_done"}))
    card = score_month(load_config(), "Acme", "2026-03", measures, full_inputs())
    done = card.kpi("inspections_done")
    assert done.origin == "computed" and done.value == 0.5 and done.source == {"measure": "inspections_done"}
    assert card.kpi("person_days").origin == "typed"
    typed = score_month(load_config(), "Acme", "2026-03", measures,
                        full_inputs(inspections_planned=2, inspections_done=2),
                        {"input_id": 7, "entered_by": "suzy", "entered_at": "2026-04-02T09:00:00+00:00"})
    done = typed.kpi("inspections_done")
    assert done.origin == "typed" and done.value == 1.0 and done.score == 100
    assert done.source["override_of"] == "inspections_done" and done.source["entered_by"] == "suzy"
    assert done.source["computed"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert typed.kpi("inspection_records").origin == "computed"  # its override inputs are not all there
    assert any("typed figures (entered by suzy)" in n.en and "录入人suzy" in n.zh for n in typed.notes)


def test_nothing_at_all_is_no_data():
    card = score_month(load_config(), "Acme", "2026-03", {}, {})
    assert card.total is None and card.status == NO_DATA and card.passed


def test_failing_runs():
    months = ["2026-01", "2026-02", "2026-03", "2026-05", "2026-07", "2026-08"]
    assert failing_runs(months, 3) == [["2026-01", "2026-02", "2026-03"]]
    assert failing_runs(["2025-11", "2025-12", "2026-01"], 3) == [["2025-11", "2025-12", "2026-01"]]
    assert failing_runs(["2026-01", "2026-03", "2026-05"], 3) == []


def year_of_cards(failing_faults: set[int], **input_over):
    config = load_config()
    cards = []
    for month in range(1, 13):
        resolved = Measurement(0.5, 5, 10) if month in failing_faults else Measurement(1, 10, 10)
        cards.append(score_month(config, "Acme", f"2026-{month:02d}",
                                 perfect_measures(incidents_resolved_in_sla=resolved,
                                                  incidents_resolved=resolved),
                                 full_inputs(**input_over)))
    return config, cards


def test_three_consecutive_failing_months_fail_the_category():
    config, cards = year_of_cards({4, 5, 6})
    result = assess_year(config, "Acme", 2026, cards)
    faults = next(i for i in result.items if i.key == "faults")
    assert faults.status == FAIL
    assert faults.months == ("2026-04", "2026-05", "2026-06")
    assert result.verdict == FAIL
    assert [i.key for i in result.failed] == ["faults"]


def test_three_failing_months_not_consecutive_pass():
    config, cards = year_of_cards({2, 5, 9})
    result = assess_year(config, "Acme", 2026, cards)
    faults = next(i for i in result.items if i.key == "faults")
    assert faults.status == PASS
    assert faults.months == ("2026-02", "2026-05", "2026-09")
    assert result.verdict == PASS


def test_a_month_without_score_breaks_the_run():
    config, cards = year_of_cards({4, 6})
    cards = [c for c in cards if c.period != "2026-05"]
    assert assess_year(config, "Acme", 2026, cards).verdict == PASS


def test_satisfaction_and_workload_rules_name_the_months():
    config, cards = year_of_cards(set(), satisfaction=70, actual_person_days=23)
    result = assess_year(config, "Acme", 2026, cards)
    failed = {i.key: i for i in result.failed}
    assert set(failed) == {"satisfaction", "workload"}
    assert failed["satisfaction"].value == pytest.approx(70)
    assert len(failed["satisfaction"].months) == 12
    assert failed["workload"].value == pytest.approx(1.15)
    assert "2026-01" in failed["workload"].months


def test_records_rule_uses_year_sums():
    config = load_config()
    cards = []
    for month in range(1, 13):
        present = 7 if month == 3 else 10
        measures = perfect_measures(records_complete=Measurement(present / 10, present, 10))
        cards.append(score_month(config, "Acme", f"2026-{month:02d}", measures, full_inputs()))
    records = next(i for i in assess_year(config, "Acme", 2026, cards).items if i.key == "records")
    assert records.value == pytest.approx(117 / 120)
    assert records.status == PASS  # 97.5 % over the year
    assert records.months == ("2026-03",)


def test_year_without_inputs_reports_no_data_items():
    config = load_config()
    cards = [score_month(config, "Acme", f"2026-{m:02d}", perfect_measures(), {})
             for m in range(1, 13)]
    result = assess_year(config, "Acme", 2026, cards)
    statuses = {i.key: i.status for i in result.items}
    assert statuses["satisfaction"] == NO_DATA and statuses["workload"] == NO_DATA
    assert statuses["basic"] == NO_DATA
    assert result.verdict == PASS
