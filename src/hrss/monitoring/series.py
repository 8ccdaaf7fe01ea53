"""Values in memory, ready for evaluation: one sorted series per (indicator, org unit).

Flows add up over periods; stocks take the latest value; rates are recomputed from
summed numerators and denominators where every value has them, never averaged.
A group or the city with no values of its own is aggregated from its members.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

from hrss.plan.model import Aggregation, Indicator, Plan


@dataclass(frozen=True)
class Observation:
    first: int  # month index
    last: int
    value: float
    numerator: float | None = None
    denominator: float | None = None


class Series:
    """Non-overlapping observations of one indicator and org unit, sorted by period."""

    def __init__(self, observations: list[Observation]) -> None:
        obs = sorted(observations, key=lambda o: o.last)
        self.obs = obs
        self.lasts = [o.last for o in obs]
        self.prefix = [0.0, *accumulate(o.value for o in obs)]
        self.has_ratio = bool(obs) and all(o.denominator is not None for o in obs)
        if self.has_ratio:
            self.prefix_num = [0.0, *accumulate(o.numerator or 0.0 for o in obs)]
            self.prefix_den = [0.0, *accumulate(o.denominator or 0.0 for o in obs)]

    def _span(self, start: int, end: int) -> tuple[int, int]:
        return bisect_left(self.lasts, start), bisect_right(self.lasts, end)

    def total(self, start: int, end: int) -> float | None:
        """Sum of the periods that end inside [start, end]; None if there are none."""
        i, j = self._span(start, end)
        return self.prefix[j] - self.prefix[i] if j > i else None

    def ratio_sums(self, start: int, end: int) -> tuple[float, float] | None:
        i, j = self._span(start, end)
        if not self.has_ratio or j <= i:
            return None
        return self.prefix_num[j] - self.prefix_num[i], self.prefix_den[j] - self.prefix_den[i]

    def latest(self, at: int, since: int) -> Observation | None:
        """The last observation ending in [since, at]."""
        j = bisect_right(self.lasts, at)
        if j == 0 or self.lasts[j - 1] < since:
            return None
        return self.obs[j - 1]


class ValueSet:
    """All values of one source (reported, simulated, computed) for one plan."""

    def __init__(self, plan: Plan, series: dict[tuple[str, str], Series]) -> None:
        self.plan = plan
        self.series = series
        self.members = {u.name: u.members for u in plan.org_units}

    @classmethod
    def from_rows(cls, plan: Plan, rows: list[tuple[str, str, int, int, float, float | None, float | None]]) -> ValueSet:
        grouped: dict[tuple[str, str], list[Observation]] = {}
        for ind, unit, first, last, value, num, den in rows:
            grouped.setdefault((ind, unit), []).append(Observation(first, last, value, num, den))
        return cls(plan, {k: Series(v) for k, v in grouped.items()})

    def has_data(self, ind: str, unit: str) -> bool:
        if (ind, unit) in self.series:
            return True
        return any(self.has_data(ind, m) for m in self.members.get(unit, ()))

    def last_month(self, ind: str, unit: str, at: int) -> int | None:
        """The last month covered by data at or before `at`: the unit's own, else its members' latest."""
        s = self.series.get((ind, unit))
        if s is not None:
            j = bisect_right(s.lasts, at)
            return s.lasts[j - 1] if j else None
        found = [x for m in self.members.get(unit, ()) if (x := self.last_month(ind, m, at)) is not None]
        return max(found) if found else None

    def flow(self, ind: str, unit: str, start: int, end: int) -> float | None:
        s = self.series.get((ind, unit))
        if s is not None:
            return s.total(start, end)
        parts = [self.flow(ind, m, start, end) for m in self.members.get(unit, ())]
        found = [p for p in parts if p is not None]
        return sum(found) if found else None

    def stock(self, ind: str, unit: str, at: int, since: int) -> float | None:
        s = self.series.get((ind, unit))
        if s is not None:
            o = s.latest(at, since)
            return o.value if o else None
        parts = [self.stock(ind, m, at, since) for m in self.members.get(unit, ())]
        found = [p for p in parts if p is not None]
        return sum(found) if found else None

    def _ratio(self, ind: Indicator, unit: str, start: int, end: int) -> tuple[float, float] | None:
        s = self.series.get((ind.code, unit))
        if s is not None:
            if ind.aggregation is Aggregation.FLOW_RATE:
                return s.ratio_sums(start, end)
            o = s.latest(end, start)
            if o is None or o.denominator is None or o.numerator is None:
                return None
            return o.numerator, o.denominator
        parts = [self._ratio(ind, m, start, end) for m in self.members.get(unit, ())]
        if not parts or any(p is None for p in parts):
            return None
        return sum(p[0] for p in parts if p), sum(p[1] for p in parts if p)

    def rate(self, ind: Indicator, unit: str, start: int, end: int) -> float | None:
        """A rate over [start, end]: from summed numerator/denominator, else the latest value."""
        sums = self._ratio(ind, unit, start, end)
        if sums is not None and sums[1] > 0:
            return sums[0] / sums[1] * ind.scale
        s = self.series.get((ind.code, unit))
        if s is not None:
            o = s.latest(end, start)
            return o.value if o else None
        return None

    def value(self, ind: Indicator, unit: str, start: int, end: int) -> float | None:
        """The indicator's value for unit: flow total, latest stock, or rate over [start, end]."""
        if ind.aggregation is Aggregation.FLOW:
            return self.flow(ind.code, unit, start, end)
        if ind.aggregation is Aggregation.STOCK:
            return self.stock(ind.code, unit, end, start)
        return self.rate(ind, unit, start, end)
