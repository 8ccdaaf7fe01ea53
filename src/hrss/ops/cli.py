"""`hrss db backup` and `hrss db restore` (registered on the `db` group by hrss.cli).

Thin: hrss.ops.backup does the work; here the progress bar, the confirmation, the audit
events (actor cli:<OS user>: the backup's after it succeeded, the restore's in the restored
store after its checks) and the messages.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hrss.audit.service import record_from
from hrss.auth.cli import cli_origin

out = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(1)


class _Steps:
    """rich progress behind hrss.ops.store.Progress: one line per step, bytes when known."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.task = progress, None

    def stage(self, label: str, total: int | None = None) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def note(self, label: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=label)


def _steps() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


def _said(exc: Exception) -> str:
    from hrss.diskio import describe

    return describe(exc) if isinstance(exc, OSError) else str(exc)


def db_backup(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="备份文件 (backup file to write, a tar archive)")],
    force: Annotated[bool, typer.Option("--force", help="覆盖已有文件 (replace an existing file)")] = False,
    folder: Annotated[Path | None, typer.Option("--dir", help="台账目录，备份其 _state；默认 HRSS_LEDGER_DIR (ledger folder)")] = None,
) -> None:
    """在线备份数据库与台账统计状态到一个文件 (back up the store and the ledger folder's kept state
    while the server runs; audited)."""
    from hrss.ops.backup import backup
    from hrss.ops.store import BackupError

    c = ctx.find_root().obj
    ledger_dir = folder or c.settings.ledger_dir
    try:
        with _steps() as progress:
            result = backup(c.settings.database_url, out_file, ledger_dir, progress=_Steps(progress), force=force)
    except (BackupError, OSError) as exc:
        _fail(_said(exc))
    m = result.manifest
    from hrss.db import transaction

    with transaction(c.engine) as session:
        record_from(session, cli_origin(), action="db.backup", object_type="backup", object_id=out_file.name[:64], after={
            "file": str(out_file.resolve()), "bytes": result.bytes, "sha256": result.sha256, "backend": m["backend"],
            "schema_revision": m["schema_revision"], "audit_last_id": m["audit"]["last_id"],
            "audit_last_hash": m["audit"]["last_hash"], "state_files": len(m["state"]["files"])})
    out.print(f"已备份 (backed up): {out_file.resolve()} — {result.bytes / 1e6:,.1f} MB, sha256 {result.sha256}", soft_wrap=True)
    out.print(f"数据库 (store) {m['backend']}, 结构版本 (schema) {m['schema_revision']}, 审计记录 (audit events) "
              f"{m['audit']['events']} 条, 最新 (newest) #{m['audit']['last_id']} {m['audit']['last_hash']}", soft_wrap=True)
    out.print(f"统计状态 (kept state): {len(m['state']['files'])} 个文件 (files) — {m['state']['ledger_dir']}", soft_wrap=True)
    if not m["audit"]["chain_verified"]:
        err.print("[yellow]注意：备份中的审计链校验未通过，请运行 hrss audit verify 查看 (the copy's audit chain does not verify)[/yellow]")


