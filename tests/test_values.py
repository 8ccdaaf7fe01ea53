"""Importing reported values: every class of bad input is refused row by row, nothing stored."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from hrss.cli import app
from hrss.db import transaction
from hrss.monitoring.tables import ValueRecord
from hrss.monitoring.values import import_file
from hrss.plan.model import Plan

runner = CliRunner()
HEADER = "indicator,org_unit,period,value\n"


def _count(engine: Engine) -> int:
    with transaction(engine) as s:
        return s.execute(select(func.count()).select_from(ValueRecord)).scalar_one()


def _import(engine: Engine, plan: Plan, path: Path):
    with transaction(engine) as session:  # commits: import_file itself must store nothing on error
        return import_file(session, plan, path)


def _csv(tmp_path: Path, body: str, name: str = "values.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


GOOD = HEADER + "城镇新增就业人数,丰县,2023-06,2300\nI02,徐州市,2023-06,2.1\n"


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("不存在的指标,丰县,2023-06,1", "indicator", "未知指标"),
        ("I01,火星区,2023-06,1", "org_unit", "未知地区"),
        ("I01,主城区,2023-06,1", "org_unit", "汇总口径"),
        ("I01,丰县,2023-13,1", "period", "月份无效"),
        ("I01,丰县,六月,1", "period", "期间格式无效"),
        ("I01,丰县,2023-06,很多", "value", "不是有效数字"),
        ("I01,丰县,2023-06,-5", "value", "不能为负数"),
        ("I02,徐州市,2023-06,120", "value", "0–100"),
        ("I01,丰县,2023-06,1_000", "value", "不是有效数字"),
        ("I01,丰县,2023-06,inf", "value", "不是有效数字"),
        ("I14,徐州市,2024-06,1e305", "value", "数值过大"),
        ("I01,丰县,9999,1", "period", "不在规划基期至期末"),
        ("I01,丰县,1900-01,1", "period", "不在规划基期至期末"),
        ("I01,丰县,2023-06,", "value", "数值为空"),
    ],
)
def test_bad_rows_are_refused_with_row_and_reason(engine: Engine, plan: Plan, tmp_path: Path, row: str, field: str, words: str) -> None:
    path = _csv(tmp_path, GOOD + row + "\n")
    result = _import(engine, plan, path)
    assert result.stored == 0
    [error] = result.errors
    assert (error.row, error.field) == (4, field)  # header is row 1, the bad row is the 4th line
    assert words in error.message
    assert "values.csv 第4行" in str(error)
    assert _count(engine) == 0  # the two good rows were not stored either


def test_duplicate_rows_are_refused(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    result = _import(engine, plan, _csv(tmp_path, GOOD + "I01,丰县,2023-06,2400\n"))
    [error] = result.errors
    assert error.row == 4 and "与第2行重复" in error.message
    assert _count(engine) == 0


def test_missing_columns(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    result = _import(engine, plan, _csv(tmp_path, "indicator,org_unit,value\nI01,丰县,1\n"))
    [error] = result.errors
    assert "缺少必需的列" in error.message and "期间(period)" in error.message


def test_good_file_converts_units_and_warns_on_units_without_target(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    body = HEADER + "城镇新增就业人数,丰县,2023-06,2300\nI02,徐州市,2023-Q2,2.1\nI05,邳州市,2023,1.2\n"
    result = _import(engine, plan, _csv(tmp_path, body))
    assert result.errors == []
    assert result.stored == 3
    [warning] = result.warnings
    assert warning.row == 4 and "没有「开展补贴性职业技能培训人次」的分解目标" in warning.message
    with transaction(engine) as s:
        stored = {r.indicator_code: r for r in s.execute(select(ValueRecord)).scalars()}
    # 附件表1 is in 人: 2300 人 = 0.23 万人, stored in 表2's unit
    assert stored["I01"].value == pytest.approx(0.23)
    assert (stored["I02"].period_type, stored["I02"].period) == ("quarter", "2023-Q2")


def test_explicit_unit_and_rates_with_numerator(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    body = "指标,地区,期间,数值,计量单位,分子,分母\nI01,沛县,2023-06,0.35,万人,,\nI16,徐州市,2023-06,,,72,100\n"
    result = _import(engine, plan, _csv(tmp_path, body))
    assert result.errors == [] and result.stored == 2
    with transaction(engine) as s:
        stored = {r.indicator_code: r for r in s.execute(select(ValueRecord)).scalars()}
    assert stored["I01"].value == pytest.approx(0.35)
    assert (stored["I16"].value, stored["I16"].numerator, stored["I16"].denominator) == (pytest.approx(72.0), 72.0, 100.0)


def test_overlapping_periods_are_refused(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    assert _import(engine, plan, _csv(tmp_path, HEADER + "I01,丰县,2023-Q2,6900\n")).stored == 1
    result = _import(engine, plan, _csv(tmp_path, HEADER + "I01,丰县,2023-05,2300\n", "more.csv"))
    [error] = result.errors
    assert "与已有期间 2023-Q2 重叠" in error.message
    assert _count(engine) == 1


def test_reimport_replaces_the_same_period(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    _import(engine, plan, _csv(tmp_path, HEADER + "I01,丰县,2023-06,2300\n"))
    _import(engine, plan, _csv(tmp_path, HEADER + "I01,丰县,2023-06,2500\n", "fix.csv"))
    with transaction(engine) as s:
        [row] = s.execute(select(ValueRecord)).scalars()
    assert row.value == pytest.approx(0.25)


def test_xlsx_import_and_numeric_text(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["指标", "地区", "期间", "数值"])
    ws.append(["I01", "邳州市", "2024-01", 4000])
    ws.append(["I01", "邳州市", "2024-02", "３,５００"])  # full-width digits and a thousands separator
    ws.append(["I01", "邳州市", "2024-03", "=1+1"])
    path = tmp_path / "values.xlsx"
    wb.save(path)
    result = _import(engine, plan, path)
    [error] = result.errors
    assert (error.row, error.field) == (4, "value")
    ws.delete_rows(4)
    wb.save(path)
    result = _import(engine, plan, path)
    assert result.errors == [] and result.stored == 2


def test_files_that_are_not_workbooks_are_refused(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    fake = tmp_path / "values.xlsx"
    fake.write_bytes(b"not a zip at all")
    [error] = _import(engine, plan, fake).errors
    assert "不是 .xlsx" in error.message
    other = tmp_path / "values.txt"
    other.write_text("x")
    [error] = _import(engine, plan, other).errors
    assert "只接受 .csv 或 .xlsx" in error.message


def test_cli_import_and_evaluate(cli_env: str, tmp_path: Path) -> None:
    bad = _csv(tmp_path, GOOD + "I01,火星区,2023-06,1\n", "bad.csv")
    result = runner.invoke(app, ["actuals", "import", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv 第4行" in result.output and "未写入任何数据" in result.output
    good = _csv(tmp_path, GOOD, "good.csv")
    result = runner.invoke(app, ["actuals", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "导入成功" in result.output
    result = runner.invoke(app, ["evaluate", "--as-of", "2023-06", "--org", "丰县", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    keys = {"indicator", "org_unit", "as_of", "actual", "expected", "target", "completion", "time_elapsed", "status", "progress_measure", "projection"}
    assert all(keys <= set(r) for r in data)
    assert not any(r["simulated"] for r in data)
    i01 = next(r for r in data if r["indicator"] == "城镇新增就业人数")
    # 丰县: 0.23 万人 of 1.15 万人 after 30 of 60 months: completion 0.2, expected 0.575
    assert (i01["org_unit"], i01["as_of"]) == ("丰县", "2023-06")
    assert i01["actual"] == pytest.approx(0.23) and i01["completion"] == pytest.approx(0.2)
    assert i01["expected"] == pytest.approx(0.575) and i01["status"] == "严重滞后"
    result = runner.invoke(app, ["evaluate", "--as-of", "2023-6x"])
    assert result.exit_code != 0


def test_malformed_files_give_a_message_not_a_traceback(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    huge = _csv(tmp_path, HEADER + "I01,丰县,2023-06,\"" + "9" * 200_000 + "\"\n", "huge.csv")
    [error] = _import(engine, plan, huge).errors
    assert "CSV 格式错误" in error.message and "huge.csv 第2行" in error.message
    wb = openpyxl.Workbook()
    wb.active.append(["指标", "地区", "期间", "数值"])
    wb.active.append(["I01", "丰县", "2023-06", 12345])
    plain = tmp_path / "plain.xlsx"
    wb.save(plain)
    path = tmp_path / "big.xlsx"  # the same workbook with a 400-digit number in D2
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<v>12345</v>", b"<v>" + b"9" * 400 + b"</v>")
            dst.writestr(item, data)
    [error] = _import(engine, plan, path).errors
    assert error.row == 2 and error.field == "value"
    assert _count(engine) == 0
