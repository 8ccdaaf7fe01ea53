"""Evaluation formulas against hand-computed values (arithmetic in the comments)."""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrss.monitoring import evaluation as ev
from hrss.monitoring.engine import Evaluator
from hrss.monitoring.periods import month_index
from hrss.monitoring.series import ValueSet
from hrss.plan.model import Plan
from hrss.plan.planfile import load_plan

T = ev.StatusThresholds()


@lru_cache(maxsize=1)
def _shipped() -> Plan:
    return load_plan()


def m(year: int, month: int) -> int:
    return month_index(year, month)


def values(plan: Plan, rows: list[tuple[str, str, str, float, float | None, float | None]]) -> ValueSet:
    """rows: (indicator, org unit, 'YYYY-MM', value, numerator, denominator)."""
    out = []
    for ind, unit, label, value, num, den in rows:
        y, mo = map(int, label.split("-"))
        out.append((ind, unit, m(y, mo), m(y, mo), value, num, den))
    return ValueSet.from_rows(plan, out)


def one(plan: Plan, vs: ValueSet, code: str, unit: str, as_of: int):
    ev_ = Evaluator(plan, vs, T).evaluate(plan.indicator(code), plan.org_unit(unit), as_of)
    assert ev_ is not None
    return ev_


# --- pure formulas ------------------------------------------------------------------


def test_time_share_and_expected_cumulative() -> None:
    # 2023-06 is month 30 of 60: 30/60 = 0.5; 序时 of 37.5 万人 = 37.5 × 0.5 = 18.75
    assert ev.time_share(30, 60) == 0.5
    assert ev.expected_cumulative(37.5, 30, 60) == 18.75
    assert ev.time_share(75, 60) == 1.0


def test_cagr_and_progress_measures() -> None:
    # 100 → 121 in 2 years: (121/100)^(1/2) − 1 = 1.1 − 1 = 0.1
    assert ev.cagr(100, 121, 2) == pytest.approx(0.1)
    # Required: 100 → 161.051 in 5 years = 1.1^5 → 0.1; actual 100 → 110 in 2 years:
    # CAGR_a = 1.1^(1/2) − 1 = 0.0488088; R = CR = 0.0488088 / 0.1 = 0.488088
    pm = ev.progress_measure(baseline=100, actual=110, target=161.051, years_elapsed=2, years_total=5, lower_is_better=False)
    assert pm.cagr_actual == pytest.approx(0.0488088, abs=1e-6)
    assert pm.cagr_required == pytest.approx(0.1, abs=1e-9)
    assert pm.opensdg_ratio == pytest.approx(0.488088, abs=1e-5)
    assert pm.opensdg_category == "limited_progress"  # 0 ≤ 0.488 < 0.6
    assert pm.unsd_category == "limited_progress"  # −0.1 ≤ 0.488 < 0.5
    # Lower is better: 5.0 → 4.0 required in 5 years; actual 5.0 → 4.5 in 2 years.
    # CAGR_r = 0.8^(1/5) − 1 = −0.0436; CAGR_a = 0.9^(1/2) − 1 = −0.0513
    # R = −1 × −0.0513 / 0.0436 = 1.176 (substantial); CR = −0.0513 / −0.0436 = 1.176
    pm = ev.progress_measure(baseline=5.0, actual=4.5, target=4.0, years_elapsed=2, years_total=5, lower_is_better=True)
    expected = -(0.9 ** 0.5 - 1) / abs(0.8 ** 0.2 - 1)
    assert pm.opensdg_ratio == pytest.approx(expected)
    assert pm.opensdg_ratio == pytest.approx(1.176, abs=1e-3)
    assert pm.unsd_ratio == pytest.approx(1.176, abs=1e-3)
    assert pm.opensdg_category == "substantial_progress"
    # Going the wrong way: 100 → 95 when 100 → 120 is required: R < 0
    pm = ev.progress_measure(baseline=100, actual=95, target=120, years_elapsed=1, years_total=5, lower_is_better=False)
    assert pm.opensdg_category == "deterioration" and pm.unsd_category == "deterioration"
    # Already past the target
    assert ev.progress_measure(baseline=100, actual=125, target=120, years_elapsed=1, years_total=5, lower_is_better=False).method == "target_achieved"
    # No baseline
    assert ev.progress_measure(baseline=None, actual=60, target=70, years_elapsed=1, years_total=5, lower_is_better=False).method == "not_applicable"


