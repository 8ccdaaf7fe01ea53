"""The `hrss` command line. Thin: each command calls plain functions of a capability."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine

from hrss.audit.cli import audit_app
from hrss.auth.cli import user_app
from hrss.ledgers.cli import synth_app
from hrss.ops.cli import db_backup, db_check, db_restore
from hrss.settings import Settings
from hrss.stats.cli import stats_app  # stats quality | compute | reconcile

app = typer.Typer(help="HRSS 人社规划监测评估平台 (plan monitoring and evaluation).", no_args_is_help=True)
plan_app = typer.Typer(help="规划数据 (the plan as data).", no_args_is_help=True)
db_app = typer.Typer(help="数据库 (the transactional store).", no_args_is_help=True)
actuals_app = typer.Typer(help="实际值 (reported values).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")
app.add_typer(actuals_app, name="actuals")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(synth_app)  # hrss synth --scale small|city|province
app.add_typer(stats_app, name="stats")  # hrss stats quality

out = Console()
err = Console(stderr=True)


@dataclass
class Context:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from hrss.db import make_engine

            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def ready(self) -> Any:
        """Migrate the store and load the plan on first use; return the plan."""
        from hrss.plan.store import prepare_store

        return prepare_store(self.engine, self.settings.plan_file)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Build the settings once per invocation; release the engine when the command ends."""
    context = Context(Settings())
    ctx.obj = context
    ctx.call_on_close(context.close)


def _ctx(ctx: typer.Context) -> Context:
    return ctx.find_root().obj


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(code)


def _audit(session: Any, action: str, object_type: str, object_id: str | int | None, after: dict[str, Any]) -> None:
    """Record a command's change as an audit event in its transaction; the actor is the
    command line and the OS user ('cli:<user>', 命令行), as for `hrss user …`."""
    from hrss.audit.service import record_from
    from hrss.auth.cli import cli_origin

    record_from(session, cli_origin(), action=action, object_type=object_type, object_id=object_id, after=after)


def _refuse_demo_in_production(settings: Settings) -> None:
    if settings.environment == "production":
        _fail("生产模式下不能载入模拟数据或演示账户 (no simulated data or demo accounts in production)", code=2)


def _as_of(raw: str) -> int:
    from hrss.monitoring.periods import PeriodError, parse_as_of

    try:
        return parse_as_of(raw)
    except PeriodError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _plan_month(month: int, plan: Any) -> int:
    """month within the plan period, or its last month after it; refused outside (see periods.plan_month)."""
    from hrss.monitoring.periods import PeriodError
    from hrss.monitoring.service import evaluation_month

    try:
        return evaluation_month(plan, month)
    except PeriodError as exc:
        raise typer.BadParameter(str(exc), param_hint="--as-of") from exc


# --- db --------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """创建或迁移数据库并载入规划 (create or migrate the store, load the plan)."""
    plan = _ctx(ctx).ready()
    out.print(f"数据库已就绪 (store ready): {plan.title} [{plan.id}]")



db_app.command("backup")(db_backup)  # hrss db backup --out FILE (hrss.ops.cli)
db_app.command("restore")(db_restore)  # hrss db restore FILE
db_app.command("check")(db_check)  # hrss db check FILE: checksums, newest audit event is the store's


# --- plan ------------------------------------------------------------------------


@plan_app.command("show")
def plan_show(ctx: typer.Context) -> None:
    """列出表2主要指标 (list the key indicators)."""
    from hrss.plan.model import ATTRIBUTE_LABELS, TARGET_KIND_LABELS

    plan = _ctx(ctx).ready()
    table = Table(title=f"{plan.title} ({plan.document})")
    for col in ("代码", "指标", "单位", f"{plan.baseline_year}年基数", "目标", "目标类型", "属性", "口径"):
        table.add_column(col)
    for i in plan.indicators:
        table.add_row(i.code, i.name, i.unit, i.baseline_raw or "-", i.target_raw or f"{i.target:g}",
                      TARGET_KIND_LABELS[i.kind], ATTRIBUTE_LABELS[i.attribute], i.note)
    out.print(table)
    out.print(f"附件分解表 {len(plan.decompositions)} 张, 任务台账 {len(plan.commitments)} 项, 组织单位 {len(plan.org_units)} 个")