def db_restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="hrss db backup 写的备份文件 (a backup written by hrss db backup)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="不再询问确认 (do not ask for confirmation)")] = False,
    folder: Annotated[Path | None, typer.Option("--dir", help="台账目录，恢复其 _state；默认 HRSS_LEDGER_DIR (ledger folder)")] = None,
    safety_dir: Annotated[Path | None, typer.Option(
        "--safety-dir", help="恢复前先把当前数据库备份到此目录；默认与备份文件同一目录 "
                             "(where the store as it is now is backed up first; default: the backup file's folder)")] = None,
) -> None:
    """从备份文件恢复数据库与台账统计状态 (restore the store and the kept state; the server must be stopped;
    asks first unless --yes; backs the current store up first, so that no audit event is lost; checks the
    audit chain and records the restore afterwards)."""
    from hrss.ops.backup import backup, prepare_restore, restore
    from hrss.ops.store import BackupError

    c = ctx.find_root().obj
    url = c.settings.database_url
    ledger_dir = folder or c.settings.ledger_dir
    try:
        plan = prepare_restore(url, file, ledger_dir)
    except (BackupError, OSError) as exc:
        _fail(_said(exc))
    m = plan.manifest
    table = Table(title="恢复 (restore)", show_header=False)
    for label, value in (
        ("备份文件 (backup)", str(file.resolve())),
        ("备份时间 (taken, UTC)", m["created_at"]),
        ("数据库 (backend)", f"{m['backend']}, 结构版本 (schema) {m['schema_revision']}, HRSS {m['app_version']}"),
        ("备份中最新审计记录 (newest audit event)", f"#{m['audit']['last_id']} {m['audit']['last_hash'][:16]}…, {m['audit']['events']} 条"),
        ("统计状态 (kept state)", f"{len(m['state']['files'])} 个文件 → {plan.state_dir}"),
        ("目标数据库 (target)", plan.target),
        ("目标当前最新审计记录 (target now)", f"#{plan.current.last_id}, {plan.current.events} 条" if plan.current.revision else "空库 (empty)"),
    ):
        table.add_row(label, value)
    out.print(table)
    if not yes and not typer.confirm("用该备份覆盖目标数据库与统计状态？当前数据库将先另行备份 "
                                     "(replace the store and the state with the backup? the current store is backed up first)", default=False):
        _fail("已取消，未做任何改动 (cancelled; nothing changed)")
    # The audit events written since the backup (and every other change) would be gone with the
    # store they are in: the store as it is now is backed up first, and a restore that cannot
    # keep it does not run. The audit trail is never deleted, only set aside in that file.
    safety = None
    if plan.current.revision is not None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        folder_for = safety_dir or file.resolve().parent
        safety = folder_for / f"hrss-before-restore-{stamp}.tar"
        n = 1
        while safety.exists():  # two restores within one second keep both
            n += 1
            safety = folder_for / f"hrss-before-restore-{stamp}-{n}.tar"
        try:
            with _steps() as progress:
                backup(url, safety, ledger_dir, progress=_Steps(progress))
        except (BackupError, OSError) as exc:
            _fail(f"恢复前备份当前数据库失败，未做任何改动 (could not back up the current store first; nothing changed): "
                  f"{_said(exc)}；可用 --safety-dir 指定其他目录 (choose another folder with --safety-dir)")
        out.print(f"恢复前的数据库已备份到 (the store as it was is kept in): {safety}", soft_wrap=True)
    c.close()  # no connection of this command stays open on the store being replaced
    try:
        with _steps() as progress:
            result = restore(url, plan, progress=_Steps(progress))
    except (BackupError, OSError) as exc:
        _fail(_said(exc))
    c.ready()  # an older backup's schema is migrated to this program's
    from hrss.db import transaction

    with transaction(c.engine) as session:  # after the restore: the first event after the backup's newest
        record_from(session, cli_origin(), action="db.restored", object_type="backup", object_id=file.name[:64], after={
            "file": str(file.resolve()), "created_at": m["created_at"], "backend": m["backend"],
            "schema_revision": m["schema_revision"], "audit_last_id": m["audit"]["last_id"],
            "audit_last_hash": m["audit"]["last_hash"], "state_files": result.state_files,
            "replaced_audit_last_id": result.replaced.last_id, "replaced_audit_last_hash": result.replaced.last_hash,
            "replaced_kept_in": str(safety) if safety else None, "verified": not result.problems})
    for problem in result.problems:
        err.print(problem, highlight=False)
    if result.problems:
        _fail(f"已恢复，但校验未通过：{len(result.problems)} 处问题 (restored, but the checks failed)")
    out.print(f"已恢复 (restored): {plan.target} ← {file.resolve()}", soft_wrap=True)
    out.print(f"审计链校验通过 (audit chain verified): {result.events} 条；最新审计记录 #{m['audit']['last_id']} 与备份清单一致 "
              f"(the newest audit event is the manifest's); 统计状态 (kept state) {result.state_files} 个文件", soft_wrap=True)
    out.print("恢复已记入审计日志 (the restore is recorded in the audit log): db.restored")


def db_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="hrss db backup 写的备份文件 (a backup written by hrss db backup)")],
) -> None:
    """校验备份文件，不恢复 (check a backup without restoring: every checksum, and that its newest audit
    event is the store's event of that id); exits 1 on any problem."""
    from hrss.ops.archive import check_archive
    from hrss.ops.store import BackupError

    c = ctx.find_root().obj
    try:
        with _steps() as progress:
            result = check_archive(c.settings.database_url, file, progress=_Steps(progress))
    except (BackupError, OSError) as exc:
        _fail(_said(exc))
    for problem in result.problems:
        err.print(problem, highlight=False)
    if result.problems:
        _fail(f"备份校验未通过：{len(result.problems)} 处问题 (the backup does not check out)")
    m = result.manifest
    out.print(f"备份完整 (backup whole): {file.resolve()} — {result.members} 个成员校验和一致 (checksums match), "
              f"{m['created_at']}, 结构版本 (schema) {m['schema_revision']}", soft_wrap=True)
    out.print(f"备份中最新审计记录 #{m['audit']['last_id']} 与当前库中的同号记录一致，备份是当前审计链的前缀 "
              f"(its newest audit event is the store's: the backup is a prefix of the chain)", soft_wrap=True)
