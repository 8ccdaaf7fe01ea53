"""Reporting periods: months (2023-06), quarters (2023-Q2) and years (2023).

A period is the closed range of month indexes [first, last], with
month index = year * 12 + month - 1, so that periods of any type compare and nest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    pass


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True, order=True)
class Period:
    first: int
    last: int
    type: str  # month | quarter | year
    label: str

    @property
    def year(self) -> int:
        return self.first // 12


def parse_period(raw: object) -> Period:
    """Parse '2023-06', '2023-Q2' or '2023' (an Excel date cell counts as its month)."""
    if isinstance(raw, datetime | date):
        return month(raw.year, raw.month)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise PeriodError(f"期间格式无效 (invalid period): {raw!r}")
    text = raw.strip()
    if m := MONTH.match(text):
        y, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12:
            raise PeriodError(f"月份无效 (invalid month): {text}")
        return month(y, mo)
    if m := QUARTER.match(text):
        y, q = int(m.group(1)), int(m.group(2))
        first = month_index(y, 3 * q - 2)
        return Period(first, first + 2, "quarter", f"{y}-Q{q}")
    if m := YEAR.match(text):
        y = int(m.group(1))
        return Period(month_index(y, 1), month_index(y, 12), "year", str(y))
    raise PeriodError(f"期间格式无效，应为 2023-06、2023-Q2 或 2023 (invalid period; use 2023-06, 2023-Q2 or 2023): {text!r}")


def month(year: int, mo: int) -> Period:
    idx = month_index(year, mo)
    return Period(idx, idx, "month", f"{year:04d}-{mo:02d}")


def plan_month(month: int, start_year: int, end_year: int, *, latest: int) -> int:
    """The month to evaluate for an as-of month: itself within the plan period, the plan's
    last month after it (the final results), up to latest (the current month). Earlier than
    the plan's first month or later than latest is refused: nothing is known there, and a
    trend to year 9999 would cost minutes and memory."""
    first, last = month_index(start_year, 1), month_index(end_year, 12)
    ceiling = max(last, latest)
    if not first <= month <= ceiling:
        raise PeriodError(
            f"截至月份须在 {month_label(first)} 至 {month_label(ceiling)} 之间"
            f"（规划期 {start_year}—{end_year} 年；之后的月份显示终期结果）"
            f" (as-of month must be from {month_label(first)} to {month_label(ceiling)}): {month_label(month)}")
    return min(month, last)


def parse_as_of(raw: str) -> int:
    """An as-of month 'YYYY-MM' as a month index."""
    period = parse_period(raw)
    if period.type != "month":
        raise PeriodError(f"截至月份应为 YYYY-MM (as-of must be a month): {raw!r}")
    return period.first
