"""The store behind a settings URL, for `hrss db backup|restore`: its backend, revision and
newest audit event; whether a server uses it; PostgreSQL's client tools.

The PostgreSQL URL of the settings (postgresql+psycopg://user:pw@host/db?sslmode=…) is handed to
pg_dump/pg_restore as a libpq connection string without the password, which travels in
PGPASSWORD; nothing here prints it (`shown` hides it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from hrss.diskio import writing

BACKENDS = ("sqlite", "postgresql")
GENESIS = "0" * 64


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why, in Chinese (English)."""


class Progress(Protocol):
    def stage(self, label: str, total: int | None = None) -> None:
        """Start a step: a byte count when known, else an open-ended one."""

    def advance(self, n: int) -> None: ...

    def note(self, label: str) -> None:
        """Re-label the current step (e.g. the size written so far)."""


@dataclass
class StoreInfo:
    """What the manifest says of a store, read in one snapshot."""

    revision: str | None
    last_id: int = 0
    last_hash: str = GENESIS
    events: int = 0
    chain_problems: list[str] = field(default_factory=list)

    def audit(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "last_hash": self.last_hash, "events": self.events,
                "chain_verified": not self.chain_problems}


# --- the store behind a URL ---------------------------------------------------------------


def backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in BACKENDS:
        raise BackupError(f"不支持的数据库 {name} (unsupported database): sqlite | postgresql")
    return name


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份或恢复 (an in-memory SQLite store cannot be backed up or restored)")
    return Path(database)


def shown(url: str) -> str:
    """The URL as it may be printed and recorded: never the password."""
    return make_url(url).render_as_string(hide_password=True)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """(libpq connection string without the password, environment holding it) for a
    SQLAlchemy URL such as postgresql+psycopg://user:pw@host:5432/db?sslmode=require."""
    u = make_url(url)
    params: dict[str, str] = {}
    for key, value in (("host", u.host), ("port", u.port), ("user", u.username), ("dbname", u.database)):
        if value:
            params[key] = str(value)
    for key, value in u.query.items():  # sslmode, host (a socket folder), application_name, …
        params[key] = value if isinstance(value, str) else value[-1]

    def quoted(v: str) -> str:
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"

    env = {"PGPASSWORD": u.password} if u.password else {}
    return " ".join(f"{k}={quoted(v)}" for k, v in params.items()), env


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: on PATH (Debian's pg_wrapper picks the newest installed version),
    else beside the newest server in /usr/lib/postgresql/<version>/bin."""
    if found := shutil.which(name):
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])
    for folder in reversed(versions):
        if (folder / name).is_file():
            return str(folder / name)
    raise BackupError(f"未找到 {name}：请安装 PostgreSQL 客户端，版本不低于服务器（Debian: apt-get install postgresql-client）"
                      f"({name} not found: install the PostgreSQL client tools, at least the server's version)")


def revisions() -> list[str]:
    """The schema revisions this program knows, oldest first."""
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("hrss") / "migrations"))
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]


def snapshot_info(conn: Connection, *, verify_chain: bool) -> StoreInfo:
    """Revision and newest audit event through conn (inside the caller's snapshot)."""
    from hrss.audit.service import verify

    dialect = conn.dialect.name

    def exists(table: str) -> bool:
        if dialect == "postgresql":
            return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar_one()
        return conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).scalar_one() > 0

    if not exists("alembic_version"):
        return StoreInfo(revision=None)
    info = StoreInfo(revision=conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
    if exists("audit_event"):
        newest = conn.execute(text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")).first()
        if newest is not None:
            info.last_id, info.last_hash = int(newest[0]), str(newest[1])
        info.events = int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())
        if verify_chain:
            with Session(bind=conn) as session:
                info.chain_problems = verify(session)
    return info


def store_info(url: str, *, verify_chain: bool = False) -> StoreInfo:
    """The target's revision and newest audit event, as it is now (nothing created)."""
    if backend(url) == "sqlite" and not sqlite_path(url).is_file():
        return StoreInfo(revision=None)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return snapshot_info(conn, verify_chain=verify_chain)
    finally:
        engine.dispose()


# --- "is a server running?" ---------------------------------------------------------------


def _serving_file(url: str) -> Path | None:
    if backend(url) != "sqlite":
        return None
    try:
        return Path(f"{sqlite_path(url)}.serving")
    except BackupError:
        return None


@contextmanager
def serving(url: str) -> Iterator[None]:
    """Held by `hrss serve` while it runs (a shared flock on `<database>.serving` beside a
    SQLite file), so that `hrss db restore` can tell and refuse. PostgreSQL needs no file:
    restore counts the other sessions on the database."""
    path = _serving_file(url)
    handle: IO[str] | None = None
    if path is not None:
        with suppress(OSError):  # a folder the server cannot write: SQLite will say so itself
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")  # noqa: SIM115 (held while serving)
    if handle is None:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"{path.parent}: 正在恢复数据库，请待其结束后再启动 (a restore is running; start the server when it ends)") from exc
        yield


@contextmanager
def no_server(url: str) -> Iterator[None]:
    """Refuse when the store appears in use by a server; held for the whole restore."""
    path = _serving_file(url)
    if path is None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                others = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).scalar_one()
        finally:
            engine.dispose()
        if others:
            raise BackupError(
                f"{shown(url)}: 数据库上还有 {others} 个其他连接，平台服务似乎正在运行；请先停止 hrss serve 及其他使用该库的程序 "
                f"(the database has {others} other sessions — the server appears to run; stop it first)")
        yield
        return
    if not path.parent.is_dir():
        yield
        return
    with writing(path, "锁定数据库"):
        handle = open(path, "a")  # noqa: SIM115 (held below, for the whole restore)
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"{path}: 平台服务正在运行（hrss serve 持有该锁），请先停止服务再恢复 "
                              f"(the server is running: stop hrss serve before restoring)") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- PostgreSQL's client tools ---------------------------------------------------------------


def run_tool(args: list[str], env: dict[str, str], progress: Progress, label: str, watch: Path | None = None) -> None:
    """Run a PostgreSQL client tool, showing progress; BackupError with its own words on failure."""
    with tempfile.TemporaryFile() as said_file:  # not a pipe: a chatty tool never blocks on it
        with subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=said_file) as proc:
            started = time.monotonic()
            while proc.poll() is None:
                time.sleep(0.2)
                size = watch.stat().st_size if watch is not None and watch.exists() else None
                progress.note(f"{label} {time.monotonic() - started:.0f} s" + (f", {size / 1e6:.1f} MB" if size else ""))
        said_file.seek(0)
        said = said_file.read().decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} 失败（退出码 {proc.returncode}） (failed): {said[-2000:]}")
