"""Simulated data (模拟数据) for `hrss demo`: a deterministic monthly dataset, 2021-01 to 2025-12.

It looks like a real city: hiring peaks after the Spring Festival, graduates arrive in
summer, a dip in spring 2022, noise, some units and indicators behind schedule, a
binding (约束性) indicator missed somewhere, and a missing submission. Everything it
writes is marked simulated (import batch source "simulated").

The synthetic real-name ledgers (`hrss synth`, hrss.ledgers.synth) are a sample of the same
city: they hold these figures × a sampling fraction, so that 数据会审 finds the statistics
computed from them (scaled back up, 样本推算) in agreement with the reports — except in the
cells of DISCREPANCIES, planted for it to find.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from hrss.monitoring.periods import month, month_index
from hrss.monitoring.tables import ImportBatch, ValueRecord
from hrss.monitoring.values import NewValue, store_values
from hrss.plan.model import Aggregation, Indicator, OrgUnit, Plan, TargetKind
from hrss.plan.targets import reporting_unit
from hrss.plan.units import factor

SEED = 20211231
SIMULATED = "simulated"

# Monthly shares of a year's flow (sum to 12 so that a weight of 1 is an average month).
SEASONS: dict[str, tuple[float, ...]] = {
    # hiring: quiet January and Spring Festival February, peaks in March–April and after graduation
    "hiring": (0.75, 0.55, 1.35, 1.25, 1.05, 1.0, 1.15, 1.1, 1.0, 0.95, 0.95, 0.9),
    # graduates attracted: concentrated June–September
    "graduates": (0.4, 0.3, 0.6, 0.7, 0.9, 1.8, 2.2, 1.9, 1.2, 0.8, 0.6, 0.6),
    # training and certificates: terms in spring and autumn
    "training": (0.5, 0.4, 1.1, 1.2, 1.2, 1.1, 0.9, 0.8, 1.2, 1.3, 1.2, 1.1),
    "flat": (1.0,) * 12,
}
SEASON_OF = {"I01": "hiring", "I03": "hiring", "I04": "hiring", "I10": "graduates", "I05": "training",
             "I12": "training", "I13": "training", "A03": "hiring", "A05": "flat", "I14": "graduates"}

# Deliberate shortfalls so that reports show lagging units and a missed binding target.
BEHIND: dict[tuple[str, str], float] = {
    ("I04", "贾汪区"): 0.78,  # entrepreneurship far behind
    ("I01", "丰县"): 0.9,
    ("I10", "港务区"): 0.7,
    ("A03", "铜山区"): 0.85,
    ("I07", "沛县"): 0.55,  # binding: unemployment insurance enrolment missed in 沛县
    ("I14", "徐州市"): 0.86,  # binding: postdocs recruited short of 600
    ("I03", "睢宁县"): 0.93,
}
MISSING = ("新沂市", "2025-11")  # a submission that never arrived (nor did the month's ledger records)
# Reported figures the real-name ledgers do not bear out (数据会审 flags them): for (indicator,
# org unit, month), the ledgers hold this share of the reported figure. The reports are
# unchanged; each is 10–15% off its year to date (a stock: its month's end) at 2025-12.
DISCREPANCIES: dict[tuple[str, str, str], float] = {
    ("I01", "铜山区", "2025-03"): 0.0,  # March's employment registrations never entered in the ledger
    ("I04", "沛县", "2025-09"): 2.5,  # September reported at 40% of the entrepreneurs the ledger holds
    ("I10", "邳州市", "2025-07"): 0.4,  # July's graduates reported at 2.5 times the ledger's
    ("I08", "鼓楼区", "2025-12"): 0.9,  # a tenth of December's work-injury enrolees not in the ledger
}
COVID_DIP = {month_index(2022, m): f for m, f in ((3, 0.7), (4, 0.55), (5, 0.8))}


@dataclass(frozen=True)
class _Rates:
    """City-level rate paths (start, end, noise) in %, and their denominators."""

    start: float
    end: float
    noise: float
    denominator: float | None


RATES = {
    "I02": _Rates(1.85, 1.95, 0.12, 4_300_000),  # registered unemployment rate (stock); labour force
    "I09": _Rates(84.0, 89.3, 0.25, None),  # contribution rate, a little short of 90 (at risk)
    "I15": _Rates(98.4, 98.6, 0.6, 260),  # inspection cases closed on time per month
    "I16": _Rates(71.0, 72.5, 3.0, 420),  # disputes mediated successfully per month
    "I17": _Rates(95.3, 96.0, 1.0, 380),  # arbitration cases closed per month
    "I18": _Rates(18.0, 71.5, 0.4, None),  # e-card coverage rises steeply (stock)
    "I19": _Rates(97.0, 98.8, 0.6, 52_000),  # good ratings of all ratings per month
}


def _shares(rng: random.Random, names: list[str]) -> dict[str, float]:
    weights = {n: rng.uniform(0.6, 1.4) for n in names}
    total = sum(weights.values())
    return {n: w / total for n, w in weights.items()}


class DemoBuilder:
    def __init__(self, plan: Plan, seed: int = SEED) -> None:
        self.plan = plan
        self.rng = random.Random(seed)
        self.months = [(y, m) for y in plan.years for m in range(1, 13)]
        self.out: list[NewValue] = []

    def build(self, progress: Callable[[str], None] | None = None) -> list[NewValue]:
        for ind in self.plan.indicators:
            if progress:
                progress(f"{ind.code} {ind.name}")
            if ind.is_rate and ind.code in RATES:
                self._rate(ind)
            elif ind.code == "I11":
                self._city_level(ind)
            else:
                for unit, annual, base in self._targets(ind):
                    if ind.aggregation is Aggregation.FLOW:
                        self._flow(ind, unit, annual)
                    else:
                        self._stock(ind, unit, annual, base)
        return [v for v in self.out if (v.org_unit, v.period.label) != MISSING]

    def _targets(self, ind: Indicator) -> list[tuple[OrgUnit, dict[int, float], float | None]]:
        """(reporting unit, annual targets, baseline) in the reporting unit, groups split to leaves."""
        dec = self.plan.decomposition_for(ind.code)
        city = self.plan.city_unit
        if dec is None:
            per_year = ind.target / len(self.plan.years) if ind.kind is TargetKind.CUMULATIVE else ind.target
            return [(city, dict.fromkeys(self.plan.years, per_year), ind.baseline)]
        out = []
        for row in dec.rows:
            leaves = self.plan.leaves(row.org_unit)
            shares = _shares(self.rng, [u.name for u in leaves]) if len(leaves) > 1 else {leaves[0].name: 1.0}
            for leaf in leaves:
                s = shares[leaf.name]
                annual = {y: row.values[y] * s for y in dec.target_years}
                base = row.values[dec.base_year] * s if dec.base_year is not None else None
                out.append((leaf, annual, base))
        return out

    def _emit(self, ind: Indicator, unit: OrgUnit, y: int, m: int, value: float, num: float | None = None, den: float | None = None) -> None:
        f = factor(reporting_unit(self.plan, ind), ind.unit) if not ind.is_rate else 1.0
        self.out.append(NewValue(ind.code, unit.name, month(y, m), value * f, num, den, 0))

    def _flow(self, ind: Indicator, unit: OrgUnit, annual: dict[int, float]) -> None:
        season = SEASONS[SEASON_OF.get(ind.code, "flat")]
        perf = BEHIND.get((ind.code, unit.name), self.rng.uniform(0.98, 1.12))
        integral = reporting_unit(self.plan, ind) in ("人", "场次", "万元")
        for y, m in self.months:
            noise = self.rng.gauss(1.0, 0.08)
            v = annual[y] / 12 * season[m - 1] * perf * noise * COVID_DIP.get(month_index(y, m), 1.0)
            self._emit(ind, unit, y, m, round(max(v, 0.0)) if integral else round(max(v, 0.0), 4))

    def _stock(self, ind: Indicator, unit: OrgUnit, annual: dict[int, float], base: float | None) -> None:
        perf = BEHIND.get((ind.code, unit.name), self.rng.uniform(0.97, 1.06))
        prev = base if base is not None else annual[self.plan.start_year] * 0.97
        start = prev
        for y in self.plan.years:
            goal = start + (annual[y] - start) * perf
            for m in range(1, 13):
                v = prev + (goal - prev) * m / 12 + self.rng.gauss(0, abs(goal - prev) * 0.02 + 1e-4)
                self._emit(ind, unit, y, m, round(v, 4))
            prev = goal

    def _city_level(self, ind: Indicator) -> None:
        city = self.plan.city_unit
        base = ind.baseline or ind.target
        for i, (y, m) in enumerate(self.months, start=1):
            v = base + (ind.target * 1.01 - base) * i / len(self.months) + self.rng.gauss(0, 1.5)
            self._emit(ind, city, y, m, round(v, 1))

    def _rate(self, ind: Indicator) -> None:
        city = self.plan.city_unit
        r = RATES[ind.code]
        for i, (y, m) in enumerate(self.months):
            level = r.start + (r.end - r.start) * i / (len(self.months) - 1)
            level = min(max(level + self.rng.gauss(0, r.noise), 0.0), 100.0)
            if r.denominator is None:
                self._emit(ind, city, y, m, round(level, 2))
                continue
            den = round(r.denominator * self.rng.uniform(0.85, 1.15))
            num = round(den * level / 100)
            self._emit(ind, city, y, m, num / den * 100, float(num), float(den))


def build_demo(plan: Plan, seed: int = SEED, progress: Callable[[str], None] | None = None) -> list[NewValue]:
    return DemoBuilder(plan, seed).build(progress)


def is_simulated(session: Session, plan: Plan) -> bool:
    """Whether any reported value of plan comes from simulated data."""
    q = select(ImportBatch.id).where(ImportBatch.plan_id == plan.id, ImportBatch.source == SIMULATED)
    return session.execute(select(exists(q))).scalar_one()


def load_demo(session: Session, plan: Plan, values: list[NewValue], *, force: bool = False) -> int | None:
    """Replace the reported values with the simulated ones; None if real data would be lost."""
    # real reported figures (imported or entered); computed (实名制) values are not touched
    real = select(ImportBatch.id).where(ImportBatch.plan_id == plan.id, ImportBatch.source == "reported")
    if not force and session.execute(select(exists(real))).scalar_one():
        return None
    old = select(ImportBatch.id).where(ImportBatch.plan_id == plan.id, ImportBatch.source.in_((SIMULATED, "reported")))
    old_batches = list(session.execute(old).scalars())
    session.execute(delete(ValueRecord).where(ValueRecord.plan_id == plan.id, ValueRecord.source == "reported"))
    # the new batch first, the old ones after: the newest batch id keeps rising (data_version)
    stored = store_values(session, plan, values, source="reported", source_name="模拟数据 (simulated demo data)", batch_source=SIMULATED)
    for i in range(0, len(old_batches), 500):
        session.execute(delete(ImportBatch).where(ImportBatch.id.in_(old_batches[i : i + 500])))
    return stored