@pytest.mark.parametrize(
    ("ratio", "opensdg", "unsd"),
    [
        (0.95, "substantial_progress", "substantial_progress"),
        (0.94, "moderate_progress", "fair_progress"),
        (0.6, "moderate_progress", "fair_progress"),
        (0.55, "limited_progress", "fair_progress"),
        (0.49, "limited_progress", "limited_progress"),
        (0.0, "limited_progress", "limited_progress"),
        (-0.05, "deterioration", "limited_progress"),
        (-0.11, "deterioration", "deterioration"),
    ],
)
def test_progress_thresholds(ratio: float, opensdg: str, unsd: str) -> None:
    assert ev.opensdg_category(ratio) == opensdg
    assert ev.unsd_category(ratio) == unsd


def test_schedule_status_thresholds() -> None:
    # gap = (completion − expected) × 100 with defaults ahead 5, behind 5, severe 15
    assert ev.schedule_status(0.56, 0.5, T) is ev.Status.AHEAD  # +6
    assert ev.schedule_status(0.46, 0.5, T) is ev.Status.ON_TRACK  # −4
    assert ev.schedule_status(0.40, 0.5, T) is ev.Status.BEHIND  # −10
    assert ev.schedule_status(0.30, 0.5, T) is ev.Status.SEVERE  # −20
    assert ev.schedule_status(1.0, 0.9, T) is ev.Status.DONE


def test_path_value_interpolates_milestones() -> None:
    # I09: 83.5 at 2020-12, 88 at 2023-12, 90 at 2025-12. At 2022-12: 83.5 + 4.5 × 24/36 = 86.5
    pts = [(m(2020, 12), 83.5), (m(2023, 12), 88.0), (m(2025, 12), 90.0)]
    assert ev.path_value(pts, m(2022, 12)) == pytest.approx(86.5)
    # At 2024-12: 88 + 2 × 12/24 = 89
    assert ev.path_value(pts, m(2024, 12)) == pytest.approx(89.0)


def test_projections() -> None:
    # 20 done after 30 months, 10 in the last 12 months: 20 + 10/12 × 30 = 45
    assert ev.project_flow(20, 10, 12, 30) == 45
    # a line through (0, 1), (1, 2), (2, 3) reaches 11 at x = 10
    assert ev.linear_trend([(0, 1.0), (1, 2.0), (2, 3.0)], 10) == pytest.approx(11.0)
    assert ev.verdict_share(1.0, T) is ev.Verdict.LIKELY
    assert ev.verdict_share(0.96, T) is ev.Verdict.AT_RISK
    assert ev.verdict_share(0.80, T) is ev.Verdict.UNLIKELY


# --- the engine, city and district ---------------------------------------------------


def test_cumulative_city(plan: Plan) -> None:
    # I01 城镇新增就业人数, target [37.5] 万人. 30 months of 0.56 万人 reported by 丰县 (the city aggregates
    # its members): actual = 30 × 0.56 = 16.8; completion = 16.8/37.5 = 0.448; elapsed = 30/60 = 0.5;
    # gap = (0.448 − 0.5) × 100 = −5.2 pp → 滞后 (between −5 and −15)
    rows = [("I01", "丰县", f"{y}-{mo:02d}", 0.56, None, None) for y in (2021, 2022, 2023) for mo in range(1, 13)]
    vs = values(plan, [r for r in rows if r[2] <= "2023-06"])
    e = one(plan, vs, "I01", "徐州市", m(2023, 6))
    assert e.actual == pytest.approx(16.8)
    assert e.expected == pytest.approx(18.75)
    assert e.completion == pytest.approx(0.448)
    assert e.gap_pp == pytest.approx(-5.2)
    assert e.status == "滞后" and e.color == "yellow" and not e.escalate  # 预期性
    # projection: 16.8 + (12 × 0.56)/12 × 30 = 16.8 + 16.8 = 33.6; 33.6/37.5 = 0.896 → 难以完成
    assert e.projection["value"] == pytest.approx(33.6)
    assert e.projection["verdict"] == "难以完成"
    assert e.progress_measure["method"] == "not_applicable"
    # only 丰县 reported: every other unit that answers for part of 附件表1 is named as missing
    assert "沛县" in e.missing and "鼓楼区" in e.missing and "市直" not in e.missing
    assert any(n.startswith("数据不全") for n in e.notes)


