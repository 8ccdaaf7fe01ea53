"""生成报告: the one way a report is made, for the command line and the web alike.

`generate` reads what a report needs from the store (the values, whether they are the
simulated demo, and for the monthly briefing the 数据会审 against the values computed from
the ledgers, with whether those were estimated from a sample), then writes the Word and
Excel files with `build.write_reports`, which does no database I/O itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hrss.monitoring.demo import is_simulated
from hrss.monitoring.service import latest_month, load_values
from hrss.plan.model import Plan
from hrss.reports.build import KINDS, Progress, ReportError, ReportFiles, write_reports
from hrss.settings import Settings


def generate(session: Session, plan: Plan, settings: Settings, *, kind: str, as_of: int, out_dir: Path,
             source: str = "reported", progress: Progress | None = None) -> ReportFiles:
    """Write the report of kind as of the month index as_of into out_dir; ReportError when it cannot."""
    if kind not in KINDS:
        raise ReportError(f"未知报告类型 (unknown report kind): {kind}；可选 {', '.join(KINDS)}")
    values = load_values(session, plan, source)
    reconciliation = reconciliation_for(session, plan, as_of, settings) if kind == "monthly" else None
    sampled = False
    if reconciliation is not None:
        from hrss.stats.service import computed_from_sample

        sampled = computed_from_sample(session, plan)
    return write_reports(plan, values, kind=kind, as_of=as_of, out_dir=out_dir, thresholds=settings.thresholds,
                         simulated=is_simulated(session, plan), progress=progress,
                         reconciliation=reconciliation, sampled=sampled)


def reconciliation_for(session: Session, plan: Plan, as_of: int, settings: Settings) -> list[Any] | None:
    """数据会审 for the monthly briefing, when values computed from the ledgers exist (else None)."""
    from hrss.stats.compute import COMPUTED
    from hrss.stats.definitions import load_definitions
    from hrss.stats.service import reconcile

    if latest_month(session, plan, COMPUTED) is None:
        return None
    return reconcile(session, plan, load_definitions(plan), as_of,
                     tolerance=settings.reconcile_tolerance, tolerance_pp=settings.reconcile_tolerance_pp)
