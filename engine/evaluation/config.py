"""Load and check the evaluation configuration (categories, KPIs, pass marks, annual rules).

The shipped defaults are engine/evaluation/config.toml. OPSGATE_EVALUATION_CONFIG names
another file. A scorecard records the `version` and the sha256 of the file's bytes, so a
changed file is always told apart even when someone forgets to bump the version.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.config import settings
from engine.errors import EngineError
from engine.evaluation.measures import MEASURES

DEFAULT_PATH = Path(__file__).with_name("config.toml")
DIRECTIONS = ("higher", "lower")
INPUT_TYPES = ("number", "integer")


class ConfigError(EngineError, ValueError):
    """The evaluation configuration is invalid; the message names the entry and the rule."""

    code = "invalid_configuration"


@dataclass(frozen=True)
class InputDef:
    key: str
    label_en: str
    label_zh: str
    type: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class KpiDef:
    key: str
    label_en: str
    label_zh: str
    direction: str
    target: float
    floor: float
    weight: float
    metric: str | None = None
    input: tuple[str, ...] = ()  # one field, or (numerator, denominator)
    # Supervisor inputs that, when entered for the month, replace the computed metric (one
    # field, or numerator and denominator): an audited override; the scorecard says so.
    override: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoryDef:
    key: str
    label_en: str
    label_zh: str
    weight: float
    pass_mark: float
    kpis: tuple[KpiDef, ...]


@dataclass(frozen=True)
class AnnualRules:
    consecutive_failing_months: int
    records_completeness_min: float
    satisfaction_min: float
    workload_ratio_min: float
    workload_ratio_max: float


@dataclass(frozen=True)
class SlaTargets:
    response_hours: dict[str, float]
    resolve_hours: dict[str, float]
    default_priority: str
    emergency_recover_hours: float
    revoke_hours: float
    dispatch_hours: dict[str, float]
    service_desk_sources: tuple[str, ...]


@dataclass(frozen=True)
class EvaluationConfig:
    version: str
    sha256: str
    source: str
    total_pass_mark: float
    categories: tuple[CategoryDef, ...]
    inputs: tuple[InputDef, ...]
    annual: AnnualRules
    sla: SlaTargets

    def category(self, key: str) -> CategoryDef:
        """Return the category with this key."""
        for category in self.categories:
            if category.key == key:
                return category
        raise KeyError(key)

    def input_def(self, key: str) -> InputDef:
        """Return the supervisor input with this key."""
        for item in self.inputs:
            if item.key == key:
                return item
        raise KeyError(key)


_cache: dict[tuple[str, float], EvaluationConfig] = {}


def evaluation_config(session: Session) -> EvaluationConfig:
    """The evaluation configuration this installation uses (OPSGATE_EVALUATION_CONFIG, read at
    the edge into engine.config; the shipped defaults without one)."""
    return load_config(settings(session).evaluation_config)


def load_config(path: str | Path | None = None) -> EvaluationConfig:
    """Load, check and cache the evaluation configuration (the shipped defaults if no path)."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        stamp = file.stat().st_mtime
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the evaluation configuration ({exc})") from exc
    cached = _cache.get((str(file), stamp))
    if cached is None:
        cached = parse_config(file.read_bytes(), source=str(file))
        _cache[(str(file), stamp)] = cached
    return cached


def parse_config(raw: bytes, *, source: str = "<string>") -> EvaluationConfig:
    """Parse configuration bytes; raise ConfigError naming the first bad entry."""
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    where = source
    inputs = tuple(_input(item, f"{where}: inputs[{i}]") for i, item in
                   enumerate(doc.get("inputs", [])))
    input_keys = {item.key for item in inputs}
    if len(input_keys) != len(inputs):
        raise ConfigError(f"{where}: inputs: duplicate key")
    categories = tuple(_category(item, f"{where}: categories[{i}]", input_keys)
                       for i, item in enumerate(_list(doc, "categories", where)))
    if not categories:
        raise ConfigError(f"{where}: categories: at least one category is needed")
    if len({c.key for c in categories}) != len(categories):
        raise ConfigError(f"{where}: categories: duplicate key")
    kpi_keys = [k.key for c in categories for k in c.kpis]
    if len(set(kpi_keys)) != len(kpi_keys):
        raise ConfigError(f"{where}: categories: a KPI key is used twice")
    return EvaluationConfig(
        version=str(_req(doc, "version", where)),
        sha256=hashlib.sha256(raw).hexdigest(),
        source=source,
        total_pass_mark=_mark(doc, "total_pass_mark", where),
        categories=categories,
        inputs=inputs,
        annual=_annual(doc.get("annual", {}), f"{where}: annual"),
        sla=_sla(doc.get("sla", {}), f"{where}: sla"),
    )


