"""Backup drill: `hrss db backup` while a writer commits without pause, against a naive file copy.

A store (SQLite file by default, or --database-url for PostgreSQL) gets the demo data and
--pad-mb of filler rows (a table of the drill's own, so that copying takes a while); a writer
*process* then commits audited saves (workflow.save, the service the web's form calls) one
after another and logs each commit's audit event id and the time its commit returned.
Each round, while it writes:

- SQLite only, first, the naive copies an operator might make: `cp hrss.sqlite3` (the main
  file alone, no checkpoint) and `cp hrss.sqlite3 hrss.sqlite3-wal` (both files, one after the
  other), each opened afterwards: does it open, pass `PRAGMA integrity_check` and the audit
  chain, and which commits that returned before the copy started are missing;
- then `hrss db backup --out FILE` as a command, then `hrss db restore FILE --yes` into a
  fresh store (a new SQLite file, or a new PostgreSQL database), and the same questions.

The writer stops at the end; the commits' log decides what each copy should have held.
Lost = commits that returned before the copy (or the backup) started but are not in it.

Usage: .venv/bin/python bench/drill_backup.py [--rounds 5] [--pad-mb 200] [--gap 2]
       [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from hrss.audit.service import Origin, verify
from hrss.audit.tables import AuditEvent
from hrss.db import make_engine, session_factory, transaction

UNIT, PERIOD = "沛县", "2024-03"
HRSS = [sys.executable, "-m", "hrss.cli"]


def writer(url: str, log: Path, stop: Path) -> None:
    """The writer process: audited saves until the stop file appears; one log line per commit."""
    from hrss.monitoring import workflow as wf
    from hrss.plan.store import stored_plan

    engine = make_engine(url)
    with transaction(engine) as s:
        plan = stored_plan(s)
    n = 0
    with open(log, "a", buffering=1) as out:
        while not stop.exists():
            n += 1
            with transaction(engine) as s:
                wf.save(s, plan, plan.org_unit(UNIT), wf.monthly_period(PERIOD), {"I01": str(n)}, version=None,
                        origin=Origin(user_name="drill"))
                event = s.scalar(select(func.max(AuditEvent.id)))
            out.write(f"{event} {time.time():.6f}\n")  # after the commit returned
    engine.dispose()


def prepare(url: str, pad_mb: int) -> None:
    from hrss.monitoring.demo import build_demo, load_demo
    from hrss.plan.store import prepare_store

    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE drill_padding (id INTEGER PRIMARY KEY, body TEXT)"))
        rows = pad_mb * 1024 * 1024 // 4000
        for start in range(0, rows, 2000):
            conn.execute(text("INSERT INTO drill_padding (id, body) VALUES (:id, :body)"),
                         [{"id": i, "body": os.urandom(2000).hex()} for i in range(start, min(rows, start + 2000))])  # incompressible
    engine.dispose()


def audit_ids(url: str) -> tuple[set[int], bool]:
    """(audit event ids, whether the chain verifies) of the store at url."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            ids = set(s.scalars(select(AuditEvent.id)))
            return ids, verify(s) == []
    finally:
        engine.dispose()


def inspect_copy(path: Path) -> dict[str, object]:
    """Open a naive copy as SQLite would: integrity, audit chain, ids present."""
    try:
        con = sqlite3.connect(path)
        ok = con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        ids, chain = audit_ids(f"sqlite:///{path}")
        return {"opens": True, "integrity": ok, "chain": chain, "ids": ids}
    except Exception as exc:  # noqa: BLE001 (a broken copy is a result)
        return {"opens": False, "integrity": False, "chain": False, "ids": set(), "error": str(exc)[:120]}


def commits(log: Path) -> list[tuple[int, float]]:
    lines = [line.split() for line in log.read_text().splitlines()]
    return [(int(parts[0]), float(parts[1])) for parts in lines if len(parts) == 2]  # not a line being written


