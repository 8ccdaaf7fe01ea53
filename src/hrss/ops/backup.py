"""`hrss db backup` and `hrss db restore`: the store and the ledger folder's kept state in one file.

A backup is an uncompressed tar archive (mode 0600: it holds personal data and password
hashes) of

- `database.sqlite3`: a copy made with SQLite's online backup API, in one step, i.e. inside
  one read transaction: consistent while the server goes on writing (WAL mode lets writers
  continue); or `database.pgdump`: `pg_dump --format=custom` run on a snapshot exported by a
  REPEATABLE READ transaction (`pg_export_snapshot`), the same snapshot in which the manifest's
  figures are read;
- `state/…`: the files of `<ledger dir>/_state` (hrss.stats.state), copied under its lock so
  that no `hrss stats compute` writes them meanwhile;
- `manifest.json`, last: format, time, backend, application version, schema revision
  (Alembic), the newest audit event (id and hash) and the number of events *of the copy*,
  whether its chain verified, and the size and sha256 of every other member.

The archive is written under a temporary name beside `--out`, fsynced and renamed: a failed
or interrupted backup leaves no file that looks like a backup.

Restore checks the archive (a tar with that manifest, nothing else in it, every checksum)
and the target (same backend, its schema revision not newer than the backup's, no server
running: on SQLite `hrss serve` holds a shared lock on `<database>.serving`, on PostgreSQL
any other session on the database counts) before it changes anything; then replaces the
store (SQLite: the backup API again, into the live file, so other connections see the new
content, never a half-written file; PostgreSQL: `pg_restore --clean --if-exists
--single-transaction`, all or nothing) and the state folder (extracted beside it, then
swapped by rename), and finally verifies the audit chain and that the newest audit event is
the manifest's. The caller records the restore as an audit event after that (it is the
first event after the backup's newest).

Reading and checking an archive (also `hrss db check`) is hrss.ops.archive; the store's side
(backend, revision, newest audit event, is a server running, PostgreSQL's client tools) is
hrss.ops.store.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from hrss import __version__
from hrss.diskio import DiskError, fsync_path, remove, sqlite_problem, temp_name, writing
from hrss.ops.archive import (
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MEMBERS,
    STATE_PREFIX,
    Hashing,
    Quiet,
    read_manifest,
    refuse,
)
from hrss.ops.store import (
    BackupError,
    Progress,
    StoreInfo,
    backend,
    libpq,
    no_server,
    pg_tool,
    revisions,
    run_tool,
    shown,
    snapshot_info,
    sqlite_path,
    store_info,
)
from hrss.stats.state import STATE_DIR, State, StateBusy

WRITE_BACKUP = "写入备份文件"
WRITE_STATE = "恢复统计状态"


# --- backup -------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    bytes: int
    sha256: str
    manifest: dict[str, Any]


def backup(url: str, out: Path, ledger_dir: Path, *, progress: Progress | None = None, force: bool = False,
           now: Callable[[], float] = time.time) -> BackupResult:  # fmt: skip
    """Write the backup archive of the store at url and of ledger_dir's state to out."""
    progress = progress or Quiet()
    kind = backend(url)
    if out.is_dir():
        raise BackupError(f"{out}: 这是一个目录，请给出备份文件名，如 {out / 'hrss-backup.tar'} (--out is a folder: name a file)")
    if out.exists() and not force:
        raise BackupError(f"{out}: 文件已存在；如需覆盖请加 --force (the file exists; use --force to replace it)")
    with writing(out.parent, WRITE_BACKUP):
        out.parent.mkdir(parents=True, exist_ok=True)
    work = temp_name(out)  # a folder beside out: the database copy and the archive being written
    try:
        with writing(work, WRITE_BACKUP):
            work.mkdir()
        db_file = work / MEMBERS[kind]
        if kind == "sqlite":
            info = _copy_sqlite(sqlite_path(url), db_file, progress)
        else:
            info = _dump_postgres(url, db_file, progress)
        if info.revision is None:
            raise BackupError(f"{shown(url)}: 数据库尚未初始化，无可备份 (the store is empty: run hrss db upgrade first)")
        archive = work / "archive.tar"
        manifest: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now())),
            "app_version": __version__, "backend": kind, "source": shown(url),
            "schema_revision": info.revision, "audit": info.audit(),
        }  # fmt: skip
        sha, size = _write_archive(archive, db_file, State(ledger_dir), manifest, ledger_dir, progress)
        with writing(out, WRITE_BACKUP):
            os.replace(archive, out)
            fsync_path(out.parent)
        return BackupResult(out, size, sha, manifest)
    finally:
        remove(work)


