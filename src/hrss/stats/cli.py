"""`hrss stats compute | reconcile | export | rejects`: indicators from the ledgers, 数据会审 against reports.

Every command that writes (compute, export, rejects) records an audit event (actor cli:<OS user>).

Registered on the `stats` group next to `hrss stats quality` (hrss.ledgers.cli).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hrss.ledgers.cli import stats_app

out = Console()
err = Console(stderr=True)


class EngineName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class Format(StrEnum):
    table = "table"
    json = "json"


def _month(raw: str, option: str) -> int:
    from hrss.monitoring.periods import PeriodError, parse_as_of

    try:
        return parse_as_of(raw)
    except PeriodError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc


def _root(ctx: typer.Context) -> Any:
    return ctx.find_root().obj  # hrss.cli.Context


@stats_app.command("compute")
def compute_cmd(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="截至月份 YYYY-MM (last month computed)")],
    engine: Annotated[EngineName, typer.Option(help="duckdb (默认, embedded) | spark (local mode)")] = EngineName.duckdb,
    since: Annotated[str | None, typer.Option("--since", help="只重算自该月起 YYYY-MM (incremental: months since)")] = None,
    folder: Annotated[Path | None, typer.Option("--dir", help="Ledger folder; default: HRSS_LEDGER_DIR.")] = None,
    threads: Annotated[int | None, typer.Option(help="Engine threads; default: DuckDB all cores, Spark 2.")] = None,
    definitions_file: Annotated[
        Path | None, typer.Option("--definitions", help="统计口径文件 (definitions YAML); default: the shipped one.")
    ] = None,
) -> None:
    """实名制自动统计 (compute every defined indicator by org unit and month into the values store; audited)."""
    from hrss.audit.service import record_from
    from hrss.auth.cli import cli_origin
    from hrss.db import session_factory
    from hrss.monitoring.periods import month_label
    from hrss.stats.compute import ComputeError, compute
    from hrss.stats.definitions import DefinitionError, load_definitions
    from hrss.stats.engines import make_engine
    from hrss.stats.service import store_computed

    last = _month(as_of, "--as-of")
    first = _month(since, "--since") if since else None
    c = _root(ctx)
    plan = c.ready()
    ledger_dir = folder or c.settings.ledger_dir
    try:
        definitions = load_definitions(plan, definitions_file)
        eng = make_engine(engine.value, threads=threads)
    except (DefinitionError, ValueError, ImportError) as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    try:
        with out.status("计算中 (computing)…") as status:
            result = compute(
                plan, definitions, ledger_dir, eng, last, since=first,
                progress=lambda code: status.update(f"计算中 (computing) {code}…"),
            )  # fmt: skip
    except ComputeError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    finally:
        eng.close()
    with session_factory(c.engine)() as session, session.begin():
        stored = store_computed(session, plan, result)
        record_from(
            session, cli_origin(), action="stats.computed", object_type="computed_values", object_id=plan.id,
            after={
                "first": month_label(result.first), "last": month_label(result.last), "engine": result.engine,
                "indicators": len(result.indicators), "stored": stored, "incremental": result.incremental,
                "skipped": sorted(result.skipped), "ledger_dir": str(ledger_dir),
            },
        )  # fmt: skip
    table = Table("台账 (ledger)", "记录 (rows)", "采用 (used)", "剔除 (excluded)", title=f"{ledger_dir}")
    for name, (rows, used) in result.rows.items():
        table.add_row(name, f"{rows:,}", f"{used:,}", f"{rows - used:,}")
    out.print(table)
    out.print(
        f"已计算 (computed) {len(result.indicators)} 项指标 {month_label(result.first)}..{month_label(result.last)}, "
        f"写入 (stored) {stored:,} 条 (source=computed), 引擎 (engine) {result.engine}, {result.seconds:.1f} s"
    )
    if first is not None:
        out.print(
            "增量计算：历史取自上次计算保存的状态 (incremental: history from the kept state)"
            if result.incremental
            else "增量计算：无可用的保存状态，已重读历史 (incremental: no usable kept state, history re-read)"
        )
    if result.sampled:
        shares = ", ".join(f"{name} {f * 100:.3g}%" for name, f in result.sampled.items())
        out.print(f"样本推算：台账为全市记录的抽样，计数已按抽样比例放大 (estimated from a sample: counts scaled up by "
                  f"each ledger's sampling fraction): {shares}", highlight=False)  # fmt: skip
    if result.no_rate:
        out.print(f"分母为零、无比率的单位月份 (unit-months without a rate: zero denominator): {result.no_rate:,}")
    for code, why in result.skipped.items():
        out.print(f"[yellow]未计算 (skipped) {code}: {why}[/yellow]")
    out.print("剔除明细见 `hrss stats rejects`，问题汇总见 `hrss stats quality` (row-level reasons: hrss stats rejects)")


@stats_app.command("reconcile")
def reconcile_cmd(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="截至月份 YYYY-MM (as-of month)")],
    fmt: Annotated[Format, typer.Option("--format", help="table | json")] = Format.table,
    only_flagged: Annotated[bool, typer.Option("--flagged", help="只列超出容差的 (only differences beyond tolerance)")] = False,
) -> None:
    """数据会审 (reported vs computed values per indicator and org unit, flagging differences)."""
    from hrss.db import session_factory
    from hrss.stats.definitions import load_definitions
    from hrss.stats.service import computed_from_sample, reconcile

    month = _month(as_of, "--as-of")
    c = _root(ctx)
    plan = c.ready()
    with session_factory(c.engine)() as session:
        rows = reconcile(
            session, plan, load_definitions(plan), month,
            tolerance=c.settings.reconcile_tolerance, tolerance_pp=c.settings.reconcile_tolerance_pp,
        )  # fmt: skip
        sampled = computed_from_sample(session, plan)
    if only_flagged:
        rows = [r for r in rows if r.flagged]
    if fmt is Format.json:
        sys.stdout.write(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(
        "指标", "地区", "单位", "口径期", "填报 (reported)", "实名制 (computed)", "差异 (diff)", "差异率", "超差",
        title=f"数据会审 截至 {as_of} (reconciliation)",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            f"{r.indicator} {r.name}", r.org_unit, r.unit, r.basis, _n(r.reported), _n(r.computed), _n(r.difference),
            f"{r.relative:+.1%}" if r.relative is not None else "-", "[red]是[/red]" if r.flagged else "",
        )  # fmt: skip
    out.print(table)
    flagged = sum(r.flagged for r in rows)
    out.print(
        f"超出容差 (beyond tolerance): {flagged} / {len(rows)}；容差 (tolerance) "
        f"{c.settings.reconcile_tolerance:.0%} / {c.settings.reconcile_tolerance_pp:g} 个百分点"
    )
    if sampled:
        out.print("实名制计算值为样本推算 (computed values are estimated from a sample of the ledgers)")


def _n(v: float | None) -> str:
    return "-" if v is None else f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"


@stats_app.command("export")
def export_cmd(
    ctx: typer.Context,
    ledger: Annotated[str, typer.Option("--ledger", help="台账名称 (ledger name, e.g. persons)")],
    out_file: Annotated[Path, typer.Option("--out", help="输出 CSV 文件 (output CSV file)")],
    privileged: Annotated[
        bool, typer.Option("--privileged", help="导出完整个人信息（须说明理由，记入审计日志） (full personal data, audited)")
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="特权导出理由 (reason for a privileged export)")] = "",
    folder: Annotated[Path | None, typer.Option("--dir", help="Ledger folder; default: HRSS_LEDGER_DIR.")] = None,
) -> None:
    """导出台账 (export a ledger as CSV: personal data masked unless --privileged; every export is audited)."""
    from hrss.audit.service import record_from
    from hrss.auth.cli import cli_origin
    from hrss.db import session_factory
    from hrss.ledgers.export import ExportError, export_ledger

    if privileged and len(reason.strip()) < 4:
        raise typer.BadParameter("特权导出须说明理由 (a privileged export needs --reason)", param_hint="--reason")
    c = _root(ctx)
    c.ready()
    ledger_dir = folder or c.settings.ledger_dir
    # The audit row is written first and committed only if the file was written.
    with session_factory(c.engine)() as session, session.begin():
        try:
            rows = export_ledger(ledger_dir, ledger, out_file, privileged=privileged)
        except ExportError as exc:
            err.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(1) from exc
        record_from(
            session, cli_origin(), action="ledger.export.privileged" if privileged else "ledger.export",
            object_type="ledger", object_id=ledger,
            after={"rows": rows, "file": out_file.name, "masked": not privileged, **({"reason": reason} if privileged else {})},
        )  # fmt: skip
    kind = "完整个人信息 (full personal data), 已记入审计日志 (audited)" if privileged else "个人信息已脱敏 (masked)"
    out.print(f"已导出 (exported) {rows:,} 行 → {out_file} ({kind})")


@stats_app.command("rejects")
def rejects_cmd(
    ctx: typer.Context,
    out_file: Annotated[Path | None, typer.Option("--out", help="剔除记录表 Parquet; default: <ledger dir>/_rejects.parquet")] = None,
    folder: Annotated[Path | None, typer.Option("--dir", help="Ledger folder; default: HRSS_LEDGER_DIR.")] = None,
) -> None:
    """剔除记录表 (every ledger row the computation leaves out, with the reason; ID numbers masked; audited)."""
    from hrss.audit.service import record_from
    from hrss.auth.cli import cli_origin
    from hrss.db import session_factory
    from hrss.stats.rejects import REASONS, write_rejects

    c = _root(ctx)
    plan = c.ready()
    ledger_dir = folder or c.settings.ledger_dir
    if not (ledger_dir / "persons.parquet").is_file():
        err.print(f"[red]{ledger_dir}: 缺少人员基础信息库 persons.parquet (the person register is missing)[/red]", highlight=False)
        raise typer.Exit(1)
    target = out_file or ledger_dir / "_rejects.parquet"
    summary = write_rejects(plan, ledger_dir, target)
    with session_factory(c.engine)() as session, session.begin():  # a file of person rows: traceable
        record_from(session, cli_origin(), action="stats.rejects_written", object_type="rejects", object_id=target.name[:64],
                    after={"file": str(target), "rows": sum(s.count for s in summary)})
    table = Table("台账 (ledger)", "原因 (reason)", "行数 (rows)", title=f"剔除记录 (rejects) → {target}")
    for s in summary:
        table.add_row(s.ledger, REASONS[s.reason], f"{s.count:,}")
    out.print(table)
    out.print(f"合计 (total): {sum(s.count for s in summary):,}")
