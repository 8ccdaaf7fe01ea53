"""Computed values in the store, and their reconciliation with what districts report (数据会审)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hrss.monitoring.service import load_values
from hrss.monitoring.tables import ImportBatch, ValueRecord
from hrss.monitoring.values import store_values
from hrss.plan.model import Aggregation, Plan
from hrss.plan.targets import has_target
from hrss.stats.compute import COMPUTED, ComputeResult
from hrss.stats.definitions import Definition

SAMPLED = "样本推算"  # in the batch name of values computed from a sample of the city's records


def store_computed(session: Session, plan: Plan, result: ComputeResult) -> int:
    """Replace the computed values of the result's indicators for its months, all at once."""
    codes = result.indicators
    if not codes:
        return 0
    session.execute(
        delete(ValueRecord).where(
            ValueRecord.plan_id == plan.id,
            ValueRecord.source == COMPUTED,
            ValueRecord.indicator_code.in_(codes),
            ValueRecord.first_month >= result.first,
            ValueRecord.last_month <= result.last,
        )
    )
    how = f"{result.engine}, {SAMPLED}" if result.sampled else result.engine
    return store_values(session, plan, result.values, source=COMPUTED, source_name=f"实名制自动统计 ({how})")


def computed_from_sample(session: Session, plan: Plan) -> bool:
    """Whether the latest computed values were estimated from a sample of the ledgers (样本推算)."""
    q = (select(ImportBatch.source_name).where(ImportBatch.plan_id == plan.id, ImportBatch.source == COMPUTED)
         .order_by(ImportBatch.id.desc()).limit(1))  # fmt: skip
    name = session.execute(q).scalar_one_or_none()
    return name is not None and SAMPLED in name


@dataclass(frozen=True)
class Reconciliation:
    indicator: str
    name: str
    org_unit: str
    unit: str
    basis: str  # what is compared: 1–M月累计, M月末, 1–M月
    reported: float | None
    computed: float | None
    difference: float | None  # reported − computed
    relative: float | None  # difference / computed (counts only)
    flagged: bool

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def reconcile(
    session: Session,
    plan: Plan,
    definitions: list[Definition],
    as_of: int,
    *,
    tolerance: float,
    tolerance_pp: float,
) -> list[Reconciliation]:
    """Reported vs computed, per defined indicator, for the city and every unit that answers
    for the indicator (has a target in its annex table, as a unit or a group's member): no
    district for an indicator only the city reports, no 市直 where it has no target.

    Both sides are taken over the same span: the year to date for flows and flow rates,
    the month's end for stocks and stock rates. A count is flagged when the difference
    exceeds `tolerance` of the computed value, a rate when it exceeds `tolerance_pp`
    points; a value present on one side only is flagged too.
    """
    reported, computed = load_values(session, plan, "reported"), load_values(session, plan, COMPUTED)
    start = as_of - as_of % 12
    indicators = {i.code: i for i in plan.indicators}
    leaves = plan.leaves(plan.city_unit.name)
    out = []
    for d in definitions:
        ind = indicators[d.indicator]
        units = [plan.city_unit, *(u for u in leaves if has_target(plan, ind, u))]
        flow = ind.aggregation in (Aggregation.FLOW, Aggregation.FLOW_RATE)
        month = as_of % 12 + 1
        basis = f"1–{month}月累计" if ind.aggregation is Aggregation.FLOW else (f"1–{month}月" if flow else f"{month}月末")
        for unit in units:
            r = reported.value(ind, unit.name, start if flow else as_of - 11, as_of)
            c = computed.value(ind, unit.name, start if flow else as_of - 11, as_of)
            if r is None and c is None:
                continue
            diff = r - c if r is not None and c is not None else None
            rel = diff / c if diff is not None and not ind.is_rate and c else None
            if diff is None:
                flagged = True
            elif ind.is_rate:
                flagged = abs(diff) > tolerance_pp
            else:
                flagged = rel is None and abs(diff) > 0 or rel is not None and abs(rel) > tolerance
            out.append(Reconciliation(ind.code, ind.name, unit.name, ind.unit, basis, r, c, diff, rel, flagged))
    return out
