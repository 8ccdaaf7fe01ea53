"""`hrss db backup` / `hrss db restore` on SQLite and PostgreSQL, and the drill: a backup taken
while writes go on restores to a store that passes `audit verify` and holds every
transaction committed before the backup started.

The drill against a bigger store, with a naive file copy beside it, is bench/drill_backup.py.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from hrss.audit.service import Origin, verify
from hrss.audit.tables import AuditEvent
from hrss.cli import app
from hrss.db import make_engine, session_factory, transaction
from hrss.monitoring import workflow as wf
from hrss.ops import backup as backup_module
from hrss.ops.store import revisions, serving, shown
from hrss.plan.store import prepare_store

runner = CliRunner()
UNIT, PERIOD = "沛县", "2024-03"


@pytest.fixture
def store(cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A prepared store (the cli_env's) and a ledger folder with a kept state."""
    ledgers = tmp_path / "ledgers"
    (ledgers / "_state" / "firsts" / "abc" / "fm=24252").mkdir(parents=True)
    (ledgers / "_state" / "state.json").write_text('{"fingerprint": "x", "last": 24311, "counts": {}}', encoding="utf-8")
    (ledgers / "_state" / "firsts" / "abc" / "fm=24252" / "a.parquet").write_bytes(b"PAR1 not really PAR1")
    monkeypatch.setenv("HRSS_LEDGER_DIR", str(ledgers))
    engine = make_engine(cli_env)
    prepare_store(engine)
    engine.dispose()
    return cli_env


def _events(url: str) -> list[tuple[int, str, str]]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return [tuple(r) for r in s.execute(select(AuditEvent.id, AuditEvent.action, AuditEvent.hash).order_by(AuditEvent.id))]
    finally:
        engine.dispose()


