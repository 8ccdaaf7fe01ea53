"""When the disk says no: files written whole or not at all, and the cause said in words.

- `atomic_write` writes a file under a temporary name in the same folder, fsyncs it, renames
  it over the target and fsyncs the folder; on any failure the temporary file is removed, so
  a reader finds the old file or the new one, never a truncated one.
- `DiskError` is an OSError whose text names the path and the cause in Chinese (English in
  parentheses): what an operator reads instead of a traceback.
- `describe` turns any OSError into that text; `sqlite_problem` explains SQLite's own words
  ("attempt to write a readonly database", "unable to open database file", "database or disk
  is full") from the state of the database's folder — SQLite writes its journal (-wal, -shm or
  -journal) beside the file, so a read-only folder stops it even when the file is writable.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# errno → (cause, its English, what to do); the causes a disk or a file system gives
CAUSES: dict[int, tuple[str, str, str]] = {
    errno.ENOSPC: ("磁盘空间已满", "no space left on device", "请清理磁盘或换用空间充足的位置后重试"),
    errno.EDQUOT: ("超出磁盘配额", "disk quota exceeded", "请清理文件或申请更大的配额后重试"),
    errno.EFBIG: ("文件超过允许的大小", "file too large", "请检查文件大小限制（ulimit -f）或换用其他位置"),
    errno.EROFS: ("文件系统为只读", "read-only file system", "请以可写方式挂载，或换用可写的位置"),
    errno.EACCES: ("没有写入或访问权限", "permission denied", "请让运行 HRSS 的用户对该路径有读写权限"),
    errno.EPERM: ("操作不被允许（例如文件被设为不可更改）", "operation not permitted", "请检查该路径的属性（lsattr）与权限"),
    errno.ENOTDIR: ("路径中的某一级不是目录", "a part of the path is not a folder", "请检查路径，移走占用目录名的文件"),
    errno.EEXIST: ("已存在同名文件，不是目录", "a file of that name exists, not a folder", "请移走该文件或换用其他路径"),
    errno.EISDIR: ("这是一个目录，不是文件", "is a folder, not a file", "请换用文件路径"),
    errno.ENOENT: ("文件或目录不存在", "no such file or folder", "请检查路径"),
    errno.EIO: ("磁盘读写错误", "input/output error", "请检查磁盘与系统日志（dmesg）"),
    errno.ENAMETOOLONG: ("路径过长", "file name too long", "请换用较短的路径"),
}


def cause(code: int | None, fallback: str = "") -> tuple[str, str, str]:
    """(cause, English, hint) of an errno; the OS's own words for one not listed."""
    if code in CAUSES:
        return CAUSES[code]  # type: ignore[index]
    text = os.strerror(code) if code else fallback or "unknown error"
    return ("文件系统错误", text, "")


class DiskError(OSError):
    """An OSError that reads as a sentence naming the path, the step and the cause."""

    def __init__(self, code: int | None, path: Path | str, what: str = "", detail: str = "") -> None:
        zh, en, hint = cause(code, detail)
        super().__init__(code or 0, en, str(path))
        self.path, self.what, self.zh, self.en, self.hint = Path(path), what, zh, en, hint

    def __str__(self) -> str:
        step = f"{self.what}失败：" if self.what else ""
        hint = f"。{self.hint}" if self.hint else ""
        return f"{self.path}: {step}{self.zh}{hint} ({self.en})"

    @classmethod
    def of(cls, exc: OSError, path: Path | str | None = None, what: str = "") -> DiskError:
        if isinstance(exc, DiskError):
            return exc
        return cls(exc.errno, exc.filename or path or "?", what, exc.strerror or str(exc))


def describe(exc: OSError) -> str:
    """Any OSError as the sentence of a DiskError."""
    return str(DiskError.of(exc))


@contextmanager
def writing(path: Path | str, what: str = "") -> Iterator[None]:
    """Raise every OSError inside as a DiskError naming path (or the file the OS named)."""
    try:
        yield
    except DiskError:
        raise
    except OSError as exc:
        raise DiskError.of(exc, path, what) from exc


def temp_name(path: Path) -> Path:
    """A name beside path for writing it: a hidden `.name.tmp-<random>` in the same folder."""
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")


def is_temp(path: Path) -> bool:
    return path.name.startswith(".") and ".tmp-" in path.name


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder (so that a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(tmp: Path, path: Path) -> None:
    """Make the written file tmp the file path: fsync it, rename it, fsync the folder."""
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def remove(path: Path) -> None:
    """Remove a file or folder left by a failed write, quietly (the first error is the one to tell)."""
    with suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | str, what: str = "写入文件") -> None:
    """Write path whole or not at all (temporary name, fsync, rename); DiskError on failure."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    tmp = temp_name(path)
    try:
        with writing(path, what):
            with open(tmp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            fsync_path(path.parent)
    except BaseException:
        remove(tmp)
        raise


_ERRNO = re.compile(r'"errno"\s*:\s*"?(\d+)')


def errno_in(message: str) -> int | None:
    """The errno a library reported in its message text (DuckDB: `"errno":"28"`, or the OS's words)."""
    if m := _ERRNO.search(message):
        return int(m.group(1))
    for code in CAUSES:
        if os.strerror(code) in message:
            return code
    return None


def sqlite_problem(database: Path, message: str) -> str | None:
    """What SQLite's error means for the file at database, in words; None if not a disk matter."""
    text = message.lower()
    folder = database.parent
    if "full" in text:
        said = str(DiskError(errno.ENOSPC, database, "写入数据库"))
        with suppress(OSError):
            said += f"；剩余空间 (free) {shutil.disk_usage(folder).free // (1024 * 1024)} MiB"
        return said
    if not any(k in text for k in ("readonly", "read-only", "unable to open", "disk i/o")):
        return None
    if not folder.exists():
        return str(DiskError(errno.ENOENT, folder, "打开数据库所在目录"))
    if not folder.is_dir():
        return str(DiskError(errno.ENOTDIR, folder, "打开数据库所在目录"))
    read_only_fs = False
    with suppress(OSError, AttributeError):
        read_only_fs = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    if read_only_fs or not os.access(folder, os.W_OK | os.X_OK):
        why = ("文件系统为只读", "read-only file system") if read_only_fs else ("没有写入权限", "permission denied")
        name = database.name
        return (f"{folder}: 数据库所在目录不可写（{why[0]}）：SQLite 须在数据库文件旁创建日志文件 "
                f"{name}-wal、{name}-shm（或 {name}-journal），数据库文件本身可写也不够。请让运行 HRSS 的用户对该目录有写权限，"
                f"或将 HRSS_DATABASE_URL 指向可写的目录 (the database folder is not writable: {why[1]}; SQLite "
                f"creates its journal beside the file)")
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        return str(DiskError(errno.EACCES, database, "写入数据库"))
    return None
