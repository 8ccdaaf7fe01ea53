"""Indicator definitions over the real-name ledgers (实名制自动统计口径), as data.

`load_definitions(plan)` reads `definitions.yaml` beside the shipped plan file and
checks it against the plan and the ledger schema: every indicator exists, every ledger
and column exists, kinds and units are known, a rate has a numerator and a denominator
and a plain figure a value. Errors name the definition and field, in Chinese first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hrss.ledgers.schema import LEDGERS
from hrss.plan.model import Plan
from hrss.plan.planfile import shipped_dir
from hrss.plan.units import UNITS

KINDS = ("count", "sum", "first_in_year", "first_ever", "active", "reference")
# Columns of the reference table (统计部门提供的参考数据), one row per org unit and year.
REFERENCE_COLUMNS = ("resident_population", "labour_force", "urban_labour_force", "high_skill_2020", "ecard_holders_2020")
# Words a `where` condition may use besides the ledger's columns and quoted literals.
SQL_WORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "like"})
_TOKEN = re.compile(r"'(?:[^']|'')*'|[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?|<=|>=|<>|!=|[=<>(),]|\s+")


class DefinitionError(ValueError):
    pass


@dataclass(frozen=True)
class Measure:
    kind: str
    unit: str
    ledger: str | None = None
    where: str | None = None
    date: str | None = None
    end: str | None = None
    column: str | None = None
    cumulative: bool = False
    base: str | None = None


@dataclass(frozen=True)
class Definition:
    indicator: str
    caliber: str  # 口径
    value: Measure | None = None
    numerator: Measure | None = None
    denominator: Measure | None = None

    @property
    def measures(self) -> tuple[Measure, ...]:
        return tuple(m for m in (self.value, self.numerator, self.denominator) if m is not None)

    @property
    def is_rate(self) -> bool:
        return self.numerator is not None


def definitions_path() -> Path:
    return shipped_dir() / "definitions.yaml"


def load_definitions(plan: Plan, path: Path | None = None) -> list[Definition]:
    path = path or definitions_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"无法读取统计口径文件 {path} (cannot read definitions): {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("definitions"), list):
        raise DefinitionError(f"{path}: 缺少 definitions 列表 (no 'definitions' list)")
    out: list[Definition] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["definitions"], start=1):
        where = f"{path.name} 第{i}项"
        if not isinstance(raw, dict):
            raise DefinitionError(f"{where}: 应为映射 (must be a mapping)")
        d = _definition(plan, raw, where)
        if d.indicator in seen:
            raise DefinitionError(f"{where}: 指标 {d.indicator} 重复定义 (defined twice)")
        seen.add(d.indicator)
        out.append(d)
    return out


def _definition(plan: Plan, raw: dict[str, Any], where: str) -> Definition:
    code = str(raw.get("indicator", ""))
    ind = next((i for i in plan.indicators if i.code == code), None)
    if ind is None:
        raise DefinitionError(f"{where} 字段 indicator: 规划中没有指标 {code!r} (unknown indicator)")
    where = f"{where} ({code})"
    caliber = str(raw.get("caliber") or "").strip()
    if not caliber:
        raise DefinitionError(f"{where} 字段 caliber: 口径说明不能为空 (caliber required)")
    parts = {k: _measure(raw[k], f"{where} 字段 {k}") for k in ("value", "numerator", "denominator") if k in raw}
    if ind.is_rate:
        if set(parts) != {"numerator", "denominator"}:
            raise DefinitionError(f"{where}: 比率指标需要 numerator 和 denominator (a rate needs numerator and denominator)")
    elif set(parts) != {"value"}:
        raise DefinitionError(f"{where}: 非比率指标需要且只需要 value (a plain figure needs exactly 'value')")
    unknown = set(raw) - {"indicator", "caliber", "value", "numerator", "denominator"}
    if unknown:
        raise DefinitionError(f"{where}: 未知字段 (unknown fields) {sorted(unknown)}")
    return Definition(code, caliber, **parts)


def _measure(raw: object, where: str) -> Measure:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{where}: 应为映射 (must be a mapping)")
    allowed = {"kind", "unit", "ledger", "where", "date", "end", "column", "cumulative", "base"}
    if unknown := set(raw) - allowed:
        raise DefinitionError(f"{where}: 未知字段 (unknown fields) {sorted(unknown)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DefinitionError(f"{where}.kind: {kind!r} 不是 {' | '.join(KINDS)} (unknown kind)")
    unit = str(raw.get("unit", ""))
    if unit not in UNITS:
        raise DefinitionError(f"{where}.unit: 未知单位 {unit!r} (unknown unit)")
    m = Measure(
        kind=kind, unit=unit, ledger=raw.get("ledger"), where=raw.get("where"), date=raw.get("date"),
        end=raw.get("end"), column=raw.get("column"), cumulative=bool(raw.get("cumulative", False)),
        base=raw.get("base"),
    )  # fmt: skip
    if kind == "reference":
        if m.column not in REFERENCE_COLUMNS:
            raise DefinitionError(f"{where}.column: 参考数据没有列 {m.column!r} (reference has no such column)")
        return m
    if m.ledger not in LEDGERS:
        raise DefinitionError(f"{where}.ledger: 没有台账 {m.ledger!r} (unknown ledger)")
    columns = {c.name for c in LEDGERS[m.ledger].columns}
    for field in ("date", "end", "column"):
        value = getattr(m, field)
        if value is not None and value not in columns:
            raise DefinitionError(f"{where}.{field}: 台账 {m.ledger} 没有列 {value!r} (no such column)")
    if m.date is None:
        raise DefinitionError(f"{where}.date: 需要日期列 (a date column is required)")
    if kind == "active" and m.end is None:
        raise DefinitionError(f"{where}.end: active 需要结束日期列 (active needs an end column)")
    if kind == "sum" and m.column is None:
        raise DefinitionError(f"{where}.column: sum 需要数值列 (sum needs a column)")
    if m.cumulative and kind != "first_ever":
        raise DefinitionError(f"{where}.cumulative: 只适用于 first_ever (only for first_ever)")
    if m.base is not None and (not m.cumulative or m.base not in REFERENCE_COLUMNS):
        raise DefinitionError(f"{where}.base: 需要累计口径和参考数据列 (needs cumulative and a reference column)")
    if m.where is not None:
        check_condition(m.where, columns, f"{where}.where")
    return m


def check_condition(text: str, columns: set[str], where: str) -> None:
    """Refuse anything in a `where` condition but columns, literals, comparisons and
    AND/OR/NOT/IN/IS NULL: the text is pasted into SQL for both engines."""
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise DefinitionError(f"{where}: 不允许的字符 (not allowed) {text[pos:pos + 10]!r}")
        token = m.group()
        is_word = token[0].isalpha() or token[0] == "_"
        if is_word and token not in columns and token.lower() not in SQL_WORDS:
            raise DefinitionError(f"{where}: 未知列或关键字 {token!r} (unknown column or word)")
        pos = m.end()
