"""The per-provider monthly measures the evaluation configuration may score.

Each measure is a ratio (numerator / denominator) or a mean, computed by engine.evaluation.metrics
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
                "当月故障解决率"),
        Measure("incidents_resolved_in_sla", "Incidents resolved within the resolution target",
                "故障修复及时率"),
        Measure("incidents_responded_in_sla", "Incidents answered within the response target",
                "服务响应及时率"),
        Measure("anomaly_responded_in_sla",
                "Monitoring alerts answered within the response target", "异常报告及时率"),
        Measure("mean_response_hours", "Mean hours to the first response", "平均响应时间",
                kind="mean"),
        Measure("incidents_reopened", "Resolved incidents that were reopened", "重复故障率"),
        Measure("inspection_share", "Incidents found by inspection among all incidents",
                "巡检发现问题比率"),
        Measure("emergency_recovered_in_sla", "Emergencies recovered within target",
                "应急事件按时恢复率"),
        Measure("inspections_done", "Inspections done among those planned (inspection cases)",
                "巡检完成率"),
        Measure("inspection_records", "Inspections done with complete records", "巡检记录完整率"),
        Measure("drills_done", "Backup-restore drills done among those started", "演练完成率"),
        Measure("drills_verified", "Drills whose restore was verified", "演练恢复验证率"),
        Measure("dispatch_completed", "Work orders completed among those assigned",
                "派工完成率"),
        Measure("dispatch_on_time", "Work orders completed within target", "派工按时完成率"),
        Measure("change_success", "Changes implemented without rollback", "变更成功率"),
        Measure("revoked_in_target", "Offboarding revocations within target",
                "账号撤销及时率"),
        Measure("mean_rating", "Mean closing rating (1-5)", "用户评价平均分", kind="mean"),
        Measure("desk_handled", "Service-desk contacts handled", "服务完成率"),
        Measure("desk_answered_in_target", "Service-desk contacts answered within target",
                "服务及时率"),
        Measure("desk_first_contact", "Service-desk contacts resolved at first contact",
                "一次解决率"),
        Measure("records_complete", "Closed cases carrying every required record",
                "过程文档齐全率"),
    ]
}
