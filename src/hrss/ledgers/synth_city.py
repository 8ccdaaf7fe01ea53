"""The city the synthetic ledgers sample (模拟城市): the simulated figures of `hrss demo`.

`hrss demo` loads one simulated city's monthly figures as reported values
(hrss.monitoring.demo); the synthetic ledgers (hrss.ledgers.synth) hold a sample of that
city's records, month by month and org unit by org unit. `city_figures(plan)` gives the
figures they follow, in counting units (人, 人次, 万元) for counts and as reported for rates:

- a month a unit did not report (demo.MISSING) has no records in the ledgers either;
- in the cells of demo.DISCREPANCIES the ledgers hold the given share of the reported figure,
  so that 数据会审 has something to find.
"""

from __future__ import annotations

from dataclasses import dataclass

from hrss.monitoring.demo import DISCREPANCIES, build_demo
from hrss.monitoring.periods import month_index
from hrss.plan.model import Plan
from hrss.plan.units import factor

# 表2 units counted in 10,000s → the unit the ledgers count in; other units are counted as they are
COUNTING_UNITS = {"万人": "人", "万人次": "人次"}

Series = list[float | None]  # one value per month of the plan, None where nothing was reported


@dataclass
class CityFigures:
    months: int
    values: dict[tuple[str, str], Series]  # (indicator, org unit code) → value per month
    parts: dict[str, list[tuple[float, float] | None]]  # city rates with parts: (numerator, denominator)
    city: str  # the city's org unit code

    def flows(self, indicator: str) -> dict[str, list[float]]:
        """Org unit code → the indicator's count per month (0 where none was reported); the
        reporting units, or the city itself for a city-only indicator."""
        return {code: [v or 0.0 for v in series] for (ind, code), series in self.values.items() if ind == indicator}

    def stocks(self, indicator: str) -> dict[str, list[float]]:
        """Org unit code → the stock at each month's end (a month not reported: the one before)."""
        out: dict[str, list[float]] = {}
        for (ind, code), series in self.values.items():
            if ind == indicator:
                last = next(v for v in series if v is not None)
                out[code] = [last := v if v is not None else last for v in series]
        return out

    def city_series(self, indicator: str) -> list[float]:
        return self.stocks(indicator)[self.city]


def city_figures(plan: Plan) -> CityFigures:
    first = month_index(plan.start_year, 1)
    months = plan.months
    indicators = {i.code: i for i in plan.indicators}
    codes = {u.name: u.code for u in plan.org_units}
    values: dict[tuple[str, str], Series] = {}
    parts: dict[str, list[tuple[float, float] | None]] = {}
    for v in build_demo(plan):
        ind = indicators[v.indicator]
        i = v.period.first - first
        if ind.is_rate:
            value = v.value
            if v.numerator is not None and v.denominator is not None:
                parts.setdefault(ind.code, [None] * months)[i] = (v.numerator, v.denominator)
        else:
            share = DISCREPANCIES.get((ind.code, v.org_unit, v.period.label), 1.0)
            value = v.value * factor(ind.unit, COUNTING_UNITS.get(ind.unit, ind.unit)) * share
        values.setdefault((ind.code, codes[v.org_unit]), [None] * months)[i] = value
    return CityFigures(months, values, parts, plan.city_unit.code)
