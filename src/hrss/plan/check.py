"""`hrss plan check`: verify the plan against itself.

- every annex row sums to its 合计 column, every year column sums to the 合计 row;
- annex totals equal the 表2 targets after unit conversion (附件表1 合计 375000 人 = 37.5 万人);
- the 2020 base-year totals of 表6–表8 equal the 表2 baselines;
- groups used by a table do not count a unit twice;
- every commitment linked to an indicator names one that exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hrss.plan.model import Decomposition, Indicator, Plan, TargetKind
from hrss.plan.units import UnitError, factor


@dataclass(frozen=True)
class Discrepancy:
    table: str
    row: str
    column: str
    expected: float | None
    actual: float | None
    message: str

    def __str__(self) -> str:
        nums = ""
        if self.expected is not None and self.actual is not None:
            nums = f": 应为 {_fmt(self.expected)}, 实为 {_fmt(self.actual)} (expected {_fmt(self.expected)}, found {_fmt(self.actual)})"
        return f"{self.table} 行「{self.row}」列「{self.column}」 {self.message}{nums}"


def _fmt(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def check_plan(plan: Plan) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for dec in plan.decompositions:
        out.extend(_check_sums(dec))
        out.extend(_check_overlap(plan, dec))
        try:
            ind = plan.indicator(dec.indicator)
        except KeyError:
            out.append(Discrepancy(dec.table, "-", "-", None, None, f"指标 {dec.indicator} 不存在 (unknown indicator)"))
            continue
        out.extend(_check_against_target(dec, ind))
    codes = {i.code for i in plan.indicators}
    for c in plan.commitments:
        if c.indicator and c.indicator not in codes:
            out.append(Discrepancy("任务台账", c.id, "indicator", None, None, f"指标 {c.indicator} 不存在 (unknown indicator)"))
    return out


def _check_sums(dec: Decomposition) -> list[Discrepancy]:
    out = []
    if dec.has_total_column:
        for row in (*dec.rows, dec.total_row):
            s = sum(row.values[y] for y in dec.years)
            if row.total is None or not _close(s, row.total):
                out.append(Discrepancy(dec.table, row.org_unit, "合计", s, row.total, "各年度之和与合计不符 (years do not add up to the 合计 column)"))
    for year in dec.years:
        s = sum(r.values[year] for r in dec.rows)
        if not _close(s, dec.total_row.values[year]):
            out.append(Discrepancy(dec.table, "合计", str(year), s, dec.total_row.values[year], "各地区之和与合计行不符 (units do not add up to the 合计 row)"))
    if dec.has_total_column:
        s = sum(r.total or 0 for r in dec.rows)
        if dec.total_row.total is None or not _close(s, dec.total_row.total):
            out.append(Discrepancy(dec.table, "合计", "合计", s, dec.total_row.total, "各地区合计之和与总计不符 (unit totals do not add up)"))
    return out


def _check_overlap(plan: Plan, dec: Decomposition) -> list[Discrepancy]:
    seen: dict[str, str] = {}
    out = []
    for row in dec.rows:
        for leaf in (u.name for u in plan.leaves(row.org_unit)):
            if leaf in seen:
                out.append(Discrepancy(dec.table, row.org_unit, "-", None, None, f"{leaf} 已计入「{seen[leaf]}」，重复计算 (counted twice)"))
            seen[leaf] = row.org_unit
    return out


def _check_against_target(dec: Decomposition, ind: Indicator) -> list[Discrepancy]:
    try:
        f = factor(dec.unit, ind.unit)
    except UnitError as exc:
        return [Discrepancy(dec.table, "合计", "-", None, None, str(exc))]
    out = []
    if ind.kind is TargetKind.CUMULATIVE:
        total = dec.total_row.total if dec.has_total_column else sum(dec.total_row.values[y] for y in dec.target_years)
        column = "合计"
    else:
        total = dec.total_row.values.get(ind.target_year)
        column = str(ind.target_year)
    if total is None or not _close(total * f, ind.target):
        out.append(Discrepancy(dec.table, "合计", column, ind.target, None if total is None else total * f, f"与{ind.source}「{ind.name}」目标不符 (does not match the target, in {ind.unit})"))
    if dec.base_year is not None and ind.baseline is not None:
        base = dec.total_row.values[dec.base_year]
        if not _close(base * f, ind.baseline):
            out.append(Discrepancy(dec.table, "合计", str(dec.base_year), ind.baseline, base * f, f"与{ind.source}「{ind.name}」{dec.base_year}年基数不符 (does not match the baseline, in {ind.unit})"))
    return out
