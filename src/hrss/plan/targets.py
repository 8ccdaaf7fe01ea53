"""Targets per org unit: 表2 for the city, the annex tables (附件表) for counties and districts.

Annex targets are stated in their table's unit (附件表1 in 人); here they are converted to
the indicator's 表2 unit (万人), which is the unit values are stored and evaluated in.
"""

from __future__ import annotations

from dataclasses import dataclass

from hrss.plan.model import Indicator, OrgUnit, Plan, TargetKind
from hrss.plan.units import exact_text, factor


@dataclass(frozen=True)
class UnitTarget:
    """An org unit's targets for one indicator, in the indicator's 表2 unit."""

    final: float
    baseline: float | None
    annual: dict[int, float]
    source: str  # 表2 | 附件表N


def unit_target(plan: Plan, ind: Indicator, unit: OrgUnit) -> UnitTarget | None:
    dec = plan.decomposition_for(ind.code)
    if unit.kind == "city":
        annual: dict[int, float] = {}
        if dec is not None:
            f = factor(dec.unit, ind.unit)
            annual = {y: dec.total_row.values[y] * f for y in dec.target_years}
        elif ind.kind is TargetKind.CUMULATIVE:
            annual = {y: ind.target / len(plan.years) for y in plan.years}
        return UnitTarget(ind.target, ind.baseline, annual, ind.source)
    if dec is None or (row := dec.row(unit.name)) is None:
        return None
    f = factor(dec.unit, ind.unit)
    annual = {y: row.values[y] * f for y in dec.target_years}
    if ind.kind is TargetKind.CUMULATIVE:
        final = (row.total if row.total is not None else sum(row.values[y] for y in dec.target_years)) * f
    else:
        final = row.values[ind.target_year] * f
    baseline = row.values[dec.base_year] * f if dec.base_year is not None else None
    return UnitTarget(final, baseline, annual, dec.table)


def reporting_unit(plan: Plan, ind: Indicator) -> str:
    """The unit values arrive in when none is given: the annex table's, else the 表2 unit."""
    dec = plan.decomposition_for(ind.code)
    return dec.unit if dec else ind.unit


def typed_unit(plan: Plan, ind: Indicator) -> str:
    """The unit an operator types a figure in: the annex table's (人), a rate's own (%)."""
    return ind.unit if ind.is_rate else reporting_unit(plan, ind)


def in_typed_unit(plan: Plan, ind: Indicator, value: float) -> float:
    """value (表2 unit) in the unit operators type it in, float noise trimmed but no digit
    it holds dropped: 1.0104 万人 → 10104 人, 95.456 % stays 95.456 (a form prefilled with
    a rounded figure would store the rounding when saved back)."""
    unit = typed_unit(plan, ind)
    return float(exact_text(value * factor(ind.unit, unit), unit))


def has_target(plan: Plan, ind: Indicator, unit: OrgUnit) -> bool:
    """Whether unit answers for a target: its own row, or a share of its group's row.

    Wider than `unit_target`, which returns only the targets stated for the unit itself:
    鼓楼区 has no row in 附件表1 but answers for part of 主城区's.
    """
    if unit.kind == "city":
        return True
    dec = plan.decomposition_for(ind.code)
    if dec is None:
        return False
    for row in dec.rows:
        if row.org_unit == unit.name:
            return True
        group = plan.org_unit(row.org_unit)
        if group and unit.name in group.members:
            return True
    return False
