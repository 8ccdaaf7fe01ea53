"""`hrss synth`: write synthetic real-name ledgers (Parquet)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

synth_app = typer.Typer(help="实名制台账 (real-name ledgers).", no_args_is_help=True)


class ScaleName(StrEnum):
    small = "small"
    city = "city"
    province = "province"


@synth_app.command("synth")
def synth(
    scale: Annotated[ScaleName, typer.Option(help="small (40k persons), city (10M), province.")] = ScaleName.small,
    out: Annotated[Path | None, typer.Option(help="Output folder; default: HRSS_LEDGER_DIR.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 0,
    dirt_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of rows made dirty on purpose.")] = 0.02,
) -> None:
    """生成模拟实名制台账 (write synthetic ledgers as Parquet, with a dirt manifest)."""
    from hrss.ledgers.synth import generate
    from hrss.settings import Settings

    out_dir = out or Settings().ledger_dir
    console = Console()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as progress:  # fmt: skip
        tasks: dict[str, int] = {}

        def tick(ledger: str, rows: int, expected: int) -> None:
            if ledger not in tasks:
                tasks[ledger] = progress.add_task(ledger, total=expected)
            progress.advance(tasks[ledger], rows)

        counts = generate(out_dir, scale.value, seed=seed, dirt_rate=dirt_rate, progress=tick)
    table = Table("ledger", "rows", title=f"{out_dir}")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)


class QualityFormat(StrEnum):
    table = "table"
    json = "json"


stats_app = typer.Typer(help="实名制自动统计 (statistics over the real-name ledgers).", no_args_is_help=True)


@stats_app.command("quality")
def quality(
    folder: Annotated[Path | None, typer.Option("--dir", help="Ledger folder; default: HRSS_LEDGER_DIR.")] = None,
    fmt: Annotated[QualityFormat, typer.Option("--format", help="table | json.")] = QualityFormat.table,
) -> None:
    """台账数据质量报告 (data quality report: invalid IDs, duplicates, orphans, dates; masked examples)."""
    from hrss.ledgers.quality import CHECKS, quality_report
    from hrss.settings import Settings

    ledger_dir = folder or Settings().ledger_dir
    report = quality_report(ledger_dir)
    if fmt is QualityFormat.json:
        typer.echo(report.as_json())
        return
    console = Console()
    if not report.ledgers:
        console.print(f"未找到台账文件 (no ledger files found in {ledger_dir})")
        return
    table = Table(
        "台账 (ledger)", "经办地 (org unit)", "检查项 (check)", "数量 (count)", "示例 (masked examples)",
        title=f"数据质量报告 (data quality report): {ledger_dir}",
    )  # fmt: skip
    for row in report.rows:
        table.add_row(row.ledger, row.org_unit, CHECKS[row.check], f"{row.count:,}", ", ".join(row.examples))
    console.print(table)
    totals = Table("检查项 (check)", "合计 (total)", title="合计 (totals)")
    for check, n in report.totals.items():
        totals.add_row(CHECKS[check], f"{n:,}")
    console.print(totals)
    console.print(f"问题总数 (problems): {report.problems:,}")
