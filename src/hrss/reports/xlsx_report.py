"""The Excel companion (Excel 附表) of a report: every figure behind the Word text.

Sheets: 总体情况 (all indicators for the city), 分地区 (every indicator × org unit),
附件分解表 (the annex targets as the plan states them), 任务台账 (commitments ledger),
滞后预警 (lagging units), 说明 (what the file is). Every string goes through
`safe_cell` (hrss.cells, the one rule of every export), so that no cell text is ever
read as a formula (OWASP CSV injection).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hrss.cells import safe_cell
from hrss.monitoring.engine import Evaluation
from hrss.monitoring.evaluation import PROGRESS_LABELS
from hrss.plan.model import TARGET_KIND_LABELS, TargetKind
from hrss.reports import content as c
from hrss.reports import ledger
from hrss.reports.content import ReportData

NUMBER, SHARE, POINTS, INTEGER = "0.00##", "0.0%", "0.0", "0"  # 0.00## keeps 1.0104 万人 exact
COLOR_NAMES = {"green": "绿", "yellow": "黄", "red": "红", "grey": "灰"}
METHOD_NAMES = {"cagr": "年均增速法", "target_achieved": "已达目标", "not_applicable": "不适用"}
HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")


Column = tuple[str, Callable[[Any], Any], str | None]  # header, getter, number format


def _pm(key: str) -> Callable[[Evaluation], Any]:
    return lambda e: (e.progress_measure or {}).get(key)


def _label(key: str) -> Callable[[Evaluation], Any]:
    return lambda e: PROGRESS_LABELS.get((e.progress_measure or {}).get(key, ""), None)


def _annual(key: str) -> Callable[[Evaluation], Any]:
    return lambda e: (e.annual or {}).get(key)


def _compliance(e: Evaluation) -> str | None:
    if e.compliance is None:
        return None
    return "是" if e.compliance.get("compliant") else "否"


EVALUATION_COLUMNS: list[Column] = [
    ("指标代码", lambda e: e.indicator_code, None),
    ("指标名称", lambda e: e.indicator, None),
    ("地区", lambda e: e.org_unit, None),
    ("截至月份", lambda e: e.as_of, None),
    ("计量单位", lambda e: e.unit, None),
    ("目标类型", lambda e: TARGET_KIND_LABELS[TargetKind(e.kind)], None),
    ("指标属性", lambda e: c.attribute_label(e.attribute), None),
    ("实际值", lambda e: e.actual, NUMBER),
    ("序时目标值", lambda e: e.expected, NUMBER),
    ("目标值", lambda e: e.target, NUMBER),
    ("基数", lambda e: e.baseline, NUMBER),
    ("完成进度(%)", lambda e: e.completion, SHARE),
    ("序时进度(%)", lambda e: e.expected_completion, SHARE),
    ("时间进度(%)", lambda e: e.time_elapsed, SHARE),
    ("差距(百分点)", lambda e: e.gap_pp, POINTS),
    ("状态", lambda e: e.status, None),
    ("颜色", lambda e: COLOR_NAMES.get(e.color, e.color), None),
    ("约束性预警", lambda e: "是" if e.escalate else "否", None),
    ("进展评价方法", lambda e: METHOD_NAMES.get((e.progress_measure or {}).get("method", "")), None),
    ("实际年均增速(%)", _pm("cagr_actual"), "0.00%"),
    ("所需年均增速(%)", _pm("cagr_required"), "0.00%"),
    ("Open SDG比值", _pm("opensdg_ratio"), NUMBER),
    ("Open SDG评价", _label("opensdg_category"), None),
    ("UNSD比值", _pm("unsd_ratio"), NUMBER),
    ("UNSD评价", _label("unsd_category"), None),
    ("期末预测值", lambda e: (e.projection or {}).get("value"), NUMBER),
    ("预测方法", lambda e: c.zh((e.projection or {}).get("method", "")) or None, None),
    ("研判", lambda e: (e.projection or {}).get("verdict"), None),
    ("是否达标", _compliance, None),
    ("余量", lambda e: (e.compliance or {}).get("margin"), NUMBER),
    ("年度", _annual("year"), INTEGER),
    ("年度目标", _annual("target"), NUMBER),
    ("年度完成", _annual("actual"), NUMBER),
    ("年度完成率(%)", _annual("completion"), SHARE),
    ("排名", lambda e: e.rank, INTEGER),
    ("参与排名单位数", lambda e: e.rank_of, INTEGER),
    ("目标来源", lambda e: e.target_source, None),
    ("说明", lambda e: "；".join(c.zh(n) for n in e.notes) or None, None),
]

MIDTERM_COLUMN: Column = ("时间过半任务过半", c.half_done_label, None)

LAGGING_COLUMNS: list[Column] = [
    *(col for col in EVALUATION_COLUMNS if col[0] in (
        "指标代码", "指标名称", "地区", "计量单位", "指标属性", "实际值", "目标值",
        "完成进度(%)", "序时进度(%)", "差距(百分点)", "状态")),
    ("预警", lambda e: "约束性指标预警" if e.escalate else None, None),
]

RECONCILE_COLUMNS: list[Column] = [
    ("指标代码", lambda r: r.indicator, None),
    ("指标名称", lambda r: r.name, None),
    ("地区", lambda r: r.org_unit, None),
    ("计量单位", lambda r: r.unit, None),
    ("比对口径", lambda r: r.basis, None),
    ("填报值", lambda r: r.reported, NUMBER),
    ("实名制统计值", lambda r: r.computed, NUMBER),
    ("差异(填报−统计)", lambda r: r.difference, NUMBER),
    ("差异率", lambda r: r.relative, SHARE),
    ("超出容差", lambda r: "是" if r.flagged else None, None),
]

LEDGER_COLUMNS: list[Column] = [
    ("编号", lambda x: x.commitment.id, None),
    ("所在章节", lambda x: x.commitment.section, None),
    ("承诺事项", lambda x: x.commitment.text, None),
    ("承诺值", lambda x: x.commitment.value, NUMBER),
    ("单位", lambda x: x.commitment.unit, None),
    ("要求", lambda x: ledger.COMPARATOR_LABELS.get(x.commitment.comparator, x.commitment.comparator), None),
    ("时限", lambda x: x.due, None),
    ("关联指标", lambda x: x.indicator or None, None),
    ("评价方式", lambda x: x.method, None),
    ("截至实际值", lambda x: x.actual, NUMBER),
    ("实际值单位", lambda x: x.unit if x.actual is not None else None, None),
    ("结论", lambda x: x.conclusion, None),
    ("说明", lambda x: x.detail, None),
]


def _width(value: Any) -> int:
    text = str(value) if value is not None else ""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet(ws: Worksheet, columns: Sequence[Column], items: Sequence[Any], freeze: str = "C2") -> None:
    _header(ws, [h for h, _, _ in columns])
    widths = [_width(h) for h, _, _ in columns]
    for item in items:
        row = []
        for i, (_, get, fmt) in enumerate(columns):
            value = get(item)
            row.append(value)
            if fmt is None or not isinstance(value, int | float):
                widths[i] = max(widths[i], _width(value))
        _append(ws, row, [fmt for _, _, fmt in columns])
    _finish(ws, widths, freeze)


def _header(ws: Worksheet, headers: Sequence[str]) -> None:
    ws.append([safe_cell(h) for h in headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _append(ws: Worksheet, values: Sequence[Any], formats: Sequence[str | None]) -> None:
    ws.append([safe_cell(v) for v in values])
    for cell, fmt in zip(ws[ws.max_row], formats, strict=True):
        if fmt and isinstance(cell.value, int | float):
            cell.number_format = fmt


def _finish(ws: Worksheet, widths: Sequence[int], freeze: str) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(w + 2, 8), 60)
    ws.freeze_panes = freeze
    ws.auto_filter.ref = ws.dimensions


def _annex_sheet(ws: Worksheet, data: ReportData) -> None:
    decs = data.plan.decompositions
    years = sorted({y for d in decs for y in d.years})
    bases = {d.base_year for d in decs if d.base_year is not None}
    headers = ["附件表", "指标代码", "表名", "单位", "地区",
               *(f"{y}年(基数)" if y in bases else f"{y}年" for y in years), "合计"]
    _header(ws, headers)
    widths = [_width(h) for h in headers]
    for d in decs:
        for r in (*d.rows, d.total_row):
            values = [d.table, d.indicator, d.title, d.unit, r.org_unit, *(r.values.get(y) for y in years), r.total]
            for i, v in enumerate(values[:5]):
                widths[i] = max(widths[i], _width(v))
            _append(ws, values, [None] * 5 + [_num_format(v) for v in values[5:]])
    _finish(ws, widths, "F2")


def _num_format(v: Any) -> str | None:
    if not isinstance(v, int | float):
        return None
    return INTEGER if float(v).is_integer() else NUMBER


def _about_sheet(ws: Worksheet, data: ReportData) -> None:
    rows = [
        ("报告", data.title),
        ("截至月份", c.month_words(data.as_of)),
        ("规划文件", f"{data.plan.title}（{data.plan.document}）"),
        ("数据来源", "模拟数据（Simulated data），不得作为正式统计数据使用" if data.simulated else "各地区、各处室报送数据"),
        ("评价口径", c.method_note(data)),
        ("单位说明", "“总体情况”“分地区”中的数值均以《规划》表2所列计量单位表示；“附件分解表”按附件各表原单位列示。"),
    ]
    _header(ws, ["项目", "内容"])
    for row in rows:
        _append(ws, row, [None, None])
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 100
    for cell in ws["B"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def write_xlsx(data: ReportData, path: Path) -> Path:
    wb = Workbook()
    overall = wb.active
    assert overall is not None
    overall.title = "总体情况"
    city = [e for i in data.plan.indicators if (e := data.city_eval(i.code)) is not None]
    units = [e for i in data.plan.indicators for e in data.unit_evals(i.code)]
    columns = EVALUATION_COLUMNS + ([MIDTERM_COLUMN] if data.kind == "midterm" else [])
    _sheet(overall, columns, city)
    _sheet(wb.create_sheet("分地区"), columns, units)
    _annex_sheet(wb.create_sheet("附件分解表"), data)
    _sheet(wb.create_sheet("任务台账"), LEDGER_COLUMNS, ledger.ledger(data), freeze="D2")
    _sheet(wb.create_sheet("滞后预警"), LAGGING_COLUMNS, data.lagging())
    if data.reconciliation:
        _sheet(wb.create_sheet("数据会审"), RECONCILE_COLUMNS, data.reconciliation, freeze="D2")
    _about_sheet(wb.create_sheet("说明"), data)
    for ws in wb.worksheets:
        if data.simulated:
            ws.oddHeader.center.text = "模拟数据 Simulated data"
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    wb.properties.title = safe_cell(data.title)
    wb.save(path)
    return path
