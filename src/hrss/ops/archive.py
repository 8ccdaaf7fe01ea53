"""The backup file's format: an uncompressed tar of the store's copy, the kept state and a
manifest (written last), read and checked here — `read_manifest` for restore, `check_archive`
for `hrss db check` (every checksum, and the backup's newest audit event against the store's
event of that id). Writing it is hrss.ops.backup.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from hrss.diskio import describe
from hrss.ops.store import BackupError, Progress, backend, shown

FORMAT = "hrss-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
STATE_PREFIX = "state/"
CHUNK = 1 << 20


class Quiet:
    """No progress shown."""

    def stage(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def note(self, label: str) -> None:
        pass



class Hashing:
    """A file object that hashes (and counts for the progress bar) what passes through it."""

    def __init__(self, raw: IO[bytes], progress: Progress | None = None) -> None:
        self.raw, self.progress, self.sha, self.size = raw, progress, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self._seen(data)
        return data

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self._seen(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def _seen(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        if self.progress is not None:
            self.progress.advance(len(data))



def refuse(path: Path, why: str) -> BackupError:
    return BackupError(f"{path}: 不是可用的 HRSS 备份文件：{why}")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the archive at path, after checking that it is one of ours and whole
    (every member listed, nothing else in it); BackupError otherwise."""
    if not path.exists():
        raise BackupError(f"{path}: 文件不存在 (no such file)")
    if path.is_dir():
        raise BackupError(f"{path}: 这是一个目录，不是备份文件 (a folder, not a backup file)")
    try:
        with tarfile.open(path, "r:") as tar:
            members = {m.name: m for m in tar.getmembers()}
            if MANIFEST not in members or not members[MANIFEST].isfile():
                raise refuse(path, f"缺少 {MANIFEST}，备份不完整或不是 hrss db backup 写的 (no manifest: incomplete, or not written by hrss db backup)")
            raw = tar.extractfile(members[MANIFEST])
            assert raw is not None
            manifest = json.loads(raw.read().decode("utf-8"))
    except tarfile.TarError as exc:
        raise refuse(path, f"无法作为 tar 归档读取 (not a tar archive: {exc})") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse(path, f"{MANIFEST} 无法解析 (the manifest is not valid JSON)") from exc
    except OSError as exc:
        raise BackupError(describe(exc)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise refuse(path, f"清单格式不是 {FORMAT} (the manifest is not an HRSS backup's)")
    try:
        _check_members(path, manifest, members)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise refuse(path, f"清单内容不完整或格式有误 (the manifest is incomplete: {exc!r})") from exc
    return manifest


def _check_members(path: Path, manifest: dict[str, Any], members: dict[str, tarfile.TarInfo]) -> None:
    """Every member listed in the manifest, of its size, with a safe name; nothing else."""
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise refuse(path, f"备份格式版本 {manifest['format_version']} 比本程序新 (written by a newer HRSS)")
    kind = manifest["backend"]
    if kind not in MEMBERS or manifest["database"]["path"] != MEMBERS[kind]:
        raise refuse(path, "清单中的数据库成员与后端不符 (the database member does not match the backend)")
    for key in ("created_at", "schema_revision"):
        str(manifest[key])
    int(manifest["audit"]["last_id"]), str(manifest["audit"]["last_hash"]), str(manifest["database"]["sha256"])
    state = manifest["state"]["files"]
    if any(not f["path"].startswith(STATE_PREFIX) or len(f["path"]) == len(STATE_PREFIX) for f in state):
        raise refuse(path, "清单中的统计状态文件不在 state/ 下 (a state file outside state/)")
    listed = {manifest["database"]["path"]: manifest["database"], **{f["path"]: f for f in state}}
    for name, m in members.items():
        if name == MANIFEST:
            continue
        safe = PurePosixPath(name)
        if name not in listed or not m.isfile() or safe.is_absolute() or ".." in safe.parts:
            raise refuse(path, f"含有清单以外或不安全的成员 {name!r} (an unlisted or unsafe member)")
        if m.size != int(listed[name]["bytes"]):
            raise refuse(path, f"成员 {name} 的大小与清单不符，文件已损坏 (member size differs from the manifest: damaged)")
    if missing := sorted(set(listed) - set(members)):
        raise refuse(path, f"缺少成员 {', '.join(missing)} (members missing)")


@dataclass
class CheckResult:
    manifest: dict[str, Any]
    members: int
    problems: list[str]  # empty: the archive is whole and its newest audit event is the store's


def check_archive(url: str, archive: Path, *, progress: Progress | None = None) -> CheckResult:
    """Without restoring: every member against its checksum, and the backup's newest audit
    event against the store's event of the same id (same hash: the backup is a prefix of the
    store's chain). The store is read, never changed."""
    progress = progress or Quiet()
    manifest = read_manifest(archive)
    listed = [manifest["database"], *manifest["state"]["files"]]
    problems: list[str] = []
    progress.stage("校验备份文件 (checking the backup's checksums)", sum(m["bytes"] for m in listed))
    try:
        with tarfile.open(archive, "r:") as tar:
            for m in listed:
                raw = tar.extractfile(m["path"])
                assert raw is not None
                reader = Hashing(raw, progress)
                while reader.read(CHUNK):
                    pass
                if reader.sha.hexdigest() != m["sha256"]:
                    problems.append(f"{archive}: 成员 {m['path']} 的校验和与清单不符，备份已损坏或被改动 (checksum mismatch)")
    except OSError as exc:
        raise BackupError(describe(exc)) from exc
    if backend(url) != manifest["backend"]:
        raise BackupError(f"{archive}: 备份来自 {manifest['backend']}，当前数据库是 {backend(url)} (another backend)")
    want = manifest["audit"]
    if want["last_id"]:
        progress.stage("对照当前库的审计记录 (comparing with the store's audit events)")
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT hash FROM audit_event WHERE id = :i"), {"i": want["last_id"]}).first()
        finally:
            engine.dispose()
        if row is None:
            problems.append(f"{shown(url)}: 当前库中没有备份的最新审计记录 #{want['last_id']}：备份不是来自这个库，或库已恢复到更早的状态 "
                            f"(the store has no audit event #{want['last_id']}: another store, or an older one)")
        elif row[0] != want["last_hash"]:
            problems.append(f"{shown(url)}: 当前库中审计记录 #{want['last_id']} 的哈希与备份不符：备份不是来自这个库，或记录已被改动 "
                            f"(audit event #{want['last_id']} differs from the backup's: another store, or altered)")
    return CheckResult(manifest, len(listed), problems)