def _copy_sqlite(source: Path, target: Path, progress: Progress) -> StoreInfo:
    if not source.is_file():
        raise BackupError(f"{source}: 数据库文件不存在 (the SQLite database file does not exist)")
    progress.stage("复制 SQLite 数据库（在线备份） (copying the SQLite store, online backup API)")
    with writing(target, WRITE_BACKUP):
        src = sqlite3.connect(source, timeout=60)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # pages=-1: one step, one read transaction, a consistent copy
            finally:
                dst.close()
        except sqlite3.Error as exc:  # a full disk under the copy said in words; else SQLite's own
            said = sqlite_problem(target, str(exc)) if "full" in str(exc) else None
            raise BackupError(said or f"{source}: SQLite 在线备份失败 (online backup failed): {exc}") from exc
        finally:
            src.close()
    progress.stage("校验副本的审计链 (verifying the copy's audit chain)")
    engine = create_engine(f"sqlite:///{target}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            info = snapshot_info(conn, verify_chain=True)
    finally:
        engine.dispose()
    with writing(target, WRITE_BACKUP):
        con = sqlite3.connect(target)
        try:
            con.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            con.close()
    return info


def _dump_postgres(url: str, target: Path, progress: Progress) -> StoreInfo:
    tool = pg_tool("pg_dump")
    conninfo, env = libpq(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            progress.stage("校验审计链 (verifying the audit chain, same snapshot)")
            info = snapshot_info(conn, verify_chain=True)  # the figures of exactly what pg_dump writes
            progress.stage("pg_dump (custom format)")
            run_tool([tool, "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={target}",
                  f"--dbname={conninfo}"], env, progress, "pg_dump", watch=target)  # fmt: skip
    finally:
        engine.dispose()
    return info


def _write_archive(archive: Path, db_file: Path, state: State, manifest: dict[str, Any], ledger_dir: Path,
                   progress: Progress) -> tuple[str, int]:  # fmt: skip
    def member(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
        info = tarfile.TarInfo(name)
        st = path.stat()
        info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
        with open(path, "rb") as raw:
            reader = Hashing(raw, progress)
            tar.addfile(info, reader)  # type: ignore[arg-type]
        return {"path": name, "bytes": info.size, "sha256": reader.sha.hexdigest()}

    with writing(archive, WRITE_BACKUP):
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # personal data inside: owner only
        with open(fd, "wb") as raw:
            sink = Hashing(raw)
            with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[arg-type]
                progress.stage("写入归档：数据库 (archiving the store)", db_file.stat().st_size)
                manifest["database"] = member(tar, db_file.name, db_file)
                with ExitStack() as held:
                    if state.dir.is_dir():
                        progress.stage("等待正在进行的统计计算结束 (waiting for a running computation)")
                        with suppress(DiskError):  # a state folder that cannot be written is copied as it is
                            held.enter_context(state.locked(wait=True))  # no computation writes it meanwhile
                    files = state.files()
                    progress.stage(f"写入归档：统计状态 {len(files)} 个文件 (archiving the kept state)",
                                   sum(f.stat().st_size for f in files))
                    kept = [member(tar, STATE_PREFIX + f.relative_to(state.dir).as_posix(), f) for f in files]
                manifest["state"] = {"ledger_dir": str(ledger_dir.resolve()), "files": kept}
                body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(body))
            raw.flush()
            os.fsync(raw.fileno())
    return sink.sha.hexdigest(), sink.size


# --- reading an archive -------------------------------------------------------------------


# --- restore ------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    """What a restore is about to do, for the confirmation."""

    archive: Path
    manifest: dict[str, Any]
    target: str
    current: StoreInfo
    state_dir: Path


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    replaced: StoreInfo
    problems: list[str]  # chain breaks and a head other than the manifest's; empty when all is well
    events: int
    state_files: int


def _extract(tar: tarfile.TarFile, name: str, expected: dict[str, Any], target: Path, archive: Path, progress: Progress) -> None:
    raw = tar.extractfile(tar.getmember(name))  # a regular file: read_manifest checked every member
    assert raw is not None
    with writing(target, WRITE_STATE if name.startswith(STATE_PREFIX) else "解出数据库"):
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            reader = Hashing(raw, progress)
            while chunk := reader.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    if reader.sha.hexdigest() != expected["sha256"]:
        raise refuse(archive, f"成员 {name} 的校验和与清单不符，备份已损坏或被改动 (checksum mismatch: damaged or altered)")


def prepare_restore(url: str, archive: Path, ledger_dir: Path) -> RestorePlan:
    """Check the archive and the target; change nothing."""
    manifest = read_manifest(archive)
    kind = backend(url)
    if manifest["backend"] != kind:
        raise BackupError(f"{archive}: 备份来自 {manifest['backend']}，目标数据库是 {kind}，不能跨数据库恢复 "
                          f"(a {manifest['backend']} backup cannot be restored into {kind})")
    known = revisions()
    theirs = manifest.get("schema_revision")
    if theirs not in known:
        raise BackupError(f"{archive}: 备份的数据库结构版本 {theirs} 不为本程序所知，备份来自更新的 HRSS；请先升级本程序 "
                          f"(schema revision {theirs} is unknown: the backup comes from a newer HRSS)")
    current = store_info(url)
    if current.revision is not None:
        if current.revision not in known:
            raise BackupError(f"{shown(url)}: 目标数据库的结构版本 {current.revision} 比本程序新，拒绝恢复 "
                              f"(the target store's schema {current.revision} is newer than this program)")
        if known.index(current.revision) > known.index(theirs):
            raise BackupError(
                f"{shown(url)}: 目标数据库的结构版本 {current.revision} 比备份的 {theirs} 新，拒绝用旧结构覆盖；如确需恢复，"
                f"请恢复到一个空库（新的 SQLite 文件或新建的 PostgreSQL 数据库），之后任一 hrss 命令会把它迁移到 {known[-1]} "
                f"(the target's schema is newer than the backup's: restore into an empty store instead)")
    return RestorePlan(archive, manifest, shown(url), current, ledger_dir / STATE_DIR)


def restore(url: str, plan: RestorePlan, *, progress: Progress | None = None) -> RestoreResult:
    """Replace the store and the state with the archive's (after prepare_restore and the
    operator's confirmation), then check the audit chain and its newest event."""
    progress = progress or Quiet()
    manifest, archive = plan.manifest, plan.archive
    kind = manifest["backend"]
    ledger_dir = plan.state_dir.parent
    state_files = manifest["state"]["files"]
    with no_server(url):
        # unpack everything first, checking every checksum: the database into TMPDIR, the state beside
        # the old one (so its folder is known writable); only then is the store touched
        incoming = temp_name(plan.state_dir)
        with writing(tempfile.gettempdir(), "解出数据库"):
            work = Path(tempfile.mkdtemp(prefix="hrss-restore-"))
        try:
            with tarfile.open(archive, "r:") as tar:
                total = sum(f["bytes"] for f in state_files) + manifest["database"]["bytes"]
                progress.stage("检查并解出备份 (checking and unpacking the backup)", total)
                db_file = work / manifest["database"]["path"]
                _extract(tar, manifest["database"]["path"], manifest["database"], db_file, archive, progress)
                if state_files or plan.state_dir.exists():
                    with writing(incoming, WRITE_STATE):
                        incoming.mkdir(parents=True)
                for f in state_files:
                    _extract(tar, f["path"], f, incoming / f["path"][len(STATE_PREFIX):], archive, progress)
            state = State(ledger_dir)
            try:
                lock = state.locked() if plan.state_dir.is_dir() else nullcontext()
                with lock:  # refused while a computation runs on this ledger folder
                    if kind == "sqlite":
                        _restore_sqlite(db_file, sqlite_path(url), progress)
                    else:
                        _restore_postgres(url, db_file, progress)
                    _swap_state(plan.state_dir, incoming, bool(state_files))
            except StateBusy as exc:
                raise BackupError(f"{exc}；数据库未改动 (the store was not changed)") from exc
        finally:
            remove(work)
            remove(incoming)
    progress.stage("校验审计链 (verifying the audit chain)")
    after = store_info(url, verify_chain=True)
    problems = list(after.chain_problems)
    want = manifest["audit"]
    if (after.last_id, after.last_hash) != (want["last_id"], want["last_hash"]):
        problems.append(
            f"恢复后最新的审计记录为 #{after.last_id}（{after.last_hash[:12]}…），与备份清单的 #{want['last_id']}"
            f"（{want['last_hash'][:12]}…）不符 (the newest audit event differs from the manifest's)")
    return RestoreResult(manifest, plan.current, problems, after.events, len(state_files))


def _restore_sqlite(source: Path, target: Path, progress: Progress) -> None:
    progress.stage("写入 SQLite 数据库（在线备份接口） (writing the SQLite store, backup API)")
    with writing(target, "恢复数据库"):
        target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target, timeout=60)
        try:
            src.backup(dst)  # into the live file, through SQLite's locks: all pages or none
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(sqlite_problem(target, str(exc)) or f"{target}: 恢复失败 (restore failed): {exc}") from exc
    finally:
        src.close()


def _restore_postgres(url: str, dump: Path, progress: Progress) -> None:
    tool = pg_tool("pg_restore")
    conninfo, env = libpq(url)
    progress.stage("pg_restore --clean --single-transaction")
    run_tool([tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          "--no-password", f"--dbname={conninfo}", str(dump)], env, progress, "pg_restore")  # fmt: skip


def _swap_state(state_dir: Path, incoming: Path, any_files: bool) -> None:
    """Put the unpacked state in place of the old one by renames (the old one goes last)."""
    if not state_dir.exists() and not incoming.exists():
        return  # no state kept then, none now (perhaps no ledger folder at all)
    aside = temp_name(state_dir)
    with writing(state_dir, WRITE_STATE):
        if state_dir.exists():
            os.replace(state_dir, aside)
        if any_files or incoming.exists():
            os.replace(incoming, state_dir)
        fsync_path(state_dir.parent)
    remove(aside)
