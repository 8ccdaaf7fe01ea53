"""The main job through the CLI: demo data, then the final evaluation as Word and Excel."""

from __future__ import annotations

import getpass
from pathlib import Path

import docx
import openpyxl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hrss.audit.tables import AuditEvent
from hrss.cli import app
from hrss.db import make_engine, session_factory

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
    # the summary opens with the binding target not met: 失业保险参保人数 99.64 of 100 万人
    opening = text[text.index("一、总体情况"):][:400]
    assert "约束性指标中" in opening and "失业保险参保人数" in opening and "未完成" in opening
    assert "符合序时" not in text and "超序时" not in text
    wb = openpyxl.load_workbook(excel, read_only=True)
    assert "总体情况" in wb.sheetnames
    wb.close()
    # both writes are audit events of the command line, as the web's are
    assert _actions(cli_env) == ["demo.loaded", "report.generated"]
    show = runner.invoke(app, ["audit", "show"])
    assert "载入模拟数据 demo.loaded" in show.output and "生成报告 report.generated" in show.output
    assert f"cli:{getpass.getuser()}" in show.output and word.name in show.output
    assert "审计链校验通过 (audit chain verified): 2 条" in runner.invoke(app, ["audit", "verify"]).output


@pytest.mark.slow
def test_after_the_plan_every_status_is_a_verdict(cli_env: str) -> None:
    """2025-12 is the plan's last month: 已完成 / 基本完成 / 未完成, or 达标 / 未达标 for a bound."""
    import json

    assert runner.invoke(app, ["demo"]).exit_code == 0
    for as_of in ("2025-12", "2026-11"):
        result = runner.invoke(app, ["evaluate", "--as-of", as_of, "--format", "json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)
        assert {r["status"] for r in rows} <= {"已完成", "基本完成", "未完成", "达标", "未达标", "无数据"}
        city = {r["indicator"]: r for r in rows if r["org_unit"] == "徐州市"}
        # binding, 99.6433 of 100 万人 = 99.64 %: no 基本完成 band for a 约束性 target
        unemployment = city["失业保险参保人数"]
        assert unemployment["attribute"] == "binding" and unemployment["actual"] == pytest.approx(99.6433, abs=1e-4)
        assert (unemployment["status"], unemployment["color"], unemployment["escalate"]) == ("未完成", "red", True)
        assert all(r["as_of"] == "2025-12" for r in rows)
        bounds = [r for r in rows if r["compliance"] is not None]
        assert bounds and all(r["completion"] is None and r["expected_completion"] is None for r in bounds)


def test_report_refuses_bad_arguments(cli_env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--kind", "weekly", "--as-of", "2025-12", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "monthly" in result.output
    result = runner.invoke(app, ["report", "--kind", "final", "--as-of", "2019-12", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert list(tmp_path.glob("*.docx")) == []
    assert _actions(cli_env) == []  # nothing written, nothing recorded


def _actions(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    finally:
        engine.dispose()


def test_cli_page_is_current() -> None:
    from pathlib import Path

    from hrss.cli_reference import cli_markdown

    page = Path(__file__).resolve().parents[1] / "docs" / "CLI.md"
    assert page.read_text(encoding="utf-8") == cli_markdown(), "run: python -m hrss.cli_reference > docs/CLI.md"
    for command in ("hrss db restore", "hrss user reset-mfa", "hrss stats export", "hrss report"):
        assert f"### `{command}`" in page.read_text(encoding="utf-8")
