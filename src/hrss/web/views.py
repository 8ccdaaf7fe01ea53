"""Read models for the pages and the API: evaluations cached per data version.

The cache key includes the data version (newest import batch, value count), so an
import or an approval is visible on the very next request; there is no analytics
table to rebuild.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hrss.monitoring.completeness import Grid, load_grid, local_today
from hrss.monitoring.demo import is_simulated
from hrss.monitoring.engine import Evaluation, Evaluator
from hrss.monitoring.evaluation import StatusThresholds
from hrss.monitoring.periods import month_index, month_label
from hrss.monitoring.service import data_version, latest_month, load_values
from hrss.plan.model import Indicator, Plan


@dataclass(frozen=True)
class Snapshot:
    as_of: int
    evaluations: list[Evaluation]
    simulated: bool
    evaluator: Evaluator
    _trends: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)

    def trend(self, plan: Plan, ind: Indicator) -> list[dict[str, Any]]:
        """The city's monthly trend of ind, computed once per snapshot."""
        if ind.code not in self._trends:
            self._trends[ind.code] = indicator_trend(self, plan, ind)
        return self._trends[ind.code]

    def city(self, plan: Plan) -> list[Evaluation]:
        name = plan.city_unit.name
        return [e for e in self.evaluations if e.org_unit == name]

    def for_indicator(self, code: str) -> list[Evaluation]:
        return [e for e in self.evaluations if e.indicator_code == code]

    def for_unit(self, name: str) -> list[Evaluation]:
        return [e for e in self.evaluations if e.org_unit == name]

    def warnings(self) -> list[Evaluation]:
        lag = [e for e in self.evaluations if e.color in ("red", "yellow")]
        return sorted(lag, key=lambda e: (not e.escalate, e.color != "red", e.gap_pp or 0.0))


def _version(session: Session, plan: Plan) -> tuple[int, int, int]:
    """The data version, read once per request (kept in the request's session)."""
    key = ("data_version", plan.id)
    if key not in session.info:
        session.info[key] = data_version(session, plan)
    return session.info[key]


class EvaluationCache:
    """A few recent snapshots, keyed by (as-of month, data version)."""

    def __init__(self, plan: Plan, thresholds: StatusThresholds, size: int = 16) -> None:
        self.plan = plan
        self.thresholds = thresholds
        self.size = size
        self._items: OrderedDict[tuple[int, tuple[int, int, int]], Snapshot] = OrderedDict()
        self._lock = threading.Lock()
        self._default: tuple[tuple[int, int, int], int] | None = None
        self._grid: tuple[tuple[Any, ...], Grid] | None = None

    def default_month(self, session: Session) -> int:
        """The newest month with data (cached per data version)."""
        version = _version(session, self.plan)
        with self._lock:
            if self._default is not None and self._default[0] == version:
                return self._default[1]
        latest = latest_month(session, self.plan)
        month = latest if latest is not None else month_index(self.plan.end_year, 12)
        with self._lock:
            self._default = (version, month)
        return month

    def reporting(self, session: Session, year: int, deadline_day: int) -> Grid:
        """Who has sent which month of year (cached per data version and day)."""
        key = (year, deadline_day, local_today(), _version(session, self.plan))
        with self._lock:
            if self._grid is not None and self._grid[0] == key:
                return self._grid[1]
        grid = load_grid(session, self.plan, year, day=deadline_day)
        with self._lock:
            self._grid = (key, grid)
        return grid

    def snapshot(self, session: Session, as_of: int) -> Snapshot:
        key = (as_of, _version(session, self.plan))
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        evaluator = Evaluator(self.plan, load_values(session, self.plan), self.thresholds)
        snap = Snapshot(as_of, evaluator.evaluate_all(as_of), is_simulated(session, self.plan), evaluator)
        with self._lock:
            self._items[key] = snap
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return snap


def indicator_trend(snap: Snapshot, plan: Plan, ind: Indicator) -> list[dict[str, Any]]:
    """The city's actual, expected (序时) and target month by month up to the as-of month."""
    start = month_index(plan.start_year, 1)
    out = []
    for month in range(start, snap.as_of + 1):
        e = snap.evaluator.evaluate(ind, plan.city_unit, month)
        if e is None:
            break
        out.append({"month": month_label(month), "actual": e.actual, "expected": e.expected, "target": e.target})
    return out
