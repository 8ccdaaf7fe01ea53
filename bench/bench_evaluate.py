"""Benchmark: evaluate every indicator × org unit of the plan from the store.

Targets (issue "Plan core"): one as-of month in under 100 ms, all 60 months in under 2 s.
Baseline measured in the same run: reading the values out of the store and summing
them in plain Python (the least any evaluation must do), so ratios survive a noisy
shared machine. Usage: .venv/bin/python bench/bench_evaluate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from hrss.db import make_engine, session_factory, transaction
from hrss.monitoring.demo import build_demo, load_demo
from hrss.monitoring.engine import Evaluator
from hrss.monitoring.periods import month_index
from hrss.monitoring.service import evaluate, load_values
from hrss.plan.store import prepare_store


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        plan = prepare_store(engine)
        with transaction(engine) as session:
            rows = load_demo(session, plan, build_demo(plan))
        Session = session_factory(engine)
        last = month_index(plan.end_year, 12)
        months = range(month_index(plan.start_year, 1), last + 1)

        def baseline() -> None:
            with Session() as s:
                vs = load_values(s, plan)
                sum(sum(o.value for o in series.obs) for series in vs.series.values())

        def one_month() -> int:
            with Session() as s:
                return len(evaluate(s, plan, last))

        def all_months() -> int:
            with Session() as s:
                ev = Evaluator(plan, load_values(s, plan))
                return sum(len(ev.evaluate_all(mo)) for mo in months)

        n_one, n_all = one_month(), all_months()
        base = timed(baseline, args.repeat)
        one = timed(one_month, args.repeat)
        every = timed(all_months, max(3, args.repeat // 3))
        engine.dispose()

    b, o, a = statistics.median(base), statistics.median(one), statistics.median(every)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"values in store: {rows}; evaluations: one month {n_one}, all months {n_all}")
    print(f"baseline (read + sum values): median {b * 1000:.1f} ms")
    print(f"one as-of month (read + evaluate): median {o * 1000:.1f} ms  ratio {o / b:.2f}x  target < 100 ms")
    print(f"all {len(months)} months (read once + evaluate each): median {a * 1000:.0f} ms  ratio {a / b:.1f}x  target < 2000 ms")


if __name__ == "__main__":
    main()
