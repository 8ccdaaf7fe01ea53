"""Ledger export: masked by default, full values only in a privileged export, every export audited."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hrss.audit.tables import AuditEvent
from hrss.cells import FORMULA_TRIGGERS, safe_cell, safe_cell_sql
from hrss.cli import app
from hrss.db import make_engine, session_factory
from hrss.ledgers.export import ExportError, export_ledger
from hrss.ledgers.masking import mask_id, mask_name, mask_phone
from hrss.ledgers.schema import LEDGERS, arrow_schema

ROWS = [
    {"person_id": 1, "id_number": "320382198001010019", "name": "王小明", "sex": "M", "birth_date": date(1980, 1, 1),
     "hukou_unit": "320382", "residence_unit": "320382", "education": "本科", "phone": "13812341234"},
    {"person_id": 2, "id_number": "3.20382198001011e+17", "name": "李", "sex": "F", "birth_date": None,
     "hukou_unit": None, "residence_unit": "320302", "education": None, "phone": None},
    {"person_id": 3, "id_number": "1234", "name": "欧阳娜娜", "sex": "F", "birth_date": None,
     "hukou_unit": None, "residence_unit": "320302", "education": None, "phone": "1381234"},
]  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(ROWS, schema=arrow_schema(LEDGERS["persons"])), tmp_path / "persons.parquet")
    return tmp_path


def read(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 with a BOM
    return list(csv.DictReader(text[1:].splitlines()))


def test_masked_export_masks_like_the_display(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "persons.csv"
    assert export_ledger(folder, "persons", out) == 3
    rows = read(out)
    # The SQL masks agree with the Python ones used on screen, row by row.
    assert [r["id_number"] for r in rows] == [mask_id(r["id_number"]) for r in ROWS]
    assert [r["phone"] for r in rows] == [mask_phone(r["phone"]) if r["phone"] else "" for r in ROWS]
    assert [r["name"] for r in rows] == [mask_name(r["name"]) for r in ROWS]
    assert rows[0]["id_number"] == "320382********0019"
    assert rows[0]["phone"] == "138****1234"
    assert rows[0]["name"] == "王**"
    assert rows[2]["phone"] == "*******"  # 7 digits or fewer: all masked
    assert "198001010019" not in out.read_text(encoding="utf-8")


def test_privileged_export_is_complete(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.csv"
    export_ledger(folder, "persons", out, privileged=True)
    rows = read(out)
    assert rows[0]["id_number"] == "320382198001010019"
    assert rows[0]["name"] == "王小明"


def test_unknown_ledger(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="没有台账"):
        export_ledger(folder, "secrets", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="未找到台账文件"):
        export_ledger(folder, "training", tmp_path / "x.csv")


def test_cli_audits_every_export(cli_env: str, folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["stats", "export", "--ledger", "persons", "--dir", str(folder)]
    masked = runner.invoke(app, [*base, "--out", str(tmp_path / "m.csv")])
    assert masked.exit_code == 0, masked.output
    refused = runner.invoke(app, [*base, "--out", str(tmp_path / "f.csv"), "--privileged"])
    assert refused.exit_code == 2 and "理由" in refused.output
    assert not (tmp_path / "f.csv").exists()
    full = runner.invoke(app, [*base, "--out", str(tmp_path / "f.csv"), "--privileged", "--reason", "劳动监察协查 2026-118"])
    assert full.exit_code == 0, full.output
    engine = make_engine(cli_env)
    try:
        with session_factory(engine)() as session:
            events = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "ledger").order_by(AuditEvent.id)).all()
    finally:
        engine.dispose()
    assert [e.action for e in events] == ["ledger.export", "ledger.export.privileged"]
    assert '"reason": "劳动监察协查 2026-118"' in (events[1].after or "")
    assert '"rows": 3' in (events[0].after or "")


FORMULAS = ['=HYPERLINK("http://x","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-1+1", "\t=1"]


@pytest.mark.parametrize("privileged", [False, True])
def test_export_neutralises_formulas(tmp_path: Path, privileged: bool) -> None:
    """Text cells that a spreadsheet would run are prefixed with ', masked or not; numbers stay numbers."""
    rows = [{**ROWS[0], "person_id": n, "name": f, "education": f, "phone": f} for n, f in enumerate(FORMULAS, 1)]
    rows.append({**ROWS[0], "person_id": -5, "education": "-5"})  # a negative number, and one as text
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(LEDGERS["persons"])), tmp_path / "persons.parquet")
    out = tmp_path / "out.csv"
    export_ledger(tmp_path, "persons", out, privileged=privileged)
    got = read(out)
    for row, formula in zip(got, FORMULAS, strict=False):
        assert row["education"] == "'" + formula  # not personal: written in full, neutralised
        assert not any(cell.startswith(FORMULA_TRIGGERS) for cell in row.values()), row  # masked (=*** …) or full
        if privileged:
            assert row["name"] == "'" + formula
    assert got[-1]["person_id"] == "-5" and got[-1]["education"] == "-5"
    assert got[-1]["hukou_unit"] == "320382"


def test_the_sql_rule_is_the_python_rule() -> None:
    cases = [*FORMULAS, "-5", "-3.25", "-", "- 5", "-5\n", "\r=1", "abc", "", "王**", "5", "'=1", "＝1"]
    con = duckdb.connect()
    try:
        for case in cases:
            got = con.execute(f"SELECT {safe_cell_sql('x')} FROM (SELECT ?::VARCHAR AS x)", [case]).fetchone()
            assert got == (safe_cell(case),), case
        assert con.execute(f"SELECT {safe_cell_sql('x')} FROM (SELECT NULL::VARCHAR AS x)").fetchone() == (None,)
    finally:
        con.close()
