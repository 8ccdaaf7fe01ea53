"""Reported values: validate long-format rows and store them all-or-nothing.

Long format: one row per (indicator, org_unit, period, value), optional unit,
numerator and denominator. Headers may be English or Chinese (see COLUMNS).
A value without a unit is in the indicator's reporting unit: the unit of its annex
table where it has one (districts report 城镇新增就业 in 人), otherwise its 表2 unit.
Values are stored in the 表2 unit.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from openpyxl.utils import get_column_letter
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from hrss.monitoring.periods import Period, PeriodError, month_index, parse_period
from hrss.monitoring.readers import InputFileError, reader_for
from hrss.monitoring.tables import ImportBatch, ValueRecord
from hrss.plan.model import Indicator, Plan
from hrss.plan.targets import has_target, reporting_unit
from hrss.plan.units import WHOLE_UNITS, UnitError, factor

COLUMNS: dict[str, tuple[str, ...]] = {
    "indicator": ("indicator", "指标", "指标代码", "指标名称"),
    "org_unit": ("org_unit", "地区", "组织单位", "填报单位"),
    "period": ("period", "期间", "时期", "统计期"),
    "value": ("value", "数值", "值"),
    "unit": ("unit", "计量单位"),
    "numerator": ("numerator", "分子"),
    "denominator": ("denominator", "分母"),
}
REQUIRED = ("indicator", "org_unit", "period", "value")
MAX_VALUE = 1e12  # no plan figure comes near this in its own unit; larger is a typing error
FIELD_LABELS = {
    "indicator": "指标", "org_unit": "地区", "period": "期间", "value": "数值",
    "unit": "计量单位", "numerator": "分子", "denominator": "分母", "-": "-",
}


@dataclass(frozen=True)
class Problem:
    file: str
    row: int
    field: str
    level: str  # error | warning
    message: str
    column: str = ""  # spreadsheet column letter of the field, when known

    @property
    def cell(self) -> str:
        """The spreadsheet cell, e.g. D7 (empty when the column is unknown)."""
        return f"{self.column}{self.row}" if self.column and self.row else ""

    def __str__(self) -> str:
        kind = "错误" if self.level == "error" else "警告"
        if self.row == 0:  # the file as a whole
            return f"[{kind}] {self.file}: {self.message}"
        where = f" 单元格 {self.cell}" if self.cell else ""
        return f"[{kind}] {self.file} 第{self.row}行{where} 字段「{FIELD_LABELS.get(self.field, self.field)}」({self.field}): {self.message}"


@dataclass(frozen=True)
class NewValue:
    indicator: str
    org_unit: str
    period: Period
    value: float
    numerator: float | None
    denominator: float | None
    row: int


MAX_SHOWN = 200  # problems kept per level (错误/警告); the rest are counted: "以及另外 N 处"


@dataclass
class ImportResult:
    file: str
    values: list[NewValue] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    stored: int = 0
    more: int = 0  # problems found beyond MAX_SHOWN of their level: counted, not kept
    _kept: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, problem: Problem) -> None:
        """Keep a problem, or only count it once MAX_SHOWN of its level are kept (errors
        are kept first-come per level, so a file with an error always shows one)."""
        kept = self._kept.get(problem.level, 0)
        if kept >= MAX_SHOWN:
            self.more += 1
            return
        self._kept[problem.level] = kept + 1
        self.problems.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _number(raw: object) -> float | None:
    """A finite number from a cell, or None when the cell is empty; ValueError otherwise.

    Text must look like a plain decimal number (thousands separators and full-width digits
    are normalised first): no formulas, no '1_000', no 'inf'.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError as exc:
            raise ValueError from exc
    else:
        text = unicodedata.normalize("NFKC", str(raw)).strip().replace(",", "")
        if not text:
            return None
        if not NUMBER.fullmatch(text):
            raise ValueError
        value = float(text)
    if not math.isfinite(value):
        raise ValueError
    return value


def _text(raw: object) -> str:
    return "" if raw is None else unicodedata.normalize("NFKC", str(raw)).strip()


