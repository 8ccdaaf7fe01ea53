"""The evaluation engine: every indicator × org unit with a target, for one as-of month.

Pure: it takes the plan, a ValueSet and thresholds, and returns Evaluation records.
How each number is computed is explained, with Xuzhou examples, in docs/EVALUATION.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hrss.monitoring import evaluation as ev
from hrss.monitoring.evaluation import Status, StatusThresholds
from hrss.monitoring.periods import month_index, month_label
from hrss.monitoring.series import ValueSet
from hrss.plan.model import Indicator, OrgUnit, Plan, TargetKind
from hrss.plan.targets import UnitTarget, has_target, unit_target

RECENT_MONTHS = 12
TREND_MONTHS = 24
TREND_METHOD = f"近{TREND_MONTHS}个月线性趋势外推 (linear trend of the last {TREND_MONTHS} months)"


@dataclass
class Evaluation:
    indicator_code: str
    indicator: str
    org_unit: str
    as_of: str
    unit: str
    kind: str
    attribute: str
    actual: float | None
    expected: float | None
    target: float
    baseline: float | None
    completion: float | None
    expected_completion: float | None
    time_elapsed: float
    gap_pp: float | None
    status: str
    color: str
    escalate: bool
    progress_measure: dict[str, Any]
    projection: dict[str, Any]
    compliance: dict[str, Any] | None = None
    annual: dict[str, Any] | None = None
    rank: int | None = None
    rank_of: int | None = None
    target_source: str = "表2"
    notes: list[str] = field(default_factory=list)
    data_through: str | None = None  # last month the unit's data covers, at or before as_of
    missing: list[str] = field(default_factory=list)  # member units with a target but no data

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Evaluator:
    def __init__(self, plan: Plan, values: ValueSet, thresholds: StatusThresholds | None = None) -> None:
        self.plan = plan
        self.values = values
        self.t = thresholds or StatusThresholds()
        self.start = month_index(plan.start_year, 1)
        self.end = month_index(plan.end_year, 12)
        self.total_months = plan.months
        self.baseline_month = self.start - 1
        self.city = plan.city_unit

    def units_for(self, ind: Indicator) -> list[OrgUnit]:
        units = [self.city]
        dec = self.plan.decomposition_for(ind.code)
        if dec is not None:
            units += [u for r in dec.rows if (u := self.plan.org_unit(r.org_unit)) is not None]
        return units

    def evaluate_all(self, as_of: int, org_unit: str | None = None) -> list[Evaluation]:
        out: list[Evaluation] = []
        for ind in self.plan.indicators:
            group = [self.evaluate(ind, u, as_of) for u in self.units_for(ind)]
            group = [e for e in group if e is not None]
            _rank([e for e in group if e.org_unit != self.city.name])
            out.extend(e for e in group if org_unit is None or e.org_unit == org_unit)
        return out

    def evaluate(self, ind: Indicator, unit: OrgUnit, as_of: int) -> Evaluation | None:
        target = unit_target(self.plan, ind, unit)
        if target is None:
            return None
        requested = min(as_of, self.end)  # after the plan period, judge it as of its last month
        final = requested >= self.end  # the plan period is over: a verdict, not a 序时 word
        # Judge the unit where its data ends: a unit reporting yearly is not "behind" in June.
        through = self.values.last_month(ind.code, unit.name, requested)
        at = through if through is not None and through >= self.start else requested
        m = min(max(at - self.start + 1, 0), self.total_months)
        elapsed = ev.time_share(m, self.total_months)
        if ind.kind is TargetKind.CUMULATIVE:
            e = self._cumulative(ind, unit, target, at, m, elapsed, final)
        elif ind.kind is TargetKind.LEVEL or self._path(ind, target) is not None:
            e = self._path_eval(ind, unit, target, at, m, elapsed, final)
        else:
            e = self._bound(ind, unit, target, at, m, elapsed, final)
        e.as_of = month_label(requested)
        if through is not None:
            e.data_through = month_label(through)
            if through < requested:
                e.notes.append(f"数据截至 {e.data_through}，按该月评估 (data only through {e.data_through}; evaluated as of that month)")
        e.missing = self._missing(ind, unit, requested)
        if e.missing:
            e.notes.append(f"数据不全：{'、'.join(e.missing)} 无数据 (incomplete: no data from {len(e.missing)} unit(s))")
        return e

    def _missing(self, ind: Indicator, unit: OrgUnit, at: int) -> list[str]:
        """Units under an aggregate that answer for a target but have sent no data at all."""
        if (ind.code, unit.name) in self.values.series or not unit.members:
            return []
        return [
            leaf.name for leaf in self.plan.leaves(unit.name)
            if has_target(self.plan, ind, leaf) and self.values.last_month(ind.code, leaf.name, at) is None
        ]

    def _base(self, ind: Indicator, unit: OrgUnit, target: UnitTarget, as_of: int, elapsed: float) -> Evaluation:
        return Evaluation(
            indicator_code=ind.code, indicator=ind.name, org_unit=unit.name, as_of=month_label(as_of),
            unit=ind.unit, kind=ind.kind.value, attribute=ind.attribute.value, actual=None, expected=None,
            target=target.final, baseline=target.baseline, completion=None, expected_completion=None,
            time_elapsed=elapsed, gap_pp=None, status=Status.NO_DATA.value, color="grey", escalate=False,
            progress_measure={}, projection={}, target_source=target.source,
        )

    def _finish(self, e: Evaluation, ind: Indicator, status: Status, color: str | None = None) -> Evaluation:
        e.status = status.value
        e.color = color or ev.STATUS_COLOR[status]
        e.escalate = ind.attribute.value == "binding" and status in ev.SHORTFALL
        return e

    def _judge(self, e: Evaluation, ind: Indicator, *, final: bool, share: float) -> Evaluation:
        """序时 status during the plan period; the verdict from its last month on."""
        assert e.completion is not None and e.expected_completion is not None
        if final:
            binding = ind.attribute.value == "binding"
            return self._finish(e, ind, ev.final_status(e.completion, share, binding=binding, t=self.t))
        return self._finish(e, ind, ev.schedule_status(e.completion, e.expected_completion, self.t))

    # -- cumulative flows -----------------------------------------------------------

    def _cumulative(self, ind: Indicator, unit: OrgUnit, target: UnitTarget, as_of: int, m: int, elapsed: float,
                    final: bool) -> Evaluation:
        e = self._base(ind, unit, target, as_of, elapsed)
        e.progress_measure = {"method": "not_applicable", "note": ev.CUMULATIVE_NOTE}
        e.expected = ev.expected_cumulative(target.final, m, self.total_months)
        e.expected_completion = elapsed
        e.annual = self._annual_flow(ind, unit, target, as_of)
        actual = self.values.flow(ind.code, unit.name, self.start, as_of)
        if actual is None:
            return self._finish(e, ind, Status.NO_DATA)
        e.actual = actual
        e.completion = ev.completion_cumulative(actual, target.final)
        e.gap_pp = ev.gap_pp(e.completion, elapsed)
        window = min(RECENT_MONTHS, m)
        recent = self.values.flow(ind.code, unit.name, as_of - window + 1, as_of) or 0.0
        projected = ev.project_flow(actual, recent, window, self.total_months - m)
        e.projection = self._projection(
            projected, f"近{window}个月月均增量外推 (run rate of the last {window} months)",
            ev.verdict_share(projected / target.final, self.t),
        )
        return self._judge(e, ind, final=final, share=e.completion)

    def _annual_flow(self, ind: Indicator, unit: OrgUnit, target: UnitTarget, as_of: int) -> dict[str, Any] | None:
        year = as_of // 12
        if year not in target.annual:
            return None
        months = as_of % 12 + 1
        actual = self.values.flow(ind.code, unit.name, month_index(year, 1), as_of)
        annual_target = target.annual[year]
        return {
            "year": year,
            "target": annual_target,
            "actual": actual,
            "expected": annual_target * months / 12,
            "completion": actual / annual_target if actual is not None and annual_target else None,
            "time_elapsed": months / 12,
        }

    # -- levels and rates with a path from baseline to target ---------------------------

    def _path(self, ind: Indicator, target: UnitTarget) -> list[tuple[int, float]] | None:
        """Path points for levels and for floors that must rise (baseline < target or milestones)."""
        if ind.kind is TargetKind.LEVEL:
            return [(self.baseline_month, target.baseline if target.baseline is not None else target.final), (self.end, target.final)]
        if ind.kind is TargetKind.FLOOR and (
            (target.baseline is not None and target.baseline < target.final) or (target.baseline is None and ind.milestones)
        ):
            pts = [(month_index(ms.year, 12), ms.value) for ms in ind.milestones]
            if target.baseline is not None:
                pts.append((self.baseline_month, target.baseline))
            return [*pts, (self.end, target.final)]
        return None

    def _path_eval(self, ind: Indicator, unit: OrgUnit, target: UnitTarget, as_of: int, m: int, elapsed: float,
                   final: bool) -> Evaluation:
        e = self._base(ind, unit, target, as_of, elapsed)
        actual = self.values.value(ind, unit.name, self._window_start(ind, as_of), as_of)
        points = self._path(ind, target) or []
        baseline = target.baseline
        if baseline is None:
            # No published baseline: the path starts at the first value reported in the plan period.
            first = self._first_value(ind, unit)
            if first is None:
                return self._finish(e, ind, Status.NO_DATA)
            baseline = first[1]
            points = [first, *points]
            e.notes.append(f"无基数：以首期实际值 {first[1]:g} ({month_label(first[0])}) 为起点 (no baseline: path starts at the first reported value)")
        e.expected = ev.path_value(points, as_of)
        e.expected_completion = ev.distance_covered(e.expected, baseline, target.final)
        if actual is None:
            return self._finish(e, ind, Status.NO_DATA)
        e.actual = actual
        e.completion = ev.distance_covered(actual, baseline, target.final)
        e.gap_pp = ev.gap_pp(e.completion, e.expected_completion)
        pm = ev.progress_measure(
            baseline=target.baseline, actual=actual, target=target.final, years_elapsed=m / 12,
            years_total=self.total_months / 12, lower_is_better=ind.lower_is_better,
        )
        e.progress_measure = _measure_json(pm)
        projected = self._trend(ind, unit, as_of)
        share = ev.distance_covered(projected, baseline, target.final)
        e.projection = self._projection(projected, TREND_METHOD, ev.verdict_share(share, self.t))
        if ind.kind is TargetKind.LEVEL:
            e.annual = self._annual_level(ind, unit, target, as_of, actual)
        share = ev.share_of_target(actual, target.final, lower_is_better=ind.lower_is_better)
        return self._judge(e, ind, final=final, share=share)

    def _annual_level(self, ind: Indicator, unit: OrgUnit, target: UnitTarget, as_of: int, actual: float) -> dict[str, Any] | None:
        year = as_of // 12
        if year not in target.annual:
            return None
        prev = target.annual.get(year - 1, target.baseline)
        months = as_of % 12 + 1
        expected = None if prev is None else prev + (target.annual[year] - prev) * months / 12
        return {"year": year, "target": target.annual[year], "actual": actual, "expected": expected,
                "completion": actual / target.annual[year] if target.annual[year] else None, "time_elapsed": months / 12}

    # -- ceilings and floors that must hold ------------------------------------------

    def _bound(self, ind: Indicator, unit: OrgUnit, target: UnitTarget, as_of: int, m: int, elapsed: float,
               final: bool) -> Evaluation:
        e = self._base(ind, unit, target, as_of, elapsed)
        ceiling = ind.kind is TargetKind.CEILING
        # a bound has no 序时 and no completion share: it is held or not, by a margin
        e.expected = target.final
        actual = self.values.value(ind, unit.name, self._window_start(ind, as_of), as_of)
        if actual is None:
            return self._finish(e, ind, Status.NO_DATA)
        e.actual = actual
        margin = ev.bound_margin(actual, target.final, ceiling=ceiling)
        e.compliance = {"compliant": margin >= 0, "margin": margin, "bound": "ceiling" if ceiling else "floor"}
        e.gap_pp = margin if ind.unit == "%" else None
        pm = ev.progress_measure(
            baseline=target.baseline, actual=actual, target=target.final, years_elapsed=m / 12,
            years_total=self.total_months / 12, lower_is_better=ceiling,
        )
        e.progress_measure = _measure_json(pm)
        projected = self._trend(ind, unit, as_of)
        e.projection = self._projection(
            projected, TREND_METHOD, ev.verdict_bound(projected, target.final, ceiling=ceiling, t=self.t)
        )
        return self._finish(e, ind, ev.bound_status(actual, target.final, ceiling=ceiling),
                            ev.bound_color(margin, final=final, t=self.t))

    # -- helpers ----------------------------------------------------------------------

    def _projection(self, value: float, method: str, verdict: ev.Verdict) -> dict[str, Any]:
        return {"value": value, "year": self.plan.end_year, "method": method, "verdict": verdict.value}

    def _window_start(self, ind: Indicator, as_of: int) -> int:
        """Flow rates run over the as-of year to date; stocks look back to the plan start."""
        if ind.aggregation.value == "flow_rate":
            return max(month_index(as_of // 12, 1), self.start)
        return self.start

    def _first_value(self, ind: Indicator, unit: OrgUnit) -> tuple[int, float] | None:
        for month in range(self.start, self.end + 1):
            v = self.values.value(ind, unit.name, self._window_start(ind, month), month)
            if v is not None:
                return month, v
        return None

    def _trend(self, ind: Indicator, unit: OrgUnit, as_of: int) -> float:
        points = []
        for month in range(max(as_of - TREND_MONTHS + 1, self.start), as_of + 1):
            v = self.values.value(ind, unit.name, self._window_start(ind, month), month)
            if v is not None:
                points.append((month, v))
        if not points:
            return 0.0
        projected = ev.linear_trend(points, self.end) if as_of < self.end else points[-1][1]
        if ind.unit == "%":
            projected = min(max(projected, 0.0), 100.0)
        return max(projected, 0.0)


def _measure_json(pm: ev.ProgressMeasure) -> dict[str, Any]:
    out = {k: v for k, v in asdict(pm).items() if v not in (None, "")}
    for key in ("opensdg_category", "unsd_category"):
        if key in out:
            out[key + "_label"] = ev.PROGRESS_LABELS[out[key]]
    if pm.method == "target_achieved":
        out["label"] = ev.PROGRESS_LABELS["target_achieved"]
    return out


def _rank(group: list[Evaluation]) -> None:
    """Rank org units of one indicator: larger gap to schedule first, then completion."""
    scored = [e for e in group if e.gap_pp is not None]
    scored.sort(key=lambda e: (-(e.gap_pp or 0.0), -(e.completion or 0.0), e.org_unit))
    for i, e in enumerate(scored, start=1):
        e.rank, e.rank_of = i, len(scored)