@plan_app.command("check")
def plan_check(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option("--file", help="规划文件；默认检查数据库中的规划 (plan file; default: the stored plan)")] = None,
) -> None:
    """核对规划自身一致性 (check the plan against itself); exits 1 on any discrepancy."""
    from hrss.plan.check import check_plan
    from hrss.plan.planfile import PlanFileError, load_plan

    try:
        plan = load_plan(file) if file else _ctx(ctx).ready()
    except PlanFileError as exc:
        _fail(str(exc))
    problems = check_plan(plan)
    for p in problems:
        err.print(str(p), highlight=False)
    if problems:
        _fail(f"发现 {len(problems)} 处不一致 (discrepancies found)")
    out.print(f"规划核对通过 (plan check passed): {len(plan.decompositions)} 张分解表, {len(plan.indicators)} 个指标")


@plan_app.command("export")
def plan_export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="json")] = "json",
) -> None:
    """导出规划 (export the plan as one JSON object)."""
    from hrss.plan.export import export_plan

    if format != "json":
        raise typer.BadParameter("只支持 json (only json is supported)", param_hint="--format")
    sys.stdout.write(json.dumps(export_plan(_ctx(ctx).ready()), ensure_ascii=False, indent=2) + "\n")


@plan_app.command("import-text")
def plan_import_text(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="规划文本 (plan document as text)", exists=True, dir_okay=False)],
    org_units: Annotated[Path | None, typer.Option(help="组织单位文件 (org-unit file); default: the shipped Xuzhou one")] = None,
    commitments: Annotated[Path | None, typer.Option(help="任务台账文件 (curated commitments file)")] = None,
    names_en: Annotated[Path | None, typer.Option("--names-en", help="英文名称文件 (English names: code: name)")] = None,
    plan_id: Annotated[str | None, typer.Option("--id", help="规划标识 (plan id)")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="输出的规划文件 (plan file to write)")] = Path("plan.yaml"),
    load: Annotated[bool, typer.Option(help="同时载入数据库 (also load it into the store)")] = False,
) -> None:
    """从规划文本提取表格，生成规划文件 (extract the tables of a plan document)."""
    from hrss.plan.check import check_plan
    from hrss.plan.planfile import (
        dump_plan,
        load_commitments,
        load_english_names,
        load_org_units,
        shipped_dir,
    )
    from hrss.plan.textparse import PlanTextError, parse_plan_text

    units = load_org_units(org_units or shipped_dir() / "org_units.yaml")
    promised = load_commitments(commitments) if commitments else []
    try:
        plan = parse_plan_text(file.read_text(encoding="utf-8"), org_units=units, commitments=promised, plan_id=plan_id,
                               names_en=load_english_names(names_en) if names_en else None)
    except PlanTextError as exc:
        _fail(f"{file}: {exc}")
    out_file.write_text(dump_plan(plan), encoding="utf-8")
    out.print(f"已写入规划文件 (plan file written): {out_file} — {len(plan.indicators)} 个指标, "
              f"{len(plan.history)} 行历史, {len(plan.decompositions)} 张分解表, {len(plan.commitments)} 项任务")
    for p in check_plan(plan):
        err.print(f"[yellow]注意 (note): {p}[/yellow]", highlight=False)
    if load:
        from hrss.db import transaction, upgrade
        from hrss.plan.store import save_plan

        c = _ctx(ctx)
        upgrade(c.engine)
        with transaction(c.engine) as session:
            save_plan(session, plan)
            _audit(session, "plan.loaded", "plan", plan.id, {
                "file": file.name, "title": plan.title, "indicators": len(plan.indicators),
                "decompositions": len(plan.decompositions), "commitments": len(plan.commitments)})
        out.print(f"已载入数据库 (loaded): {plan.id}")


# --- actuals ---------------------------------------------------------------------


@actuals_app.command("import")
def actuals_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV 或 XLSX 长表 (long format)", exists=True, dir_okay=False)],
) -> None:
    """导入实际值，全部通过才入库 (import values, all or nothing)."""
    from hrss.db import transaction
    from hrss.monitoring.values import import_file

    c = _ctx(ctx)
    plan = c.ready()
    with transaction(c.engine) as session:
        result = import_file(session, plan, file)  # stores nothing when there is any error
        if not result.errors:
            from sqlalchemy import func, select

            from hrss.monitoring.tables import ImportBatch

            batch = session.execute(select(func.max(ImportBatch.id)).where(ImportBatch.plan_id == plan.id)).scalar_one()
            _audit(session, "values.imported", "import_batch", batch, {
                "file": file.name, "source": "reported", "stored": result.stored, "warnings": len(result.warnings)})
    for p in result.problems:
        (err if p.level == "error" else out).print(str(p), highlight=False)
    if result.more:
        err.print(f"以及另外 {result.more} 处问题 (and {result.more} more)", highlight=False)
    if result.errors:
        _fail(f"导入失败，共 {len(result.errors)} 个错误，未写入任何数据 (import refused: {len(result.errors)} errors, nothing stored)")
    out.print(f"导入成功 (imported): {result.stored} 条, 警告 {len(result.warnings)} 条 — {file.name}")


