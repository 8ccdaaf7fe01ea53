"""The Excel entry template (填报模板) of a unit and month, and reading it back.

The template is the long import format (indicator, org_unit, period, value …) prefilled
with the unit's indicators, names and units; the header and the prefilled columns are
locked (sheet protection), only 数值/分子/分母 are editable. Text cells that a
spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import openpyxl
from openpyxl.styles import Font, PatternFill, Protection
from openpyxl.worksheet.protection import SheetProtection

from hrss.monitoring.periods import Period
from hrss.monitoring.readers import XlsxReader
from hrss.monitoring.values import ImportResult, Problem, validate_rows
from hrss.monitoring.workflow import EntryRow
from hrss.plan.model import OrgUnit, Plan

HEADER = ("指标", "指标名称", "地区", "期间", "计量单位", "数值", "分子", "分母")
EDITABLE_COLUMNS = (6, 7, 8)
SHEET = "填报"


def safe_text(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def build_template(plan: Plan, unit: OrgUnit, period: Period, rows: list[EntryRow]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(HEADER)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    for r in rows:
        ws.append([
            r.indicator.code, safe_text(r.indicator.name), safe_text(unit.name), period.label, r.unit,
            r.value, r.numerator, r.denominator,
        ])
    for row in ws.iter_rows(min_row=2, max_row=ws.max_row):
        for col in EDITABLE_COLUMNS:
            row[col - 1].protection = Protection(locked=False)
    ws.protection = SheetProtection(sheet=True, formatCells=False, formatColumns=False)
    for letter, width in zip("ABCDEFGH", (8, 40, 12, 10, 10, 14, 12, 12), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    ws.sheet_properties.tabColor = "B71C1C"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def read_upload(plan: Plan, unit: OrgUnit, period: Period, path: Path, name: str) -> ImportResult:
    """Validate an uploaded template row by row (cell-level problems); values for this unit
    and month only."""
    filled = ((n, cells) for n, cells in XlsxReader().rows(path)
              if n == 1 or any(c not in (None, "") for c in cells[len(HEADER) - 3 : len(HEADER)]))
    result = validate_rows(plan, filled, name)  # rows left blank in the template are not reported
    for v in result.values:
        if v.org_unit != unit.name or v.period.label != period.label:
            result.problems.append(Problem(
                name, v.row, "org_unit", "error",
                f"模板属于「{v.org_unit} {v.period.label}」，不是「{unit.name} {period.label}」 (template of another unit or month)", "C",
            ))
    return result