def test_a_unit_reporting_yearly_is_judged_where_its_data_ends(plan: Plan) -> None:
    # 丰县 reports I01 as 2021 and 2022 totals of 2300 人 = 0.23 万人 each. As of 2023-06 its data
    # ends 2022-12: m = 24, elapsed 0.4, completion 0.46/1.15 = 0.4, gap 0 → 符合序时 (not −10 pp).
    rows = [("I01", "丰县", 2021, 0.23), ("I01", "丰县", 2022, 0.23)]
    vs = ValueSet.from_rows(plan, [(i, u, m(y, 1), m(y, 12), v, None, None) for i, u, y, v in rows])
    e = one(plan, vs, "I01", "丰县", m(2023, 6))
    assert (e.as_of, e.data_through) == ("2023-06", "2022-12")
    assert e.time_elapsed == pytest.approx(0.4) and e.completion == pytest.approx(0.4)
    assert e.status == "符合序时"
    assert any("数据截至 2022-12" in n for n in e.notes)
    # a yearly rate (I16, 2023: 140/200 = 70%) still counts as of 2024-06
    vs = ValueSet.from_rows(plan, [("I16", "徐州市", m(2023, 1), m(2023, 12), 70.0, 140.0, 200.0)])
    e = one(plan, vs, "I16", "徐州市", m(2024, 6))
    assert e.actual == pytest.approx(70.0) and e.data_through == "2023-12"


def test_cumulative_district_with_annual_target(plan: Plan) -> None:
    # 丰县 I01: five-year 11500 人 = 1.15 万人; 2022 target 2300 人 = 0.23 万人.
    # 2021: 12 × 0.02 = 0.24; 2022 Jan–Jun: 6 × 0.015 = 0.09. As of 2022-06 (month 18 of 60):
    # actual = 0.33; completion = 0.33/1.15 = 0.286957; elapsed = 0.3; gap = −1.304 pp → 符合序时
    # annual: 0.09 of 0.23, expected 0.23 × 6/12 = 0.115
    rows = [("I01", "丰县", f"2021-{mo:02d}", 0.02, None, None) for mo in range(1, 13)]
    rows += [("I01", "丰县", f"2022-{mo:02d}", 0.015, None, None) for mo in range(1, 7)]
    e = one(plan, values(plan, rows), "I01", "丰县", m(2022, 6))
    assert e.target == pytest.approx(1.15)
    assert e.actual == pytest.approx(0.33)
    assert e.completion == pytest.approx(0.33 / 1.15)
    assert e.gap_pp == pytest.approx((0.33 / 1.15 - 0.3) * 100)
    assert e.status == "符合序时"
    assert e.annual["target"] == pytest.approx(0.23)
    assert e.annual["actual"] == pytest.approx(0.09)
    assert e.annual["expected"] == pytest.approx(0.115)


def test_level_city_binding(plan: Plan) -> None:
    # I06 城乡基本养老保险参保人数 (约束性): 356.95 → 375 万人. As of 2023-12 (36 of 60 months):
    # expected = 356.95 + (375 − 356.95) × 0.6 = 356.95 + 10.83 = 367.78
    # actual 364.0 (sum of 丰县 40 + 市区 members... here reported by the city itself)
    # completion = (364 − 356.95)/18.05 = 7.05/18.05 = 0.390582; gap = (0.390582 − 0.6) × 100 = −20.94 → 严重滞后
    vs = values(plan, [("I06", "徐州市", "2023-12", 364.0, None, None)])
    e = one(plan, vs, "I06", "徐州市", m(2023, 12))
    assert e.expected == pytest.approx(367.78)
    assert e.completion == pytest.approx(7.05 / 18.05)
    assert e.gap_pp == pytest.approx((7.05 / 18.05 - 0.6) * 100)
    assert e.status == "严重滞后" and e.color == "red"
    assert e.escalate  # binding indicator behind schedule
    # CAGR_a = (364/356.95)^(1/3) − 1 = 0.006541; CAGR_r = (375/356.95)^(1/5) − 1 = 0.009915
    # R = CR = 0.006541/0.009915 = 0.6597 → moderate (Open SDG), fair (UNSD)
    pm = e.progress_measure
    assert pm["cagr_actual"] == pytest.approx((364 / 356.95) ** (1 / 3) - 1)
    assert pm["cagr_required"] == pytest.approx((375 / 356.95) ** (1 / 5) - 1)
    assert pm["opensdg_ratio"] == pytest.approx(0.6597, abs=1e-3)
    assert pm["opensdg_category"] == "moderate_progress"
    assert pm["unsd_category"] == "fair_progress"