# --- evaluate --------------------------------------------------------------------


@app.command("evaluate")
def evaluate_cmd(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="截至月份 YYYY-MM (as-of month)")],
    org: Annotated[str | None, typer.Option("--org", help="组织单位名称 (org unit)")] = None,
    format: Annotated[str, typer.Option("--format", help="json | table")] = "table",
    source: Annotated[str, typer.Option("--source", help="reported (填报) | computed (实名制自动统计)")] = "reported",
) -> None:
    """评估各指标完成情况 (evaluate every indicator and org unit)."""
    from hrss.monitoring.service import SOURCES, evaluate

    month = _as_of(as_of)
    if format not in ("json", "table"):
        raise typer.BadParameter("json | table", param_hint="--format")
    if source not in SOURCES:
        raise typer.BadParameter(" | ".join(SOURCES), param_hint="--source")
    c = _ctx(ctx)
    plan = c.ready()
    asked, month = month, _plan_month(month, plan)
    if org is not None:
        unit = plan.org_unit(org)
        if unit is None:
            raise typer.BadParameter(f"未知组织单位 (unknown org unit): {org}", param_hint="--org")
        org = unit.name
    from hrss.db import session_factory
    from hrss.monitoring.demo import is_simulated

    with session_factory(c.engine)() as session:
        results = evaluate(session, plan, month, org_unit=org, source=source, thresholds=c.settings.thresholds)
        simulated = source == "reported" and is_simulated(session, plan)
    if format == "json":
        records = [{**r.as_json(), "simulated": simulated} for r in results]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
        return
    from hrss.monitoring.periods import month_label

    mark = "【模拟数据 Simulated data】" if simulated else ""
    if asked > month:
        out.print(f"规划期已结束（{plan.start_year}—{plan.end_year}），以下为终期结果 "
                  f"(the plan period has ended; final results as of {month_label(month)})")
    table = Table(title=f"{mark}截至 {month_label(month)} 评估结果 (evaluation as of {month_label(month)})")
    for col in ("指标", "地区", "单位", "实际", "序时", "目标", "完成率", "时间进度", "状态", "预测"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.indicator, r.org_unit, r.unit, _n(r.actual), _n(r.expected), _n(r.target),
            _pct(r.completion), _pct(r.time_elapsed), f"[{_rich_color(r.color)}]{r.status}[/]",
            r.projection.get("verdict", "-"),
        )
    out.print(table)


def _n(v: float | None) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _rich_color(color: str) -> str:
    return {"green": "green", "yellow": "yellow", "red": "red"}.get(color, "dim")