def _backup(out: Path) -> dict:
    result = runner.invoke(app, ["db", "backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with tarfile.open(out) as tar:
        return json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]


class Writer(threading.Thread):
    """Commits one audited save after another (what a busy server does) and notes when each
    commit returned: (audit event id, figure saved, monotonic time after commit)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        self.stop = threading.Event()
        self.commits: list[tuple[int, int, float]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction(self.engine) as s:
                from hrss.plan.store import stored_plan

                plan = stored_plan(s)
            assert plan is not None
            n = 0
            while not self.stop.is_set():
                n += 1
                with transaction(self.engine) as s:
                    wf.save(s, plan, plan.org_unit(UNIT), wf.monthly_period(PERIOD), {"I01": str(n)}, version=None,
                            origin=Origin(user_name="drill"))
                    event = s.scalar(select(func.max(AuditEvent.id)))  # the audit lock serialises writers: ours
                self.commits.append((event, n, time.monotonic()))
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            self.error = exc
        finally:
            self.engine.dispose()


def test_drill_backup_while_writing_restores_every_commit_before_it(store: str, tmp_path: Path) -> None:
    writer = Writer(store)
    writer.start()
    while len(writer.commits) < 20 and writer.is_alive():
        time.sleep(0.01)
    started = time.monotonic()
    before = [c for c in writer.commits if c[2] < started]  # committed before the backup started
    manifest = _backup(tmp_path / "backup.tar")
    ended = time.monotonic()
    time.sleep(0.2)  # and a few more after it, which the restore must take back
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error
    during = [c for c in writer.commits if started <= c[2] <= ended]
    assert len(during) >= 3, "the writer must keep committing while the backup runs (online)"
    written = {c[0] for c in writer.commits}
    assert max(written) > manifest["audit"]["last_id"], "some commits came after the backup's snapshot"

    result = runner.invoke(app, ["db", "restore", str(tmp_path / "backup.tar"), "--yes"])
    assert result.exit_code == 0, result.output
    assert "审计链校验通过" in result.output and "与备份清单一致" in result.output

    events = _events(store)
    ids = {e[0] for e in events}
    assert {c[0] for c in before} <= ids, "every transaction committed before the backup started is restored"
    kept = [e for e in events if e[1] == "value.saved"]
    assert {e[0] for e in kept} == {i for i in written if i <= manifest["audit"]["last_id"]}  # exactly the snapshot's
    # the newest event before the restore's own is the manifest's; the restore's comes after it
    *_, last, restored = events
    assert (last[0], last[2]) == (manifest["audit"]["last_id"], manifest["audit"]["last_hash"])
    assert restored[1] == "db.restored"
    # the restored figures are those of the snapshot's newest save, which is at least the last before the backup
    engine = make_engine(store)
    try:
        with session_factory(engine)() as s:
            assert verify(s) == []
            from hrss.plan.store import stored_plan

            plan = stored_plan(s)
            sub = wf.get_submission(s, plan, UNIT, PERIOD)
            figure = wf.pending_values(s, sub)["I01"].value
    finally:
        engine.dispose()
    saved = {c[0]: c[1] for c in writer.commits}
    newest_kept = max(e[0] for e in kept)
    assert figure == pytest.approx(saved[newest_kept] / 10000)  # the form is in 人, I01 is stored in 万人
    assert saved[newest_kept] >= max(c[1] for c in before)
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # the state came back too
    assert (Path(os.environ["HRSS_LEDGER_DIR"]) / "_state" / "state.json").read_text(encoding="utf-8").startswith('{"fingerprint": "x"')


def test_backup_is_audited_and_restore_replaces_state_and_store(store: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["user", "create", "--username", "admin8", "--role", "city_admin"]).exit_code == 0
    out = tmp_path / "b" / "one.tar"
    manifest = _backup(out)
    assert manifest["format"] == "hrss-backup" and manifest["backend"] == make_url(store).get_backend_name()
    assert manifest["schema_revision"] == revisions()[-1]
    [created] = _events(store)[:1]
    assert (manifest["audit"]["last_id"], manifest["audit"]["last_hash"]) == (created[0], created[2])
    assert [f["path"] for f in manifest["state"]["files"]] == ["state/firsts/abc/fm=24252/a.parquet", "state/state.json"]
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # personal data and password hashes inside
    assert [e[1] for e in _events(store)] == ["user.created", "db.backup"]  # recorded once it succeeded
    state = Path(os.environ["HRSS_LEDGER_DIR"]) / "_state"
    (state / "state.json").write_text("changed", encoding="utf-8")
    (state / "extra.parquet").write_bytes(b"x")
    assert runner.invoke(app, ["user", "create", "--username", "admin9", "--role", "city_admin"]).exit_code == 0
    later = tmp_path / "b" / "later.tar"
    assert _backup(later)["audit"]["last_id"] == 3  # user.created, db.backup, user.created
    checked = runner.invoke(app, ["db", "check", str(out)])  # its newest event is still the store's
    assert checked.exit_code == 0 and "备份是当前审计链的前缀" in checked.output, checked.output

    refused = runner.invoke(app, ["db", "restore", str(out)], input="n\n")  # asks first
    assert refused.exit_code == 1 and "已取消，未做任何改动" in refused.output
    assert [e[1] for e in _events(store)][-1] == "db.backup"

    before = _events(store)
    result = runner.invoke(app, ["db", "restore", str(out)], input="y\n")
    assert result.exit_code == 0, result.output
    events = _events(store)
    assert [e[1] for e in events] == ["user.created", "db.restored"]  # the backup's, then the restore's
    assert events[0] == created
    # the events written since the backup are not deleted: the store as it was is kept first,
    # beside the backup, and the restore's own event names that file
    [kept] = sorted((tmp_path / "b").glob("hrss-before-restore-*.tar"))
    with tarfile.open(kept) as tar:
        kept_manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert (kept_manifest["audit"]["last_id"], kept_manifest["audit"]["last_hash"]) == (before[-1][0], before[-1][2])
    engine = make_engine(store)
    with session_factory(engine)() as s:
        restored = s.execute(select(AuditEvent.after).where(AuditEvent.action == "db.restored")).scalar_one()
    engine.dispose()
    assert json.loads(restored)["replaced_kept_in"] == str(kept)
    listed = runner.invoke(app, ["audit", "show"])
    assert "admin9" not in listed.output and "恢复数据库 db.restored" in " ".join(listed.output.split())
    assert sorted(p.name for p in state.rglob("*") if p.is_file()) == ["a.parquet", "state.json"]
    assert (state / "state.json").read_text(encoding="utf-8").startswith('{"fingerprint": "x"')
    assert [p.name for p in state.parent.iterdir()] == ["_state"]  # nothing left beside it
    # the later backup holds events the restored store no longer has: `db check` says so
    checked = runner.invoke(app, ["db", "check", str(later)])
    assert checked.exit_code == 1 and "当前库中没有备份的最新审计记录 #3" in " ".join(checked.output.split()), checked.output


def _rewrite(archive: Path, target: Path, *, manifest: dict | None = None, damage: str | None = None,
             rename: dict[str, str] | None = None) -> Path:
    """A copy of archive with another manifest, members renamed, or one member's first byte changed (same size)."""
    with tarfile.open(archive) as src, tarfile.open(target, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            member.name = (rename or {}).get(member.name, member.name)
            if member.name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
                member.size = len(data)
            if member.name == damage:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            dst.addfile(member, io.BytesIO(data))
    return target


def test_restore_refuses_what_is_not_a_whole_backup(store: str, tmp_path: Path) -> None:
    good = tmp_path / "good.tar"
    manifest = _backup(good)
    before = _events(store)

    def refused(path: Path, *words: str, named: str | None = None) -> None:
        """Refused, naming the archive (or the target) and the cause, with nothing changed."""
        result = runner.invoke(app, ["db", "restore", str(path), "--yes"])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        said = " ".join(result.output.split())
        for w in (named or str(path), *words):
            assert w in said, (w, said)
        assert _events(store) == before  # nothing changed

    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    refused(junk, "不是可用的 HRSS 备份文件", "tar")
    bare = tmp_path / "bare.tar"
    with tarfile.open(bare, "w") as tar:
        tar.add(good, arcname="something.bin")
    refused(bare, "缺少 manifest.json")
    refused(tmp_path / "absent.tar", "文件不存在")
    refused(_rewrite(good, tmp_path / "damaged.tar", damage=manifest["database"]["path"]), "校验和与清单不符")
    damaged = runner.invoke(app, ["db", "check", str(tmp_path / "damaged.tar")])
    assert damaged.exit_code == 1 and "校验和与清单不符" in damaged.output
    older = {**manifest, "schema_revision": revisions()[-2]}
    refused(_rewrite(good, tmp_path / "older.tar", manifest=older), f"目标数据库的结构版本 {revisions()[-1]} 比备份的 {revisions()[-2]} 新",
            named=shown(store))
    newer = {**manifest, "schema_revision": "9999_future"}
    refused(_rewrite(good, tmp_path / "newer.tar", manifest=newer), "不为本程序所知")
    other = "postgresql" if manifest["backend"] == "sqlite" else "sqlite"
    member = backup_module.MEMBERS[other]
    crossed = {**manifest, "backend": other, "database": {**manifest["database"], "path": member}}
    refused(_rewrite(good, tmp_path / "other.tar", manifest=crossed, rename={manifest["database"]["path"]: member}),
            "不能跨数据库恢复")
    with tarfile.open(tmp_path / "extra.tar", "w") as tar:
        with tarfile.open(good) as src:
            for member in src.getmembers():
                tar.addfile(member, src.extractfile(member))
        tar.add(good, arcname="../evil")
    refused(tmp_path / "extra.tar", "清单以外或不安全的成员")


def test_restore_refuses_while_the_server_runs(store: str, tmp_path: Path) -> None:
    out = tmp_path / "b.tar"
    _backup(out)
    before = _events(store)
    if make_engine(store).dialect.name == "sqlite":
        held = serving(store)  # what `hrss serve` holds while it runs
    else:
        engine = make_engine(store)
        conn = engine.connect()  # a server's pooled connection
        conn.execute(text("SELECT 1"))

        class _Open:
            def __enter__(self) -> None: ...

            def __exit__(self, *exc: object) -> None:
                conn.close()
                engine.dispose()

        held = _Open()
    with held:
        result = runner.invoke(app, ["db", "restore", str(out), "--yes"])
    assert result.exit_code == 1, result.output
    assert "服务" in result.output and "正在运行" in " ".join(result.output.split())
    assert _events(store) == before
    assert runner.invoke(app, ["db", "restore", str(out), "--yes"]).exit_code == 0  # once it has stopped


def test_backup_says_what_the_disk_said(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["db", "backup", "--out", str(blocker / "b.tar")])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert str(blocker) in result.output and "不是目录" in result.output

    out_dir = tmp_path / "full"
    out_dir.mkdir()
    real = os.replace

    def full(src: os.PathLike, dst: os.PathLike) -> None:
        if Path(dst).name == "b.tar":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real(src, dst)

    with monkeypatch.context() as patched:
        patched.setattr(backup_module.os, "replace", full)
        result = runner.invoke(app, ["db", "backup", "--out", str(out_dir / "b.tar")])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert str(out_dir / "b.tar") in said and "磁盘空间已满" in said
    assert list(out_dir.iterdir()) == []  # no temporary archive, no half backup

    existing = tmp_path / "exists.tar"
    existing.write_bytes(b"")
    result = runner.invoke(app, ["db", "backup", "--out", str(existing)])
    assert result.exit_code == 1 and "文件已存在" in result.output and existing.read_bytes() == b""
    assert runner.invoke(app, ["db", "backup", "--out", str(existing), "--force"]).exit_code == 0
    assert tarfile.is_tarfile(existing)


def test_restore_without_a_ledger_folder(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store whose backup kept no state restores where no ledger folder exists (and makes none)."""
    monkeypatch.setenv("HRSS_LEDGER_DIR", str(tmp_path / "no-ledgers"))
    manifest = _backup(tmp_path / "b.tar")
    assert manifest["state"]["files"] == []
    result = runner.invoke(app, ["db", "restore", str(tmp_path / "b.tar"), "--yes"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "no-ledgers").exists()


def test_libpq_connection_string_keeps_the_password_out() -> None:
    from hrss.ops.store import libpq, shown

    url = "postgresql+psycopg://hr%40ss:s3cr%27et@db.example:5433/hrss?sslmode=require"
    conninfo, env = libpq(url)
    assert conninfo == "host='db.example' port='5433' user='hr@ss' dbname='hrss' sslmode='require'"
    assert env == {"PGPASSWORD": "s3cr'et"}
    assert "s3cr" not in shown(url)