def _req(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ConfigError(f"{where}: '{key}' is required")
    return table[key]


def _list(table: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: '{key}' must be an array of tables")
    return value


def _num(table: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: '{key}' is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: '{key}' must be a number")
    return float(value)


def _mark(table: dict[str, Any], key: str, where: str) -> float:
    value = _num(table, key, where)
    if not 0 <= value <= 100:
        raise ConfigError(f"{where}: '{key}' must be between 0 and 100")
    return value


def _labels(table: dict[str, Any], where: str) -> tuple[str, str, str]:
    key = _req(table, "key", where)
    if not isinstance(key, str) or not key.isidentifier():
        raise ConfigError(f"{where}: 'key' must be an identifier")
    return key, str(table.get("label_en", key)), str(table.get("label_zh", table.get("label_en", key)))


def _input(table: dict[str, Any], where: str) -> InputDef:
    key, label_en, label_zh = _labels(table, where)
    kind = table.get("type", "number")
    if kind not in INPUT_TYPES:
        raise ConfigError(f"{where} ({key}): 'type' must be one of {', '.join(INPUT_TYPES)}")
    low = _num(table, "min", where) if "min" in table else None
    high = _num(table, "max", where) if "max" in table else None
    return InputDef(key, label_en, label_zh, kind, low, high)


def _category(table: dict[str, Any], where: str, input_keys: set[str]) -> CategoryDef:
    key, label_en, label_zh = _labels(table, where)
    where = f"{where} ({key})"
    weight = _num(table, "weight", where)
    if weight <= 0:
        raise ConfigError(f"{where}: 'weight' must be positive")
    kpis = tuple(_kpi(item, f"{where}: kpis[{i}]", input_keys)
                 for i, item in enumerate(_list(table, "kpis", where)))
    if not kpis:
        raise ConfigError(f"{where}: a category needs at least one KPI")
    return CategoryDef(key, label_en, label_zh, weight, _mark(table, "pass_mark", where), kpis)


def _kpi(table: dict[str, Any], where: str, input_keys: set[str]) -> KpiDef:
    key, label_en, label_zh = _labels(table, where)
    where = f"{where} ({key})"
    direction = table.get("direction")
    if direction not in DIRECTIONS:
        raise ConfigError(f"{where}: 'direction' must be 'higher' or 'lower'")
    target, floor = _num(table, "target", where), _num(table, "floor", where)
    if direction == "higher" and not target > floor:
        raise ConfigError(f"{where}: direction 'higher' needs target > floor")
    if direction == "lower" and not target < floor:
        raise ConfigError(f"{where}: direction 'lower' needs target < floor")
    weight = _num(table, "weight", where, default=1)
    if weight <= 0:
        raise ConfigError(f"{where}: 'weight' must be positive")
    metric, source = table.get("metric"), table.get("input")
    if (metric is None) == (source is None):
        raise ConfigError(f"{where}: give exactly one of 'metric' or 'input'")
    fields: tuple[str, ...] = ()
    if metric is not None and metric not in MEASURES:
        raise ConfigError(f"{where}: unknown metric '{metric}' "
                          f"(known: {', '.join(sorted(MEASURES))})")
    if source is not None:
        fields = (source,) if isinstance(source, str) else tuple(source)
        if len(fields) not in (1, 2) or not all(isinstance(f, str) for f in fields):
            raise ConfigError(f"{where}: 'input' must be a field or [numerator, denominator]")
        for field in fields:
            if field not in input_keys:
                raise ConfigError(f"{where}: unknown input '{field}'")
    override = table.get("override")
    overrides: tuple[str, ...] = ()
    if override is not None:
        overrides = (override,) if isinstance(override, str) else tuple(override)
        if metric is None:
            raise ConfigError(f"{where}: 'override' goes with 'metric' (an input KPI is typed already)")
        if len(overrides) not in (1, 2) or not all(isinstance(f, str) for f in overrides):
            raise ConfigError(f"{where}: 'override' must be a field or [numerator, denominator]")
        for field in overrides:
            if field not in input_keys:
                raise ConfigError(f"{where}: unknown input '{field}'")
    return KpiDef(key, label_en, label_zh, direction, target, floor, weight, metric, fields, overrides)


def _annual(table: dict[str, Any], where: str) -> AnnualRules:
    months = int(_num(table, "consecutive_failing_months", where, default=3))
    if months < 1:
        raise ConfigError(f"{where}: 'consecutive_failing_months' must be at least 1")
    low = _num(table, "workload_ratio_min", where, default=0.9)
    high = _num(table, "workload_ratio_max", where, default=1.1)
    if low > high:
        raise ConfigError(f"{where}: 'workload_ratio_min' must not exceed 'workload_ratio_max'")
    return AnnualRules(
        consecutive_failing_months=months,
        records_completeness_min=_num(table, "records_completeness_min", where, default=0.95),
        satisfaction_min=_num(table, "satisfaction_min", where, default=80),
        workload_ratio_min=low,
        workload_ratio_max=high,
    )


def _hours(table: dict[str, Any], key: str, where: str) -> dict[str, float]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table")
    return {str(k): _num(value, k, f"{where}.{key}") for k in value}


def _sla(table: dict[str, Any], where: str) -> SlaTargets:
    response = _hours(table, "response_hours", where) or {"P1": 0.25, "P2": 0.5, "P3": 2, "P4": 4}
    resolve = _hours(table, "resolve_hours", where) or {"P1": 2, "P2": 8, "P3": 24, "P4": 72}
    default = str(table.get("default_priority", "P3"))
    if default not in response or default not in resolve:
        raise ConfigError(f"{where}: 'default_priority' {default} has no response/resolve target")
    return SlaTargets(
        response_hours=response,
        resolve_hours=resolve,
        default_priority=default,
        emergency_recover_hours=_num(table, "emergency_recover_hours", where, default=2),
        revoke_hours=_num(table, "revoke_hours", where, default=24),
        dispatch_hours=_hours(table, "dispatch_hours", where),
        service_desk_sources=tuple(table.get("service_desk_sources", ["phone", "portal"])),
    )
