"""Build a report (生成报告): evaluate, then write the Word and Excel files.

`write_reports` is what the CLI (and later the web) calls; it takes values already
loaded (a ValueSet), so it does no database I/O itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrss.monitoring.engine import Evaluation, Evaluator
from hrss.monitoring.evaluation import StatusThresholds
from hrss.monitoring.periods import month_index, month_label
from hrss.monitoring.series import ValueSet
from hrss.plan.model import Plan
from hrss.reports.content import KIND_NAMES, ReportData
from hrss.reports.docx_report import write_docx
from hrss.reports.xlsx_report import write_xlsx

Progress = Callable[[str], None]
KINDS = tuple(KIND_NAMES)


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class ReportFiles:
    docx: Path
    xlsx: Path


def _quiet(_: str) -> None:
    pass


def collect(
    plan: Plan,
    values: ValueSet,
    *,
    kind: str,
    as_of: int,
    thresholds: StatusThresholds | None = None,
    simulated: bool = False,
    progress: Progress | None = None,
    reconciliation: list[Any] | None = None,
    sampled: bool = False,
) -> ReportData:
    """Evaluate every indicator × org unit at as_of, and the city month by month up to it."""
    if kind not in KIND_NAMES:
        raise ReportError(f"未知报告类型 (unknown report kind): {kind}；可选 {', '.join(KINDS)}")
    start, end = month_index(plan.start_year, 1), month_index(plan.end_year, 12)
    if not start <= as_of <= end:
        raise ReportError(
            f"截至月份 {month_label(as_of)} 不在规划期 {month_label(start)}—{month_label(end)} 内 (as-of month outside the plan period)")
    say = progress or _quiet
    evaluator = Evaluator(plan, values, thresholds)
    say(f"评价 {month_label(as_of)} 全部指标 (evaluating all indicators)")
    evaluations = evaluator.evaluate_all(as_of)
    # The city month by month: the trend charts, and commitments due before as_of (任务台账).
    say("逐月评价全市指标 (evaluating the city month by month)")
    history: dict[str, dict[int, Evaluation]] = {}
    for ind in plan.indicators:
        series = {m: evaluator.evaluate(ind, evaluator.city, m) for m in range(start, as_of + 1)}
        history[ind.code] = {m: e for m, e in series.items() if e is not None}
    return ReportData(plan, kind, as_of, evaluations, history, simulated, evaluator.t, reconciliation or [], sampled)


def report_stem(plan: Plan, kind: str, as_of: int) -> str:
    """徐州市人社十四五规划终期评估报告_2025-12 (no characters that file systems refuse)."""
    m = re.search(r"“([^”]+)”", plan.title)
    period = m.group(1) if m else f"{plan.start_year}-{plan.end_year}"
    stem = f"{plan.city}人社{period}规划{KIND_NAMES[kind]}_{month_label(as_of)}"
    return re.sub(r'[\\/:*?"<>|\s]+', "_", stem)


def write_reports(
    plan: Plan,
    values: ValueSet,
    *,
    kind: str,
    as_of: int,
    out_dir: Path,
    thresholds: StatusThresholds | None = None,
    simulated: bool = False,
    progress: Progress | None = None,
    reconciliation: list[Any] | None = None,
    sampled: bool = False,
) -> ReportFiles:
    """Write the Word report and its Excel companion into out_dir; returns both paths."""
    say = progress or _quiet
    data = collect(plan, values, kind=kind, as_of=as_of, thresholds=thresholds, simulated=simulated, progress=say,
                   reconciliation=reconciliation, sampled=sampled)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(plan, kind, as_of)
    docx_path = write_docx(data, out_dir / f"{stem}.docx", progress=say)
    say(f"已生成 Word 报告 (written): {docx_path}")
    xlsx_path = write_xlsx(data, out_dir / f"{stem}.xlsx")
    say(f"已生成 Excel 附表 (written): {xlsx_path}")
    return ReportFiles(docx_path, xlsx_path)