def test_level_district_from_annex_table(plan: Plan) -> None:
    # 沛县 I07 失业保险参保人数 (附件表8): 6.9 (2020) → 8.2 (2025) 万人; 2024 target 8.0.
    # As of 2024-06 (42 of 60 months): expected = 6.9 + 1.3 × 0.7 = 7.81.
    # actual 7.5: completion = 0.6/1.3 = 0.461538; gap = (0.461538 − 0.7) × 100 = −23.85 → 严重滞后
    # annual: expected = 7.7 (2023 target) + (8.0 − 7.7) × 6/12 = 7.85
    e = one(plan, values(plan, [("I07", "沛县", "2024-06", 7.5, None, None)]), "I07", "沛县", m(2024, 6))
    assert (e.baseline, e.target) == (6.9, 8.2)
    assert e.expected == pytest.approx(7.81)
    assert e.completion == pytest.approx(0.6 / 1.3)
    assert e.status == "严重滞后" and e.escalate
    assert e.annual["expected"] == pytest.approx(7.85)
    assert e.target_source == "附件表8"


def test_ceiling(plan: Plan) -> None:
    # I02 城镇登记失业率 4以内: 2.1 → margin 4 − 2.1 = 1.9 pp, compliant → 达标, at any month;
    # a bound has no 序时 and no completion share (no "完成进度 52.5 %")
    e = one(plan, values(plan, [("I02", "徐州市", "2023-06", 2.1, None, None)]), "I02", "徐州市", m(2023, 6))
    assert e.compliance == {"compliant": True, "margin": pytest.approx(1.9), "bound": "ceiling"}
    assert (e.status, e.color) == ("达标", "green")
    assert e.completion is None and e.expected_completion is None
    assert e.progress_measure["method"] == "target_achieved"
    e = one(plan, values(plan, [("I02", "徐州市", "2025-12", 2.1, None, None)]), "I02", "徐州市", m(2025, 12))
    assert e.status == "达标"
    # 4.5: 0.5 pp over the ceiling (≤ 2) → 未达标, yellow; 6.5: 2.5 pp over → 未达标, red
    over = one(plan, values(plan, [("I02", "徐州市", "2023-06", 4.5, None, None)]), "I02", "徐州市", m(2023, 6))
    assert (over.status, over.color, over.compliance["margin"]) == ("未达标", "yellow", pytest.approx(-0.5))
    far = one(plan, values(plan, [("I02", "徐州市", "2023-06", 6.5, None, None)]), "I02", "徐州市", m(2023, 6))
    assert (far.status, far.color) == ("未达标", "red")
    # at the plan's end even 0.5 pp over is red
    end = one(plan, values(plan, [("I02", "徐州市", "2025-12", 4.5, None, None)]), "I02", "徐州市", m(2025, 12))
    assert (end.status, end.color) == ("未达标", "red")


def test_floor_rate_recomputed_from_numerator_and_denominator(plan: Plan) -> None:
    # I16 调解成功率 ≥70, a flow rate over the year to date: 60/100, 90/100, 10/50.
    # Recomputed: (60 + 90 + 10)/(100 + 100 + 50) = 160/250 = 64%, 6 pp below the floor.
    # (The mean of the three monthly rates, (60 + 90 + 20)/3 = 56.67%, would be wrong.)
    rows = [
        ("I16", "徐州市", "2024-01", 60.0, 60.0, 100.0),
        ("I16", "徐州市", "2024-02", 90.0, 90.0, 100.0),
        ("I16", "徐州市", "2024-03", 20.0, 10.0, 50.0),
    ]
    e = one(plan, values(plan, rows), "I16", "徐州市", m(2024, 3))
    assert e.actual == pytest.approx(64.0)
    assert e.compliance["margin"] == pytest.approx(-6.0)
    assert (e.status, e.color) == ("未达标", "red")  # 6 pp below the floor, more than 2


