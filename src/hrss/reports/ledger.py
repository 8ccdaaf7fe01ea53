"""任务台账 (commitments ledger): each quantified commitment of the plan text, judged.

A commitment linked to a monitored indicator is judged on the city's value at its due
month (or at the as-of month, if that comes first), in the commitment's own unit; the
rest cannot be judged from indicator data and need evidence from the business divisions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hrss.monitoring.engine import Evaluation
from hrss.monitoring.periods import month_index
from hrss.plan.model import Commitment, Indicator
from hrss.plan.units import UnitError, factor
from hrss.reports.content import ReportData, month_words, pct, qty

EVIDENCE = "需业务处室提供佐证"
DUE_LABELS = {"per_year": "每年", "period": "规划期内", "every_2_years": "每两年"}
COMPARATOR_LABELS = {">=": "不低于", "<=": "不高于", "=": "达到"}


@dataclass(frozen=True)
class LedgerEntry:
    commitment: Commitment
    due: str
    indicator: str  # linked indicator name, or ""
    method: str  # 指标数据 | 业务佐证
    actual: float | None
    unit: str
    conclusion: str
    detail: str


def due_label(due: str) -> str:
    if due.startswith("by_"):
        return f"{due[3:]}年底前"
    return DUE_LABELS.get(due, due)


def _due_month(due: str, data: ReportData) -> int:
    if due.startswith("by_") and due[3:].isdigit():
        return month_index(int(due[3:]), 12)
    if due == "per_year":
        return month_index(data.as_of // 12, 12)
    return data.end_month


def ledger(data: ReportData) -> list[LedgerEntry]:
    return [ledger_entry(c, data) for c in data.plan.commitments]


def ledger_entry(c: Commitment, data: ReportData) -> LedgerEntry:
    ind = data.plan.find_indicator(c.indicator) if c.indicator else None
    if ind is None:
        return LedgerEntry(c, due_label(c.due), "", "业务佐证", None, c.unit, EVIDENCE, "该承诺无对应监测指标，需业务处室提供佐证材料")
    due = _due_month(c.due, data)
    at = min(data.as_of, due, data.end_month)
    e = data.history.get(ind.code, {}).get(at) or data.city_eval(ind.code)
    if e is None or e.actual is None:
        return LedgerEntry(c, due_label(c.due), ind.name, "指标数据", None, ind.unit, "无数据", f"{ind.name}暂无数据")
    return _judge(c, ind, e, at, due, data)


def _convert(value: float, from_unit: str, to_unit: str) -> float | None:
    """Convert, reading 名 as 人 and 人次 as 人 where the plan text and the indicator differ."""
    def plain(u: str) -> str:
        u = u.replace("名", "人")
        return u[:-1] if u.endswith("人次") else u
    for a, b in ((from_unit, to_unit), (plain(from_unit), plain(to_unit))):
        try:
            return value * factor(a, b)
        except UnitError:
            continue
    return None


def _judge(c: Commitment, ind: Indicator, e: Evaluation, at: int, due: int, data: ReportData) -> LedgerEntry:
    yearly = c.due == "per_year" and e.kind == "cumulative" and e.annual is not None
    value = e.annual["actual"] if yearly and e.annual else e.actual
    actual = _convert(value, ind.unit, c.unit) if value is not None else None
    if actual is None:
        share = f"，完成进度{pct(e.completion)}" if e.completion is not None else ""
        return LedgerEntry(c, due_label(c.due), ind.name, "指标数据", value, ind.unit, e.status, f"指标状态：{e.status}{share}")
    lower = c.comparator == "<=" or (c.comparator == "=" and ind.lower_is_better)
    met = actual <= c.value + 1e-9 if lower else actual >= c.value - 1e-9
    if yearly:
        span = f"{at // 12}年" + (f"1—{at % 12 + 1}月" if at % 12 < 11 else "") + "完成"
    else:
        span = f"截至{month_words(at)}" + ("累计完成" if e.kind == "cumulative" else "为")
    detail = f"{span}{qty(actual, c.unit)}，承诺{COMPARATOR_LABELS.get(c.comparator, '')}{qty(c.value, c.unit)}"
    if not lower and c.value and (yearly or e.kind == "cumulative"):
        detail += f"，完成{pct(actual / c.value)}"
    if met:
        conclusion = "已达到"
    elif data.as_of >= due:
        conclusion = "未达到"
    else:
        conclusion = f"推进中（指标状态：{e.status}）"
    return LedgerEntry(c, due_label(c.due), ind.name, "指标数据", actual, c.unit, conclusion, detail)


def ledger_summary(entries: list[LedgerEntry]) -> str:
    measured = [x for x in entries if x.method == "指标数据"]
    counts = Counter(x.conclusion.split("（")[0] for x in measured)
    parts = "、".join(f"{k}{v}项" for k, v in counts.most_common())
    return (f"《规划》文本中共梳理量化任务承诺{len(entries)}项。其中{len(measured)}项可由监测指标数据评价（{parts or '无'}），"
            f"{len(entries) - len(measured)}项无对应监测指标，{EVIDENCE}材料后评价。")
