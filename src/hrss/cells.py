"""Cells safe for spreadsheets: no exported text is ever run as a formula (OWASP CSV injection).

One rule for every export (the Word/Excel reports, the entry template, the per-indicator
CSV of the API, `hrss stats export`): a text cell that starts with = + - @, a tab or a
carriage return gets a leading ' (the spreadsheet then shows it as text and runs
nothing). `safe_cell` applies it to a Python value; `safe_cell_sql` is the same rule as a
DuckDB expression, for exports written by COPY.

Decisions:
- Numbers (int, float, a DOUBLE column) are not text and stay numbers, negative or not.
- A text cell that is exactly a negative decimal number ("-5", "-3.25") is kept as it is:
  a spreadsheet reads it as that number, it cannot run anything, and the API writes its
  figures as text (no float noise), so prefixing would turn every negative figure into
  text. Anything else starting with '-' ("-5+1", "-A1", "-") is prefixed.
- Characters a spreadsheet cannot store (control characters but tab, newline, CR) are
  dropped by `safe_cell` (openpyxl refuses them); the SQL form leaves them (CSV keeps them).
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A negative decimal number written as text: read as a number, never as a formula.
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")
NEGATIVE_NUMBER_SQL = r"^-[0-9]+(\.[0-9]+)?$"
# What openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE refuses (kept here: no openpyxl import).
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def safe_cell(value: Any) -> Any:
    """A value safe to write: text that a spreadsheet would run as a formula gets a leading '."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS.sub("", value)
    if value.startswith(FORMULA_TRIGGERS) and not _NEGATIVE_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_cell_sql(expr: str) -> str:
    """`safe_cell` as a DuckDB expression over the VARCHAR expression expr (NULL stays NULL)."""
    starts = " OR ".join(f"starts_with({expr}, {_sql_literal(t)})" for t in FORMULA_TRIGGERS)
    return (f"CASE WHEN ({starts}) AND NOT regexp_matches({expr}, '{NEGATIVE_NUMBER_SQL}') "
            f"THEN '''' || {expr} ELSE {expr} END")


def _sql_literal(text: str) -> str:
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return f"chr({ord(text)})"