def test_floor_rate_with_a_path(plan: Plan) -> None:
    # I09 参保缴费率 ≥90, baseline 83.5, milestone 88 by 2023 (C036). As of 2022-12:
    # expected = 86.5 (see test_path_value_interpolates_milestones); actual 86.0
    # completion = (86 − 83.5)/6.5 = 0.384615; expected share = 3/6.5 = 0.461538; gap = −7.69 → 滞后
    e = one(plan, values(plan, [("I09", "徐州市", "2022-12", 86.0, None, None)]), "I09", "徐州市", m(2022, 12))
    assert e.expected == pytest.approx(86.5)
    assert e.completion == pytest.approx(2.5 / 6.5)
    assert e.gap_pp == pytest.approx((2.5 - 3.0) / 6.5 * 100)
    assert e.status == "滞后"


def test_groups_aggregate_their_members(plan: Plan) -> None:
    # 主城区 has no values of its own: 鼓楼区 100 + 泉山区 50 people (附件表1 is in 人, stored in 万人)
    rows = [("I01", "鼓楼区", "2021-01", 0.01, None, None), ("I01", "泉山区", "2021-01", 0.005, None, None)]
    e = one(plan, values(plan, rows), "I01", "主城区", m(2021, 1))
    assert e.actual == pytest.approx(0.015)
    assert e.target == pytest.approx(25.15)  # 251500 人


def test_ranking_of_org_units(plan: Plan) -> None:
    # 丰县 exactly on schedule, 沛县 a little behind it, 邳州市 behind, as of 2021-12 (elapsed 0.2).
    # completions: 丰县 0.23/1.15 = 0.2 → gap 0; 沛县 0.30/1.75 = 0.1714 → −2.86; 邳州市 0.2/2.0 = 0.1 → −10
    rows = [("I01", "丰县", "2021-12", 0.23, None, None), ("I01", "沛县", "2021-12", 0.30, None, None), ("I01", "邳州市", "2021-12", 0.2, None, None)]
    results = Evaluator(plan, values(plan, rows), T).evaluate_all(m(2021, 12))
    ranks = {e.org_unit: (e.rank, e.rank_of) for e in results if e.indicator_code == "I01" and e.rank}
    assert ranks == {"丰县": (1, 3), "沛县": (2, 3), "邳州市": (3, 3)}
    unranked = next(e for e in results if e.indicator_code == "I01" and e.org_unit == "新沂市")
    assert unranked.status == "无数据" and unranked.rank is None


# --- properties --------------------------------------------------------------------


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=24), st.floats(0, 1e4, allow_nan=False))
def test_engine_completion_monotone_in_flows(flows: list[float], extra: float) -> None:
    plan = _shipped()
    as_of = m(2021, 1) + len(flows) - 1
    base = [("I14", "徐州市", m(2021, 1) + i, m(2021, 1) + i, v, None, None) for i, v in enumerate(flows)]
    more = [*base[:-1], (*base[-1][:4], base[-1][4] + extra, None, None)]
    ev_a = Evaluator(plan, ValueSet.from_rows(plan, base)).evaluate(plan.indicator("I14"), plan.org_unit("徐州市"), as_of)
    ev_b = Evaluator(plan, ValueSet.from_rows(plan, more)).evaluate(plan.indicator("I14"), plan.org_unit("徐州市"), as_of)
    assert ev_b.completion >= ev_a.completion
    assert math.isclose(ev_a.completion, sum(flows) / 600, rel_tol=1e-9, abs_tol=1e-12)


@given(st.floats(-1e3, 1e3, allow_nan=False), st.floats(1, 1e3, allow_nan=False), st.floats(0.01, 1e3, allow_nan=False))
def test_distance_covered_is_linear(baseline: float, span: float, step: float) -> None:
    target = baseline + span
    assert ev.distance_covered(baseline, baseline, target) == 0
    assert ev.distance_covered(target, baseline, target) == pytest.approx(1)
    assert ev.distance_covered(baseline + step, baseline, target) == pytest.approx(step / span)