# --- demo and reports ------------------------------------------------------------


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="随机种子 (seed)")] = None,
    force: Annotated[bool, typer.Option(help="覆盖已有的真实填报数据 (overwrite real reported data)")] = False,
) -> None:
    """载入模拟数据 (load the simulated dataset, 模拟数据)."""
    from hrss.db import transaction
    from hrss.monitoring.demo import SEED, build_demo, load_demo

    c = _ctx(ctx)
    _refuse_demo_in_production(c.settings)
    plan = c.ready()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("生成模拟数据 (generating)", total=len(plan.indicators))

        def step(label: str) -> None:
            progress.update(task, advance=1, description=f"生成模拟数据 {label}")

        values = build_demo(plan, seed if seed is not None else SEED, step)
    with transaction(c.engine) as session:
        stored = load_demo(session, plan, values, force=force)
        if stored is not None:
            _audit(session, "demo.loaded", "plan", plan.id,
                   {"stored": stored, "seed": seed if seed is not None else SEED, "force": force})
    if stored is None:
        _fail("数据库中已有真实填报数据；如确需覆盖请加 --force (real reported data exists; use --force to replace it)")
    out.print(f"已载入模拟数据 (simulated data loaded, 模拟数据): {stored} 条, {plan.start_year}-01 至 {plan.end_year}-12")


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option("--kind", help="monthly | annual | midterm | final")],
    as_of: Annotated[str, typer.Option("--as-of", help="截至月份 YYYY-MM")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="输出目录 (output folder)")] = None,
    source: Annotated[str, typer.Option("--source", help="reported | computed")] = "reported",
) -> None:
    """生成 Word 与 Excel 报告 (write the Word and Excel report)."""
    from hrss.db import session_factory
    from hrss.reports.build import KINDS, ReportError
    from hrss.reports.service import generate

    if kind not in KINDS:
        raise typer.BadParameter(" | ".join(KINDS), param_hint="--kind")
    month = _as_of(as_of)
    c = _ctx(ctx)
    plan = c.ready()
    target = out_dir or c.settings.report_dir
    try:
        with Progress(console=err, transient=True) as progress, session_factory(c.engine)() as session:
            task = progress.add_task("生成报告 (writing report)", total=None)
            files = generate(session, plan, c.settings, kind=kind, as_of=month, out_dir=target, source=source,
                             progress=lambda label: progress.update(task, description=label))
    except ReportError as exc:
        _fail(str(exc))
    from hrss.db import transaction

    with transaction(c.engine) as session:  # as the web's 生成报告: exports are traceable
        _audit(session, "report.generated", "report", files.docx.stem[:64], {
            "kind": kind, "as_of": as_of, "source": source, "files": [files.docx.name, files.xlsx.name]})
    out.print(f"Word 报告 (report): {files.docx.resolve()}", soft_wrap=True)
    out.print(f"Excel 报告 (workbook): {files.xlsx.resolve()}", soft_wrap=True)


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="监听地址 (address to listen on)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 (port)")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="同时载入模拟数据 (also load the simulated data)")] = False,
    workers: Annotated[int, typer.Option(min=1, max=32, help="工作进程数 (worker processes)")] = 1,
) -> None:
    """启动平台网站 (start the web platform)."""
    from hrss.settings import ProductionSettingsError, check_production
    from hrss.web.server import serve

    c = _ctx(ctx)
    if demo:
        _refuse_demo_in_production(c.settings)
    try:
        check_production(c.settings)
    except ProductionSettingsError as exc:
        _fail(str(exc), code=2)
    plan = c.ready()
    if demo:
        from hrss.db import transaction
        from hrss.monitoring.demo import build_demo, load_demo

        with transaction(c.engine) as session:
            stored = load_demo(session, plan, build_demo(plan))
            if stored is not None:
                _audit(session, "demo.loaded", "plan", plan.id, {"stored": stored, "via": "serve --demo"})
        if stored is None:
            err.print("[yellow]已有真实填报数据，未载入模拟数据 (real data present: simulated data not loaded)[/yellow]")
        else:
            out.print(f"已载入模拟数据 (simulated data loaded): {stored} 条")
        from hrss.auth.demo import ensure_demo_accounts

        with transaction(c.engine) as session:
            accounts = ensure_demo_accounts(session, plan, c.settings)
        table = Table(title="演示账户 (demo accounts) — 一次性密码，首次登录须修改 (one-time passwords)")
        for col in ("用户名", "角色", "地区", "一次性密码"):
            table.add_column(col, no_wrap=True)
        for a in accounts:
            table.add_row(a.username, a.role, a.org_unit or "全市", a.password)
        out.print(table)
        out.print("市级管理员、市统计审核员、审计员和安全管理员首次登录时还须用身份验证器应用绑定动态口令 "
                  "(the privileged accounts also set up a TOTP authenticator app at the first sign-in)")
    out.print(f"平台已启动，请在浏览器打开 (open in a browser): http://{host}:{port}/", soft_wrap=True)
    from hrss.ops.store import BackupError, serving

    try:
        with serving(c.settings.database_url):  # `hrss db restore` refuses while this is held
            serve(c.settings, host=host, port=port, workers=workers)
    except BackupError as exc:
        _fail(str(exc))


def main() -> None:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        app()
    except SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        said = _sqlite_problem(str(detail))  # a read-only folder or a full disk, said in words
        err.print(f"[red]{said or f'数据库错误，请检查 HRSS_DATABASE_URL 与数据库状态 (database error): {detail}'}[/red]",
                  highlight=False)
        raise SystemExit(2) from None
    except OSError as exc:
        from hrss.diskio import describe

        err.print(f"[red]{describe(exc)}[/red]", highlight=False)
        raise SystemExit(2) from None


def _sqlite_problem(message: str) -> str | None:
    """SQLite's words about its file, explained from the state of its folder (hrss.diskio)."""
    from sqlalchemy.engine import make_url

    from hrss.diskio import sqlite_problem

    url = make_url(Settings().database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return sqlite_problem(Path(url.database), message)


if __name__ == "__main__":
    main()
