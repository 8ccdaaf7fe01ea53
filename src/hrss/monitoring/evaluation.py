"""Evaluation formulas (评估公式): pure functions, no I/O. See docs/EVALUATION.md.

Every function here takes numbers and returns numbers or labels, so each can be
checked against hand-computed values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """During the plan period a target is judged against the schedule (序时); from its last
    month on, by a verdict (已完成 / 基本完成 / 未完成). Ceilings and floors are 达标 or
    未达标 at any time."""

    DONE = "已完成"
    MOSTLY_DONE = "基本完成"
    NOT_DONE = "未完成"
    AHEAD = "超序时"
    ON_TRACK = "符合序时"
    BEHIND = "滞后"
    SEVERE = "严重滞后"
    MET = "达标"
    NOT_MET = "未达标"
    NO_DATA = "无数据"


STATUS_EN = {
    Status.DONE: "completed",
    Status.MOSTLY_DONE: "largely completed",
    Status.NOT_DONE: "not completed",
    Status.AHEAD: "ahead of schedule",
    Status.ON_TRACK: "on schedule",
    Status.BEHIND: "behind schedule",
    Status.SEVERE: "seriously behind",
    Status.MET: "met",
    Status.NOT_MET: "not met",
    Status.NO_DATA: "no data",
}
STATUS_COLOR = {
    Status.DONE: "green",
    Status.MOSTLY_DONE: "yellow",
    Status.NOT_DONE: "red",
    Status.AHEAD: "green",
    Status.ON_TRACK: "green",
    Status.BEHIND: "yellow",
    Status.SEVERE: "red",
    Status.MET: "green",
    Status.NOT_MET: "yellow",  # red when far outside the bound, or at the plan's end
    Status.NO_DATA: "grey",
}
# what needs action: lagging during the period, a bound not held, a target not completed
SHORTFALL = (Status.BEHIND, Status.SEVERE, Status.NOT_MET, Status.NOT_DONE)
FINAL = (Status.DONE, Status.MOSTLY_DONE, Status.NOT_DONE)


class Verdict(StrEnum):
    LIKELY = "能够完成"
    AT_RISK = "存在风险"
    UNLIKELY = "难以完成"


@dataclass(frozen=True)
class StatusThresholds:
    """Documented defaults; each is a setting (HRSS_STATUS_AHEAD_PP, …)."""

    ahead_pp: float = 5.0
    behind_pp: float = 5.0
    severe_pp: float = 15.0
    rate_severe_pp: float = 2.0
    projection_risk_ratio: float = 0.95
    mostly_done_ratio: float = 0.95  # 基本完成: a 预期性 target reached to at least this share


# --- 序时进度 (time-elapsed progress) -------------------------------------------


def time_share(months_elapsed: int, months_total: int) -> float:
    """Share of the period elapsed, clamped to [0, 1]."""
    return min(max(months_elapsed / months_total, 0.0), 1.0)


def expected_cumulative(target: float, months_elapsed: int, months_total: int) -> float:
    """序时 value of a cumulative target: target × elapsed share."""
    return target * time_share(months_elapsed, months_total)


def completion_cumulative(actual: float, target: float) -> float:
    return actual / target


def distance_covered(actual: float, baseline: float, target: float) -> float:
    """Share of the way from baseline to target covered (levels, path rates)."""
    if target == baseline:
        return 1.0 if actual >= target else 0.0
    return (actual - baseline) / (target - baseline)


def gap_pp(completion: float, expected_share: float) -> float:
    """Completion minus the share expected by now, in percentage points."""
    return (completion - expected_share) * 100


def path_value(points: list[tuple[int, float]], month: int) -> float:
    """Piecewise-linear interpolation through (month index, value) points, clamped."""
    points = sorted(points)
    if month <= points[0][0]:
        return points[0][1]
    for (m0, v0), (m1, v1) in zip(points, points[1:], strict=False):
        if month <= m1:
            return v0 + (v1 - v0) * (month - m0) / (m1 - m0)
    return points[-1][1]


def schedule_status(completion: float, expected_share: float, t: StatusThresholds) -> Status:
    """Status of a cumulative or path indicator from completion vs the expected share."""
    if completion >= 1.0:
        return Status.DONE
    gap = gap_pp(completion, expected_share)
    if gap >= t.ahead_pp:
        return Status.AHEAD
    if gap >= -t.behind_pp:
        return Status.ON_TRACK
    if gap >= -t.severe_pp:
        return Status.BEHIND
    return Status.SEVERE


# --- ceilings and floors (以内 / ≥) ---------------------------------------------


def bound_margin(actual: float, bound: float, *, ceiling: bool) -> float:
    """How far inside the bound the value is (negative: outside), in the value's unit."""
    return bound - actual if ceiling else actual - bound


def final_status(completion: float, share_of_target: float, *, binding: bool, t: StatusThresholds) -> Status:
    """The verdict once the plan period is over: 已完成 when the target is reached
    (completion ≥ 1); 基本完成 when a 预期性 target is reached to at least
    t.mostly_done_ratio of its value; otherwise 未完成. A 约束性 target is either met or not."""
    if completion >= 1.0 - 1e-9:
        return Status.DONE
    if not binding and share_of_target >= t.mostly_done_ratio - 1e-9:
        return Status.MOSTLY_DONE
    return Status.NOT_DONE


def share_of_target(actual: float, target: float, *, lower_is_better: bool = False) -> float:
    """How much of the target's value is reached: actual ÷ target (target ÷ actual when lower is better)."""
    if lower_is_better:
        return target / actual if actual else 1.0
    return actual / target if target else 1.0


