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

from hrss.cells import safe_cell
from hrss.monitoring.periods import Period
from hrss.monitoring.readers import TEMPLATE_LIMITS, XlsxReader
from hrss.monitoring.values import ImportResult, Problem, validate_rows
from hrss.monitoring.workflow import EntryRow
from hrss.plan.model import OrgUnit, Plan

HEADER = ("指标", "指标名称", "地区", "期间", "计量单位", "数值", "分子", "分母")
EDITABLE_COLUMNS = (6, 7, 8)
SHEET = "填报"


def safe_text(value: str) -> str:
    return str(safe_cell(value))  # hrss.cells: the one formula rule of every export


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


SPARE_ROWS = 100  # blank or formatted rows a spreadsheet program may add below the template's


def read_upload(plan: Plan, unit: OrgUnit, period: Period, path: Path, name: str, *, rows: int) -> ImportResult:
    """Validate an uploaded template row by row (cell-level problems); values for this unit
    and month only. rows is the template's number of indicator rows: a sheet with far more
    is refused before it is read, and reading stops at the template limits' time budget."""
    limits = TEMPLATE_LIMITS.for_template(rows=1 + rows + SPARE_ROWS, cols=len(HEADER) + 4)
    filled = ((n, cells) for n, cells in XlsxReader(limits).rows(path, name)
              if n == 1 or any(c not in (None, "") for c in cells[len(HEADER) - 3 : len(HEADER)]))
    result = validate_rows(plan, filled, name)  # rows left blank in the template are not reported
    for v in result.values:
        if v.org_unit != unit.name:
            result.add(Problem(
                name, v.row, "org_unit", "error",
                f"该行地区为「{v.org_unit}」，本页填报的是「{unit.name}」：请下载本单位的模板 (row of another unit)", "C",
            ))
        if v.period.label != period.label:
            result.add(Problem(
                name, v.row, "period", "error",
                f"该行期间为「{v.period.label}」，本页填报的是「{period.label}」：请下载本月的模板 (row of another month)", "D",
            ))
    return result
