"""When the disk says no: a state folder or database folder that cannot be written, a full disk
during the state write. Each case gets a Chinese sentence naming the path and the cause (not a
DuckDB traceback, not SQLite's "attempt to write a readonly database"), and leaves no
temporary or truncated file behind.

CI runs as root, whom chmod does not stop, so the failures are made in ways that hold for root
too: a path whose parent is a regular file (ENOTDIR/EEXIST), the OS refusing a write at the
rename step (os.replace raising ENOSPC: fault injection of the OS, not of a component of ours),
a file size limit (RLIMIT_FSIZE: every write past it fails with EFBIG, mid-file), a real tiny
tmpfs where a user namespace may mount one (skipped where it may not), and the read-only
folders run as the unprivileged user `nobody` (setuid in the child; chmod when not root).
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

import hrss
from hrss.cli import app
from hrss.db import make_engine
from hrss.ledgers.identifiers import make_resident_id
from hrss.ledgers.schema import LEDGERS, arrow_schema
from hrss.monitoring.periods import month_index
from hrss.plan.store import prepare_store
from hrss.stats.compute import ComputeError, compute
from hrss.stats.definitions import load_definitions
from hrss.stats.engines import DuckDBEngine

runner = CliRunner()
FENG, PEI = "320321", "320322"  # 丰县, 沛县
SRC = Path(hrss.__file__).resolve().parents[1]


def _write(folder: Path, name: str, rows: list[dict]) -> None:
    schema = arrow_schema(LEDGERS[name])
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema), folder / f"{name}.parquet")


def make_ledgers(folder: Path) -> Path:
    """Three people and a few employment registrations: enough for a state to be kept."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [make_resident_id("320321", date(1980 + i, 3, 1), 10 + i) for i in range(3)]
    _write(folder, "persons", [
        {"person_id": i + 1, "id_number": n, "name": "张三", "sex": "M", "birth_date": date(1980 + i, 3, 1),
         "hukou_unit": FENG, "residence_unit": FENG, "education": "本科", "phone": "13800001234"}
        for i, n in enumerate(ids)
    ])  # fmt: skip
    _write(folder, "employment_registrations", [
        {"event_id": i + 1, "id_number": n, "credit_code": "91320300MA1XXXXXXX", "org_unit": (FENG, PEI)[i % 2],
         "event_date": date(2021, 1 + i, 5), "kind": "employment"}
        for i, n in enumerate(ids)
    ])  # fmt: skip
    return folder


@pytest.fixture
def ledgers(tmp_path: Path) -> Path:
    return make_ledgers(tmp_path / "ledgers")


@pytest.fixture
def env(tmp_path: Path, ledgers: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HRSS_DATABASE_URL", f"sqlite:///{tmp_path / 'hrss.sqlite3'}")
    monkeypatch.setenv("HRSS_LEDGER_DIR", str(ledgers))
    monkeypatch.setenv("COLUMNS", "240")
    return ledgers


def _said(result: Result) -> str:
    """What the operator read (one line), after checking it was a message, not a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files of a write (ours: .name.tmp-…; the old state.tmp) left in folder."""
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def _all_whole(folder: Path) -> None:
    for f in folder.rglob("*.parquet"):
        pq.ParquetFile(f)  # a truncated file has no footer and fails here


def compute_cli() -> Result:
    return runner.invoke(app, ["stats", "compute", "--as-of", "2021-03"])


@pytest.mark.parametrize("taken", ["_state", "_state/firsts"])
def test_a_state_path_taken_by_a_file_is_named(env: Path, taken: str) -> None:
    blocker = env / taken
    blocker.parent.mkdir(exist_ok=True)
    blocker.write_text("not a folder", encoding="utf-8")
    result = compute_cli()
    assert result.exit_code == 1
    said = _said(result)
    assert f"{blocker}: 保存统计状态失败：已存在同名文件，不是目录" in said, said
    assert "未写入任何计算结果" in said
    assert _leftovers(env) == []


def test_a_full_disk_at_the_state_write_leaves_nothing_half_written(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace

    def full(src: os.PathLike, dst: os.PathLike) -> None:  # the OS refusing the write of state.json
        if Path(dst).name == "state.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    result = compute_cli()
    assert result.exit_code == 1
    said = _said(result)
    state = env / "_state"
    assert f"{state / 'state.json'}: 保存统计状态失败：磁盘空间已满" in said, said
    assert _leftovers(state) == [] and not (state / "state.json").exists()
    _all_whole(state)


def test_a_write_refused_mid_parquet_leaves_no_truncated_file(plan, ledgers: Path) -> None:
    """RLIMIT_FSIZE makes every write past 300 bytes fail (EFBIG), inside DuckDB's COPY."""
    engine = DuckDBEngine(threads=1)
    old_limit, old_handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (300, old_limit[1]))
        with pytest.raises(ComputeError) as caught:
            compute(plan, load_definitions(plan), ledgers, engine, month_index(2021, 3), today=date(2026, 11, 26))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
        engine.close()
    said = str(caught.value)
    assert said.startswith(str(ledgers / "_state")) and "文件超过允许的大小" in said and "(file too large)" in said, said
    assert "Traceback" not in said and len(said) < 400
    assert _leftovers(ledgers) == []
    _all_whole(ledgers / "_state")


def _may_mount() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = tempfile.mkdtemp()
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=16k tmpfs "$0"', probe],
                              capture_output=True, timeout=30).returncode == 0  # fmt: skip
    finally:
        os.rmdir(probe)