def bound_status(actual: float, bound: float, *, ceiling: bool) -> Status:
    """A ceiling or floor is held (达标) or not (未达标), at any month."""
    return Status.MET if bound_margin(actual, bound, ceiling=ceiling) >= 0 else Status.NOT_MET


def bound_color(margin: float, *, final: bool, t: StatusThresholds) -> str:
    """达标 green; 未达标 yellow within t.rate_severe_pp of the bound, red beyond it or at the plan's end."""
    if margin >= 0:
        return "green"
    return "red" if final or -margin > t.rate_severe_pp else "yellow"


# --- CAGR-based progress measures (UNSD, Eurostat / Open SDG) ---------------------


def cagr(start: float, end: float, years: float) -> float:
    """Compound annual growth rate from start to end over years."""
    if start <= 0 or end < 0 or years <= 0:
        raise ValueError("CAGR needs a positive start, non-negative end and positive years")
    return (end / start) ** (1 / years) - 1


@dataclass(frozen=True)
class ProgressMeasure:
    method: str  # cagr | target_achieved | not_applicable
    cagr_actual: float | None = None
    cagr_required: float | None = None
    opensdg_ratio: float | None = None
    opensdg_category: str | None = None
    unsd_ratio: float | None = None
    unsd_category: str | None = None
    note: str = ""


def opensdg_category(ratio: float) -> str:
    """Open SDG / Eurostat: ≥0.95 substantial, 0.6–0.95 moderate, 0–0.6 limited, <0 deterioration."""
    if ratio >= 0.95:
        return "substantial_progress"
    if ratio >= 0.6:
        return "moderate_progress"
    if ratio >= 0:
        return "limited_progress"
    return "deterioration"


def unsd_category(ratio: float) -> str:
    """UNSD progress chart: ≥0.95 on track, 0.5–0.95 fair, −0.1–0.5 limited, < −0.1 deterioration."""
    if ratio >= 0.95:
        return "substantial_progress"
    if ratio >= 0.5:
        return "fair_progress"
    if ratio >= -0.1:
        return "limited_progress"
    return "deterioration"


PROGRESS_LABELS = {
    "substantial_progress": "显著进展",
    "moderate_progress": "一定进展",
    "fair_progress": "一定进展(需加速)",
    "limited_progress": "进展有限",
    "deterioration": "退步",
    "target_achieved": "已达目标",
}


def progress_measure(
    *,
    baseline: float | None,
    actual: float,
    target: float,
    years_elapsed: float,
    years_total: float,
    lower_is_better: bool,
) -> ProgressMeasure:
    """Open SDG R = d × CAGR_a / |CAGR_r| and UNSD CR = CAGR_a / CAGR_r, side by side."""
    achieved = actual <= target if lower_is_better else actual >= target
    if achieved:
        return ProgressMeasure("target_achieved", note="已达到或优于目标值 (target already reached)")
    if baseline is None or baseline <= 0:
        return ProgressMeasure("not_applicable", note="无基数，不计算增长率 (no baseline, no growth rate)")
    if years_elapsed <= 0:
        return ProgressMeasure("not_applicable", note="尚无规划期内数据 (no data in the plan period yet)")
    ca = cagr(baseline, actual, years_elapsed)
    cr = cagr(baseline, target, years_total)
    d = -1.0 if lower_is_better else 1.0
    if cr == 0:
        # The target is to hold the baseline and the value has moved away from it.
        return ProgressMeasure("cagr", ca, cr, None, "deterioration", None, "deterioration",
                               "目标为保持基数水平，现值已偏离 (target is to hold the baseline)")
    r = d * ca / abs(cr)
    # UNSD's CR = CAGR_a / CAGR_r equals R whenever the required change goes the desired way.
    # Where it does not (a ceiling above the baseline, now exceeded), CAGR_r's sign would turn
    # a rise into "progress"; the desired direction decides instead.
    cr_ratio = ca / cr if (cr > 0) == (d > 0) else r
    return ProgressMeasure("cagr", ca, cr, r, opensdg_category(r), cr_ratio, unsd_category(cr_ratio))


CUMULATIVE_NOTE = "累计流量指标以序时进度和预测评价，不计算增长率 (a cumulative flow is judged by time-elapsed progress and projection, not by a growth rate)"


# --- projection (预测) ------------------------------------------------------------


def project_flow(actual: float, recent_total: float, recent_months: int, months_left: int) -> float:
    """Cumulative flow at the target date if the recent monthly run rate continues."""
    if recent_months <= 0:
        return actual
    return actual + recent_total / recent_months * months_left


def linear_trend(points: list[tuple[int, float]], at: int) -> float:
    """Least-squares line through (month, value) points, evaluated at month `at`."""
    if len(points) == 1:
        return points[0][1]
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return my
    slope = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
    return my + slope * (at - mx)


def verdict_share(projected_share: float, t: StatusThresholds) -> Verdict:
    """Verdict from the projected share of the target (or of the distance to it)."""
    if projected_share >= 1.0 - 1e-9:
        return Verdict.LIKELY
    if projected_share >= t.projection_risk_ratio:
        return Verdict.AT_RISK
    return Verdict.UNLIKELY


def verdict_bound(projected: float, bound: float, *, ceiling: bool, t: StatusThresholds) -> Verdict:
    margin = bound_margin(projected, bound, ceiling=ceiling)
    if margin >= 0:
        return Verdict.LIKELY
    if -margin <= t.rate_severe_pp:
        return Verdict.AT_RISK
    return Verdict.UNLIKELY


def finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None
