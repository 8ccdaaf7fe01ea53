"""The main job through the CLI: demo data, then the final evaluation as Word and Excel."""

from __future__ import annotations

from pathlib import Path

import docx
import openpyxl
import pytest
from typer.testing import CliRunner

from hrss.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_demo_then_final_report(cli_env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "模拟数据" in result.output
    result = runner.invoke(app, ["evaluate", "--as-of", "2025-12", "--org", "徐州市"])
    assert result.exit_code == 0 and "【模拟数据 Simulated data】" in result.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", "--kind", "final", "--as-of", "2025-12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [word] = out.glob("*.docx")
    [excel] = out.glob("*.xlsx")
    assert str(word.resolve()) in result.output and str(excel.resolve()) in result.output
    text = "\n".join(p.text for p in docx.Document(str(word)).paragraphs)
    assert "终期评估" in text and "模拟数据" in text
    wb = openpyxl.load_workbook(excel, read_only=True)
    assert "总体情况" in wb.sheetnames
    wb.close()


def test_report_refuses_bad_arguments(cli_env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--kind", "weekly", "--as-of", "2025-12", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "monthly" in result.output
    result = runner.invoke(app, ["report", "--kind", "final", "--as-of", "2019-12", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert list(tmp_path.glob("*.docx")) == []