def lost(log: Path, started: float, present: set[int]) -> int:
    return sum(1 for event, at in commits(log) if at < started and event not in present)


def fresh_target(url: str, work: Path, round_no: int) -> str:
    if make_url(url).get_backend_name() == "sqlite":
        return f"sqlite:///{work / f'restored-{round_no}.sqlite3'}"
    name = f"{make_url(url).database}_restore_{round_no}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    work = Path(tempfile.mkdtemp(prefix="hrss-drill-backup-"))
    url = args.database_url or f"sqlite:///{work / 'hrss.sqlite3'}"
    sqlite = make_url(url).get_backend_name() == "sqlite"
    env = {**os.environ, "HRSS_DATABASE_URL": url, "HRSS_LEDGER_DIR": str(work / "ledgers"), "COLUMNS": "200"}
    print(f"准备数据 (preparing): demo + {args.pad_mb} MB → {url}", flush=True)
    prepare(url, args.pad_mb)
    log, stop = work / "commits.log", work / "stop"
    proc = subprocess.Popen([sys.executable, __file__, "--writer", url, str(log), str(stop)])
    rows: list[dict[str, object]] = []
    try:
        while not log.exists() or len(commits(log)) < 20:  # the writer is under way
            time.sleep(0.1)
        time.sleep(args.gap)
        for r in range(1, args.rounds + 1):
            row: dict[str, object] = {"round": r}
            if sqlite:
                db = Path(make_url(url).database)
                for kind, files in (("cp main", [db]), ("cp main+wal", [db, Path(f"{db}-wal")])):
                    target = work / f"naive-{r}-{kind.replace(' ', '_').replace('+', '_')}.sqlite3"
                    started = time.time()
                    for f in files:
                        if f.exists():
                            shutil.copyfile(f, Path(str(target) + f.name[len(db.name):]))
                    seen = inspect_copy(target)
                    row[kind] = {"lost": lost(log, started, seen["ids"]),  # type: ignore[arg-type]
                                 **{k: v for k, v in seen.items() if k != "ids"}}
            out = work / f"backup-{r}.tar"
            started = time.time()
            done = subprocess.run([*HRSS, "db", "backup", "--out", str(out)], env=env, capture_output=True, text=True)
            ended = time.time()
            assert done.returncode == 0, done.stderr + done.stdout
            target = fresh_target(url, work, r)
            restore_started = time.time()
            restored = subprocess.run([*HRSS, "db", "restore", str(out), "--yes"], env={**env, "HRSS_DATABASE_URL": target},
                                      capture_output=True, text=True)  # fmt: skip
            restore_seconds = round(time.time() - restore_started, 2)
            if restored.returncode != 0:
                print(restored.stdout[-1500:], restored.stderr[-1500:], file=sys.stderr)
            ids, chain = audit_ids(target)
            during = sum(1 for _, at in commits(log) if started <= at <= ended)
            row["hrss db backup"] = {"lost": lost(log, started, ids), "restore_ok": restored.returncode == 0,
                                     "chain": chain, "seconds": round(ended - started, 2), "commits_during": during,
                                     "restore_seconds": restore_seconds,
                                     "bytes": out.stat().st_size}  # fmt: skip
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
            time.sleep(args.gap)
    finally:
        stop.touch()
        proc.wait(60)
    total = len(commits(log))
    print(f"写入提交 (commits written): {total}; 机器 (machine): {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        if not sqlite:
            admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for r in range(1, args.rounds + 1):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}_restore_{r}"'))
            admin.dispose()
    return rows


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        writer(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pad-mb", type=int, default=200, help="filler rows to make the store this big")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds of writing between rounds")
    parser.add_argument("--database-url", help="PostgreSQL: a database the drill may fill (restores go to new ones beside it)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    rows = run(parser.parse_args())
    bad = [r for r in rows if r["hrss db backup"]["lost"] or not r["hrss db backup"]["chain"]]  # type: ignore[index]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
