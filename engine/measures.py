"""The per-provider monthly measures the evaluation configuration may score.

Each measure is a ratio (numerator / denominator) or a mean, computed by engine.metrics
from the cases of one provider in one month. The configuration file refers to them by key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """One measure: key, labels, and whether it is a ratio (fraction) or a mean."""

    key: str
    label_en: str
    label_zh: str
    kind: str = "ratio"  # "ratio" (numerator / denominator) or "mean"


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in [
        Measure("incidents_resolved", "Incidents opened in the month and resolved in it",
                "當月故障解決率"),
        Measure("incidents_resolved_in_sla", "Incidents resolved within the resolution target",
                "故障修復及時率"),
        Measure("incidents_responded_in_sla", "Incidents answered within the response target",
                "服務響應及時率"),
        Measure("incidents_reopened", "Resolved incidents that were reopened", "重復故障率"),
        Measure("inspection_share", "Incidents found by inspection among all incidents",
                "巡檢發現問題比率"),
        Measure("emergency_recovered_in_sla", "Emergencies recovered within target",
                "應急事件按時恢復率"),
        Measure("drills_done", "Backup-restore drills done among those started", "演練完成率"),
        Measure("drills_verified", "Drills whose restore was verified", "演練恢復驗證率"),
        Measure("dispatch_completed", "Work orders completed among those assigned",
                "派工完成率"),
        Measure("dispatch_on_time", "Work orders completed within target", "派工按時完成率"),
        Measure("change_success", "Changes implemented without rollback", "變更成功率"),
        Measure("revoked_in_target", "Offboarding revocations within target",
                "賬號撤銷及時率"),
        Measure("mean_rating", "Mean closing rating (1-5)", "用戶評價平均分", kind="mean"),
        Measure("desk_handled", "Service-desk contacts handled", "服務完成率"),
        Measure("desk_answered_in_target", "Service-desk contacts answered within target",
                "服務及時率"),
        Measure("desk_first_contact", "Service-desk contacts resolved at first contact",
                "一次解決率"),
        Measure("records_complete", "Closed cases carrying every required record",
                "過程文檔齊全率"),
    ]
}