class _RowChecker:
    def __init__(self, plan: Plan, file_name: str) -> None:
        self.plan = plan
        self.file = file_name
        self.result = ImportResult(file_name)
        self.seen: dict[tuple[str, str, str], int] = {}
        self.index: dict[str, int] = {}
        self.errors_seen = 0  # counted here: re-counting the problems per row would be quadratic
        self.first = month_index(plan.start_year, 1)
        self.last = month_index(plan.end_year, 12)

    def problem(self, row: int, fld: str, message: str, level: str = "error") -> None:
        col = self.index.get(fld)
        letter = get_column_letter(col + 1) if col is not None else ""
        if level == "error":
            self.errors_seen += 1
        self.result.add(Problem(self.file, row, fld, level, message, letter))

    def header(self, cells: list[object]) -> dict[str, int] | None:
        names = [_text(c).lower() for c in cells]
        index: dict[str, int] = {}
        for key, aliases in COLUMNS.items():
            for i, name in enumerate(names):
                if name in aliases:
                    index[key] = i
                    break
        self.index = index
        missing = [k for k in REQUIRED if k not in index]
        if missing:
            labels = "、".join(f"{FIELD_LABELS[k]}({k})" for k in missing)
            self.problem(1, missing[0], f"缺少必需的列: {labels} (missing required columns)")
            return None
        return index

    def row(self, n: int, cells: list[object], index: dict[str, int]) -> None:
        def cell(key: str) -> object:
            i = index.get(key)
            return cells[i] if i is not None and i < len(cells) else None

        if all(_text(c) == "" for c in cells):
            return
        errors_before = self.errors_seen
        ind = self.plan.find_indicator(_text(cell("indicator")))
        if ind is None:
            self.problem(n, "indicator", f"未知指标 (unknown indicator): {_text(cell('indicator'))!r}")
        unit = self.plan.org_unit(_text(cell("org_unit")))
        if unit is None:
            self.problem(n, "org_unit", f"未知地区 (unknown org unit): {_text(cell('org_unit'))!r}")
        elif unit.kind == "group":
            self.problem(n, "org_unit", f"「{unit.name}」是汇总口径，由其所含单位汇总，不能直接填报 (a group is aggregated from its members, not reported)")
        try:
            period = parse_period(cell("period"))
        except PeriodError as exc:
            self.problem(n, "period", str(exc))
            period = None
        values: dict[str, float | None] = {}
        for key in ("value", "numerator", "denominator"):
            try:
                values[key] = _number(cell(key))
            except ValueError:
                text = _text(cell(key))
                if text.startswith("="):
                    self.problem(n, key, f"是公式「{text[:50]}」，不是数值：请填写计算结果（可复制后「选择性粘贴→数值」） "
                                         "(a formula, not a number: enter its result)")
                else:
                    self.problem(n, key, f"不是有效数字 (not a number): {text[:50]!r}")
                values[key] = None
        if self.errors_seen > errors_before or ind is None or unit is None or period is None:
            return
        value = self._value(n, ind, values, _text(cell("unit")))
        if value is None:
            return
        key = (ind.code, unit.name, period.label)
        if key in self.seen:
            self.problem(n, "period", f"与第{self.seen[key]}行重复 (duplicate of row {self.seen[key]}): {ind.name} / {unit.name} / {period.label}")
            return
        self.seen[key] = n
        if not has_target(self.plan, ind, unit):
            self.problem(n, "org_unit", f"{unit.name} 没有「{ind.name}」的分解目标 (no target for this unit)", "warning")
        if period.first < month_index(self.plan.baseline_year, 1) or period.last > self.last:
            self.problem(n, "period", f"{period.label} 不在规划基期至期末 {self.plan.baseline_year}–{self.plan.end_year} 内 (outside the plan's years)")
            return
        self.result.values.append(
            NewValue(ind.code, unit.name, period, value, values["numerator"], values["denominator"], n)
        )

    def _value(self, n: int, ind: Indicator, values: dict[str, float | None], unit_text: str) -> float | None:
        value, num, den = values["value"], values["numerator"], values["denominator"]
        if (num is None) != (den is None):
            self.problem(n, "denominator" if den is None else "numerator", "分子与分母须同时填写 (give both numerator and denominator)")
            return None
        if den is not None and num is not None:
            if den <= 0 or num < 0:
                self.problem(n, "denominator", "分母须为正数、分子不能为负 (denominator must be positive, numerator non-negative)")
                return None
            if not ind.is_rate:
                self.problem(n, "numerator", f"「{ind.name}」不是比率指标，不应填写分子分母 (not a rate indicator)")
                return None
            computed = num / den * ind.scale
            if value is not None and not math.isclose(value, computed, rel_tol=1e-6, abs_tol=0.005):
                self.problem(n, "value", f"数值 {value:g} 与分子/分母计算结果 {computed:.4g} 不符 (value does not match numerator/denominator)")
                return None
            value = computed
        if value is None:
            self.problem(n, "value", "数值为空 (value is empty)")
            return None
        if value < 0:
            self.problem(n, "value", f"数值不能为负数 (must not be negative): {value:g}")
            return None
        if ind.unit == "%" and value > 100:
            self.problem(n, "value", f"比率须在 0–100 之间 (rate must be between 0 and 100): {value:g}")
            return None
        given_unit = unit_text or reporting_unit(self.plan, ind)
        try:
            converted = value * factor(given_unit, ind.unit)
        except UnitError as exc:
            self.problem(n, "unit", f"{exc}; 「{ind.name}」的单位为 {ind.unit}")
            return None
        if given_unit in WHOLE_UNITS and value != math.floor(value):
            self.problem(n, "value", f"「{ind.name}」以「{given_unit}」计，须填写整数：{value:g} "
                                     f"(counted in {given_unit}: a whole number)")
            return None
        if not math.isfinite(converted) or converted > MAX_VALUE:
            self.problem(n, "value", f"数值过大 (value too large): {value:g} {given_unit}")
            return None
        return converted