def test_level_district_progress_measure_and_projection(plan: Plan) -> None:
    # 沛县 I07: 6.9 (2020) → 8.2 (2025). Monthly values rise by 0.01 from 6.91 in 2021-01, so the
    # 24 months 2021-07 … 2023-06 lie on the line v(k) = 6.9 + 0.01k (k = months since 2020-12).
    # As of 2023-06 (k = 30): actual 7.2. Linear trend to 2025-12 (k = 60): 6.9 + 0.6 = 7.5.
    # Distance share of the projection: (7.5 − 6.9)/1.3 = 0.4615 < 0.95 → 难以完成.
    # CAGR_a = (7.2/6.9)^(1/2.5) − 1 = 1.043478^0.4 − 1 = 0.017170
    # CAGR_r = (8.2/6.9)^(1/5) − 1 = 1.188406^0.2 − 1 = 0.035125
    # R = CR = 0.017170/0.035125 = 0.4888 → limited (Open SDG, < 0.6) and limited (UNSD, < 0.5)
    rows = [("I07", "沛县", f"{2021 + (k - 1) // 12}-{(k - 1) % 12 + 1:02d}", 6.9 + 0.01 * k, None, None) for k in range(1, 31)]
    e = one(plan, values(plan, rows), "I07", "沛县", m(2023, 6))
    assert e.actual == pytest.approx(7.2)
    assert e.projection["value"] == pytest.approx(7.5)
    assert e.projection["verdict"] == "难以完成"
    pm = e.progress_measure
    assert pm["cagr_actual"] == pytest.approx((7.2 / 6.9) ** (1 / 2.5) - 1)
    assert pm["cagr_actual"] == pytest.approx(0.017170, abs=1e-6)
    assert pm["cagr_required"] == pytest.approx(0.035125, abs=1e-6)
    assert pm["opensdg_ratio"] == pytest.approx(0.4888, abs=1e-3)
    assert pm["unsd_ratio"] == pytest.approx(pm["opensdg_ratio"])
    assert (pm["opensdg_category"], pm["unsd_category"]) == ("limited_progress", "limited_progress")


def test_ceiling_projection_and_measures(plan: Plan) -> None:
    # I02 rising 0.1 pp a month from 2.0 in 2024-01: 2024-12 is 3.1; the trend reaches
    # 3.1 + 0.1 × 12 = 4.3 by 2025-12, 0.3 over the 4% ceiling (≤ 2 pp) → 存在风险.
    rows = [("I02", "徐州市", f"2024-{k:02d}", 2.0 + 0.1 * (k - 1), None, None) for k in range(1, 13)]
    e = one(plan, values(plan, rows), "I02", "徐州市", m(2024, 12))
    assert e.actual == pytest.approx(3.1)
    assert e.projection["value"] == pytest.approx(4.3)
    assert e.projection["verdict"] == "存在风险"
    assert e.status == "达标"  # still inside the ceiling today


def test_ceiling_above_baseline_exceeded_is_deterioration(plan: Plan) -> None:
    # I02: baseline 1.76, ceiling 4. As of 2023-12 the rate is 4.5 (over the ceiling).
    # CAGR_a = (4.5/1.76)^(1/3) − 1 = 2.5568^(1/3) − 1 = 0.3674 (a rise);
    # CAGR_r = (4/1.76)^(1/5) − 1 = 2.2727^0.2 − 1 = 0.1784.
    # Lower is better: R = −1 × 0.3674/0.1784 = −2.059 → deterioration; UNSD follows the
    # desired direction too (a plain CAGR_a/CAGR_r = +2.06 would call it progress).
    e = one(plan, values(plan, [("I02", "徐州市", "2023-12", 4.5, None, None)]), "I02", "徐州市", m(2023, 12))
    pm = e.progress_measure
    assert pm["opensdg_ratio"] == pytest.approx(-((4.5 / 1.76) ** (1 / 3) - 1) / ((4 / 1.76) ** 0.2 - 1))
    assert pm["opensdg_ratio"] == pytest.approx(-2.059, abs=1e-3)
    assert pm["opensdg_category"] == "deterioration" and pm["unsd_category"] == "deterioration"


def test_values_after_the_plan_period_do_not_count(plan: Plan) -> None:
    # I14 博士后: 600 in 2025-12 and 50 more in 2026-01; as of 2026-03 the plan is judged at 2025-12.
    rows = [("I14", "徐州市", "2025-12", 600.0, None, None), ("I14", "徐州市", "2026-01", 50.0, None, None)]
    e = one(plan, values(plan, rows), "I14", "徐州市", m(2026, 3))
    assert e.actual == 600 and e.as_of == "2025-12" and e.status == "已完成"
