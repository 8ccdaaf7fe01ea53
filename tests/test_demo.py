"""Simulated data: deterministic, realistic, and marked as simulated everywhere; the synthetic
ledgers are a sample of the same city, so that 数据会审 finds just the planted discrepancies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hrss.db import session_factory, transaction
from hrss.ledgers.synth import generate
from hrss.monitoring.demo import DISCREPANCIES, MISSING, build_demo, is_simulated, load_demo
from hrss.monitoring.engine import Evaluator
from hrss.monitoring.periods import month_index
from hrss.monitoring.series import ValueSet
from hrss.monitoring.service import evaluate
from hrss.plan.model import Plan
from hrss.plan.targets import has_target
from hrss.stats.compute import compute
from hrss.stats.definitions import load_definitions
from hrss.stats.engines import DuckDBEngine
from hrss.stats.service import computed_from_sample, reconcile, store_computed


def _valueset(plan: Plan, values) -> ValueSet:
    rows = [(v.indicator, v.org_unit, v.period.first, v.period.last, v.value, v.numerator, v.denominator) for v in values]
    return ValueSet.from_rows(plan, rows)


def test_demo_is_deterministic_and_covers_every_target(plan: Plan) -> None:
    a, b = build_demo(plan), build_demo(plan)
    assert a == b
    assert build_demo(plan, seed=7) != a
    vs = _valueset(plan, a)
    results = Evaluator(plan, vs).evaluate_all(month_index(2025, 12))
    assert all(e.status != "无数据" for e in results), [e for e in results if e.status == "无数据"]
    assert {e.indicator_code for e in results} == {i.code for i in plan.indicators}


def test_demo_looks_like_a_city(plan: Plan) -> None:
    values = build_demo(plan)
    vs = _valueset(plan, values)
    results = Evaluator(plan, vs).evaluate_all(month_index(2025, 12))
    statuses = Counter(e.status for e in results)
    assert statuses["未完成"] + statuses["未达标"] >= 3  # some units and indicators short of their targets
    missed_binding = [e for e in results if e.attribute == "binding" and e.completion is not None and e.completion < 1]
    assert missed_binding, "at least one binding indicator missed somewhere"
    assert any(e.escalate for e in results)
    # hiring peaks after the Spring Festival: March above February, every year, for the city
    for year in plan.years:
        feb = vs.flow("I01", "徐州市", month_index(year, 2), month_index(year, 2))
        mar = vs.flow("I01", "徐州市", month_index(year, 3), month_index(year, 3))
        assert mar > feb * 1.5
    # graduates arrive in summer
    jul = vs.flow("I10", "徐州市", month_index(2023, 7), month_index(2023, 7))
    jan = vs.flow("I10", "徐州市", month_index(2023, 1), month_index(2023, 1))
    assert jul > 3 * jan
    # a submission is missing
    unit, period = MISSING
    assert not any(v.org_unit == unit and v.period.label == period for v in values)


def test_demo_is_marked_simulated_and_protects_real_data(engine: Engine, plan: Plan) -> None:
    with transaction(engine) as s:
        assert not is_simulated(s, plan)
        assert load_demo(s, plan, build_demo(plan)) > 5000
        assert is_simulated(s, plan)
    with session_factory(engine)() as s:
        assert len(evaluate(s, plan, month_index(2025, 12))) == 108


def test_demo_refuses_to_overwrite_real_reports(engine: Engine, plan: Plan, tmp_path) -> None:
    from hrss.monitoring.values import import_file

    path = tmp_path / "real.csv"
    path.write_text("indicator,org_unit,period,value\nI01,丰县,2023-06,2300\n", encoding="utf-8")
    with transaction(engine) as s:
        assert import_file(s, plan, path).stored == 1
    with transaction(engine) as s:
        assert load_demo(s, plan, build_demo(plan)) is None
    with transaction(engine) as s:
        assert not is_simulated(s, plan)
        assert load_demo(s, plan, build_demo(plan), force=True) > 5000


@pytest.fixture(scope="module")
def city_ledgers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledgers scripts/main makes: `hrss synth --scale small` (seed 0)."""
    out = tmp_path_factory.mktemp("ledgers")
    generate(out, "small")
    return out


def test_reconcile_on_the_demo_finds_the_planted_discrepancies_and_nothing_else(
    engine: Engine, plan: Plan, city_ledgers: Path
) -> None:
    as_of = month_index(2025, 12)
    definitions = load_definitions(plan)
    duck = DuckDBEngine(threads=2)
    try:
        result = compute(plan, definitions, city_ledgers, duck, as_of, keep_state=False)
    finally:
        duck.close()
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        store_computed(s, plan, result)
    with session_factory(engine)() as s:
        rows = reconcile(s, plan, definitions, as_of, tolerance=0.05, tolerance_pp=1.0)  # the default tolerances
        assert computed_from_sample(s, plan)
    flagged = {(r.indicator, r.org_unit): r for r in rows if r.flagged}
    assert set(flagged) == {(indicator, unit) for indicator, unit, _ in DISCREPANCIES}
    for (indicator, unit, _), share in DISCREPANCIES.items():
        r = flagged[(indicator, unit)]
        assert r.reported is not None and r.computed is not None and r.relative is not None
        assert 0.08 < abs(r.relative) < 0.2 and (r.relative > 0) == (share < 1), r  # reported above the ledgers' when share < 1
    # every other row agrees, well inside the tolerance; the city and every unit that answers for each indicator
    for r in rows:
        if not r.flagged:
            assert r.reported is not None and r.computed is not None, r
            assert abs(r.relative) < 0.03 if r.relative is not None else abs(r.difference or 0) < 0.5, r
    assert len(rows) == sum(has_target(plan, plan.indicator(d.indicator), u)
                            for d in definitions for u in [plan.city_unit, *plan.leaves(plan.city_unit.name)])  # fmt: skip