def validate_rows(plan: Plan, rows: Iterable[tuple[int, list[object]]], file_name: str) -> ImportResult:
    checker = _RowChecker(plan, file_name)
    index: dict[str, int] | None = None
    for n, cells in rows:
        if index is None:
            index = checker.header(cells)
            if index is None:
                return checker.result
            continue
        checker.row(n, cells, index)
    if index is None:
        checker.problem(1, "-", "文件为空 (the file is empty)")
    elif not checker.result.values and not checker.result.errors:
        checker.problem(2, "-", "文件没有数据行 (no data rows)")
    return checker.result


def find_overlaps(session: Session, plan: Plan, source: str, values: list[NewValue], file_name: str) -> list[Problem]:
    """A new value whose period overlaps a different stored period would be counted twice."""
    keys = {(v.indicator, v.org_unit) for v in values}
    stored: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    if keys:
        q = select(ValueRecord.indicator_code, ValueRecord.org_unit, ValueRecord.first_month, ValueRecord.last_month, ValueRecord.period).where(
            ValueRecord.plan_id == plan.id,
            ValueRecord.source == source,
            tuple_(ValueRecord.indicator_code, ValueRecord.org_unit).in_(list(keys)),
        )
        for ind, unit, first, last, label in session.execute(q):
            stored.setdefault((ind, unit), []).append((first, last, label))
    for v in values:
        stored.setdefault((v.indicator, v.org_unit), []).append((v.period.first, v.period.last, v.period.label))
    problems = []
    for v in values:
        for first, last, label in stored[(v.indicator, v.org_unit)]:
            if label != v.period.label and first <= v.period.last and v.period.first <= last:
                problems.append(Problem(file_name, v.row, "period", "error", f"{v.period.label} 与已有期间 {label} 重叠，会重复计算 (overlaps period {label})"))
                break
    return problems


def store_values(
    session: Session, plan: Plan, values: list[NewValue], *, source: str, source_name: str,
    batch_source: str | None = None, submission_id: int | None = None,
) -> int:
    """Replace the values of the same (indicator, org unit, period) and insert the new ones.

    batch_source marks where the batch came from when it differs from the value
    stream, e.g. "simulated" for demo data stored as reported values.
    """
    batch = ImportBatch(plan_id=plan.id, source_name=source_name, source=batch_source or source, rows=len(values), created_at=datetime.now(UTC).replace(tzinfo=None))
    session.add(batch)
    session.flush()
    keys = [(v.indicator, v.org_unit, v.period.label) for v in values]
    for i in range(0, len(keys), 500):
        session.execute(
            delete(ValueRecord).where(
                ValueRecord.plan_id == plan.id,
                ValueRecord.source == source,
                tuple_(ValueRecord.indicator_code, ValueRecord.org_unit, ValueRecord.period).in_(keys[i : i + 500]),
            )
        )
    session.execute(
        ValueRecord.__table__.insert(),
        [
            {
                "plan_id": plan.id, "batch_id": batch.id, "source": source,
                "indicator_code": v.indicator, "org_unit": v.org_unit, "period": v.period.label,
                "period_type": v.period.type, "first_month": v.period.first, "last_month": v.period.last,
                "value": v.value, "numerator": v.numerator, "denominator": v.denominator,
                "submission_id": submission_id,
            }
            for v in values
        ],
    )
    return len(values)


def import_file(session: Session, plan: Plan, path: Path, *, source: str = "reported") -> ImportResult:
    """Validate path and, if it has no error, store all its values; otherwise store nothing."""
    try:
        result = validate_rows(plan, reader_for(path).rows(path), path.name)
    except InputFileError as exc:
        result = ImportResult(path.name)
        result.add(Problem(path.name, 0, "-", "error", str(exc)))
        return result
    if not result.errors:
        for p in find_overlaps(session, plan, source, result.values, path.name):
            result.add(p)
    if not result.errors:
        result.stored = store_values(session, plan, result.values, source=source, source_name=path.name)
    return result