CHECK = """
import sys
from pathlib import Path
import pyarrow.parquet as pq
state = Path(sys.argv[1])
for f in state.rglob("*"):
    if ".tmp" in f.name:
        print("LEFT", f)
    elif f.suffix == ".parquet":
        try:
            pq.ParquetFile(f)
        except Exception as exc:
            print("TRUNCATED", f, exc)
print("CHECKED")
"""


@pytest.mark.skipif(not _may_mount(), reason="no user namespace here to mount a tiny tmpfs in")
def test_a_really_full_state_disk(env: Path, tmp_path: Path) -> None:
    """`<ledger dir>/_state` on a 12 KB tmpfs (in a user and mount namespace of its own)."""
    state = env / "_state"
    state.mkdir()
    engine = make_engine(os.environ["HRSS_DATABASE_URL"])
    prepare_store(engine)
    engine.dispose()
    script = ('mount -t tmpfs -o size=12k tmpfs "$0" || exit 99; "$1" -m hrss.cli stats compute --as-of 2021-03; '
              'echo "rc=$?"; "$1" -c "$2" "$0"')  # fmt: skip
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(state), sys.executable, CHECK],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "400"})  # fmt: skip
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "rc=1" in said and "CHECKED" in said, said
    assert f"{state}" in said and "保存统计状态失败：磁盘空间已满" in said and "(no space left on device)" in said, said
    assert "Traceback" not in said and "IOException" not in said
    assert "LEFT" not in said and "TRUNCATED" not in said, said


def test_a_database_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "hrss.cli", "db", "upgrade"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HRSS_DATABASE_URL": f"sqlite:///{blocker}/db/hrss.sqlite3", "COLUMNS": "400"})  # fmt: skip
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 2, said
    assert f"{blocker / 'db'}: 创建数据库所在目录失败：路径中的某一级不是目录" in said, said
    assert "Traceback" not in said


# --- read-only folders, as a user they stop --------------------------------------------------


def _unprivileged() -> tuple[list[str], dict[str, str], dict]:
    """(python command, environment, Popen options) that run hrss as a user chmod stops:
    ourselves when not root, else `nobody` with an interpreter nobody can run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRSS_")} | {"COLUMNS": "400"}
    if os.geteuid() != 0:
        return [sys.executable], env, {}
    env |= {"PYTHONPATH": os.pathsep.join([str(SRC), sysconfig.get_paths()["purelib"]]), "HOME": "/tmp",
            "USER": "nobody", "LOGNAME": "nobody", "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    options = {"user": 65534, "group": 65534, "extra_groups": []}
    wanted = f"{sys.version_info.major}.{sys.version_info.minor}"
    for python in dict.fromkeys([sys.executable, shutil.which(f"python{wanted}"), "/usr/bin/python3"]):
        try:
            if python and subprocess.run([python, "-c", "import hrss.cli"], env=env, capture_output=True, timeout=60,
                                         cwd="/tmp", **options).returncode == 0:  # fmt: skip
                return [python], env, options
        except OSError:  # e.g. an interpreter under /root
            continue
    pytest.skip("no Python interpreter that the user nobody may run")


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A folder everyone may enter (tmp_path is root's only)."""
    base = Path(tempfile.mkdtemp(prefix="hrss-ro-"))
    base.chmod(0o755)
    yield base
    for p in [base, *base.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(base)


def _run_as(cmd: list[str], env: dict[str, str], options: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "-m", "hrss.cli", *args], env=env, capture_output=True, text=True, timeout=300, cwd="/tmp", **options)


def test_a_read_only_database_folder_is_named(public_tmp: Path) -> None:
    """The file is writable, its folder is not: SQLite cannot create hrss.sqlite3-wal."""
    cmd, env, options = _unprivileged()
    folder = public_tmp / "db"
    folder.mkdir()
    database = folder / "hrss.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    prepare_store(engine)
    engine.dispose()
    for f in folder.iterdir():
        f.chmod(0o666)  # the files may be written by anyone; the folder only by its owner
    folder.chmod(0o755 if options else 0o555)
    env["HRSS_DATABASE_URL"] = f"sqlite:///{database}"
    proc = _run_as(cmd, env, options, "db", "upgrade")
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 2, said
    assert f"{folder}: 数据库所在目录不可写（没有写入权限）：SQLite 须在数据库文件旁创建日志文件 hrss.sqlite3-wal" in said, said
    assert "Traceback" not in said


def test_a_read_only_state_folder_is_named(public_tmp: Path) -> None:
    cmd, env, options = _unprivileged()
    ledgers = make_ledgers(public_tmp / "ledgers")
    state = ledgers / "_state"
    state.mkdir()
    db = public_tmp / "db"
    db.mkdir()
    engine = make_engine(f"sqlite:///{db / 'hrss.sqlite3'}")
    prepare_store(engine)
    engine.dispose()
    for f in [db, *db.iterdir()]:
        f.chmod(0o777 if f.is_dir() else 0o666)
    state.chmod(0o755 if options else 0o555)  # nobody (or we) may read it, not write it
    env |= {"HRSS_DATABASE_URL": f"sqlite:///{db / 'hrss.sqlite3'}", "HRSS_LEDGER_DIR": str(ledgers)}
    proc = _run_as(cmd, env, options, "stats", "compute", "--as-of", "2021-03")
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, said
    assert f"{state / 'lock'}: 保存统计状态失败：没有写入或访问权限" in said and "未写入任何计算结果" in said, said
    assert "Traceback" not in said
