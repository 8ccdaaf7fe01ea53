"""Ledger export (台账导出): masked by default; full personal data only in a privileged export.

`export_ledger` writes one ledger as CSV (UTF-8 with BOM, so Excel opens Chinese text)
with DuckDB's COPY. Personal columns are masked in SQL exactly as
`hrss.ledgers.masking` masks them for display: ID numbers 320382********0019, phones
138****1234, persons' names 张**. `privileged=True` writes them in full; the caller
records that in the audit trail (the CLI does, in the same transaction as nothing
else: the export itself changes no data). In both modes every text cell that a
spreadsheet would run as a formula is neutralised (`hrss.cells.safe_cell_sql`, the rule of
every export); numeric columns stay numbers.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hrss.cells import safe_cell_sql
from hrss.ledgers.schema import LEDGERS

# (ledger, column) → how it is masked. Enterprise names are not personal data.
PERSONAL: dict[tuple[str, str], str] = {("persons", "name"): "name", ("persons", "phone"): "phone"}
ID_COLUMNS = ("id_number",)


class ExportError(ValueError):
    pass


def _mask_sql(col: str, how: str) -> str:
    c = f'CAST("{col}" AS VARCHAR)'
    if how == "id":
        return (f"CASE WHEN {c} IS NULL THEN NULL WHEN length({c}) = 18 THEN substr({c}, 1, 6) || '********' || substr({c}, 15, 4) "
                f"WHEN length({c}) <= 4 THEN repeat('*', length({c})) "
                f"ELSE substr({c}, 1, 2) || repeat('*', length({c}) - 4) || substr({c}, length({c}) - 1, 2) END")  # fmt: skip
    if how == "phone":
        return (f"CASE WHEN {c} IS NULL THEN NULL WHEN length({c}) <= 7 THEN repeat('*', length({c})) "
                f"ELSE substr({c}, 1, 3) || repeat('*', length({c}) - 7) || substr({c}, length({c}) - 3, 4) END")  # fmt: skip
    return f"CASE WHEN {c} IS NULL THEN NULL WHEN length({c}) <= 1 THEN repeat('*', length({c})) ELSE substr({c}, 1, 1) || repeat('*', length({c}) - 1) END"


def export_ledger(ledger_dir: Path, name: str, out: Path, *, privileged: bool = False) -> int:
    """Write ledger `name` as CSV to out; returns the number of rows written."""
    if name not in LEDGERS:
        raise ExportError(f"没有台账 {name!r} (unknown ledger); 可选 (choose from): {', '.join(LEDGERS)}")
    source = ledger_dir / f"{name}.parquet"
    if not source.is_file():
        raise ExportError(f"未找到台账文件 (ledger file not found): {source}")
    cols, safe = [], []
    for col in LEDGERS[name].columns:
        how = "id" if col.name in ID_COLUMNS else PERSONAL.get((name, col.name))
        cols.append(f'"{col.name}"' if privileged or how is None else f'{_mask_sql(col.name, how)} AS "{col.name}"')
        # text cells are neutralised after masking (张** of '=HYPERLINK…' still starts with =)
        quoted = f'"{col.name}"'
        safe.append(f"{safe_cell_sql(quoted)} AS {quoted}" if col.type == "VARCHAR" else quoted)
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        path = str(source).replace("'", "''")
        rows = con.execute(f"SELECT COUNT(*) FROM read_parquet('{path}')").fetchone()
        with out.open("wb") as f:
            f.write("\ufeff".encode())
        tmp = out.with_suffix(out.suffix + ".part")
        target = str(tmp).replace("'", "''")
        masked = f"SELECT {', '.join(cols)} FROM read_parquet('{path}')"
        con.execute(f"COPY (SELECT {', '.join(safe)} FROM ({masked})) TO '{target}' (HEADER, DELIMITER ',')")
        with out.open("ab") as f, tmp.open("rb") as part:
            while chunk := part.read(1 << 20):
                f.write(chunk)
        tmp.unlink()
    finally:
        con.close()
    return int(rows[0]) if rows else 0
