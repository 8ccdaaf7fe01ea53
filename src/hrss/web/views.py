"""Read models for the pages and the API: evaluations cached per data version.

Every cached item is keyed by what it depends on plus the data version, which each
request reads from the store (`data_version`: one small query). An import or an
approval changes the version in its own transaction, so it is visible on the very next
request, in every worker process; there is no analytics table to rebuild and no
in-process invalidation to miss. What is cached is data and sections shared by every
signed-in user (evaluations, a rendered dashboard section, an encoded JSON body, the
commitments judged for 任务台账, the 数据会审 comparison), never a page with a user's
name, links or CSRF token in it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from hrss.monitoring.completeness import Grid, load_grid, local_today
from hrss.monitoring.demo import is_simulated
from hrss.monitoring.engine import Evaluation, Evaluator
from hrss.monitoring.evaluation import StatusThresholds
from hrss.monitoring.periods import month_index, month_label
from hrss.monitoring.service import data_version, latest_month, load_values
from hrss.plan.model import Indicator, Plan

T = TypeVar("T")
Version = tuple[int, int, int]
VERSION_KEY = "hrss.data_version"  # where a request's session keeps the version it read
DEFAULT_MONTH = ("default_month",)  # derived-item key: the as-of month when none is asked for


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


class _Memo:
    """A small LRU of built values. Builds run one at a time (`building`, shared by the
    memos of one cache): after an approval, fifty concurrent requests wait for one
    evaluation instead of each running their own."""

    def __init__(self, size: int, building: threading.RLock) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._building = building

    def peek(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
        return False, None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        found, value = self.peek(key)
        if found:
            return value  # type: ignore[no-any-return]
        with self._building:
            found, value = self.peek(key)
            if found:
                return value  # type: ignore[no-any-return]
            value = build()
            self.put(key, value)
            return value


class EvaluationCache:
    """Evaluations, and what is made of them, per (what they depend on, data version)."""

    def __init__(self, plan: Plan, thresholds: StatusThresholds, size: int = 16, derived_size: int = 256,
                 pages_size: int = 512) -> None:
        self.plan = plan
        self.thresholds = thresholds
        building = threading.RLock()
        self._evaluators = _Memo(2, building)  # the values of one data version, shared by every month
        self._snapshots = _Memo(size, building)
        self._grids = _Memo(4, building)
        self._derived = _Memo(derived_size, building)
        self._pages = _Memo(pages_size, building)  # never built under `building`: see page()

    def version(self, session: Session) -> Version:
        """The data version, read once per request (kept in the request's session)."""
        if VERSION_KEY not in session.info:
            session.info[VERSION_KEY] = data_version(session, self.plan)
        return session.info[VERSION_KEY]  # type: ignore[no-any-return]

    @staticmethod
    def pin_version(session: Session, version: Version) -> None:
        """Build under a version read earlier in the request (the data read after it is as
        new or newer, never older)."""
        session.info[VERSION_KEY] = version

    def peek(self, key: tuple[Hashable, ...], version: Version) -> tuple[bool, Any]:
        """(found, value) of a derived item, without building it."""
        return self._derived.peek((*key, version))

    def page(self, key: tuple[Hashable, ...], version: Version, render: Callable[[], T]) -> T:
        """A whole page for one signed-in user, around shared sections: rendered on the event
        loop (cheap, and without the build lock, which a thread may hold for seconds) and
        kept per key and data version. The key must hold everything the page shows of the
        user and their session."""
        found, value = self._pages.peek((*key, version))
        if found:
            return value  # type: ignore[no-any-return]
        value = render()
        self._pages.put((*key, version), value)
        return value

    def newest_month(self, session: Session) -> int:
        """The newest month with data; the plan's last month when there is none."""
        latest = latest_month(session, self.plan)
        return latest if latest is not None else month_index(self.plan.end_year, 12)

    def default_month(self, session: Session) -> int:
        return self.derived(session, DEFAULT_MONTH, lambda: self.newest_month(session))

    def reporting(self, session: Session, year: int, deadline_day: int) -> Grid:
        """Who has sent which month of year (per data version and day)."""
        key = ("reporting", year, deadline_day, local_today(), self.version(session))
        return self._grids.get(key, lambda: load_grid(session, self.plan, year, day=deadline_day))

    def snapshot(self, session: Session, as_of: int, source: str = "reported") -> Snapshot:
        version = self.version(session)

        def build() -> Snapshot:
            evaluator = self._evaluators.get((source, version), lambda: Evaluator(
                self.plan, load_values(session, self.plan, source), self.thresholds))
            return Snapshot(as_of, evaluator.evaluate_all(as_of), is_simulated(session, self.plan), evaluator)

        return self._snapshots.get((as_of, source, version), build)

    def derived(self, session: Session, key: tuple[Hashable, ...], build: Callable[[], T]) -> T:
        """Anything made from the data and shared by every user who may see it (a rendered
        section, an encoded JSON body), built once per key and data version. The key must
        hold everything else the value depends on (month, language, scope, day)."""
        return self._derived.get((*key, self.version(session)), build)


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
