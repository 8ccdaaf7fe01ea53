"""实名制自动统计 on generated ledgers: every indicator filled, dirt never reaches a value,
incremental equals full, and the command line from compute to evaluate, reconcile and report."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from hrss.audit.tables import AuditEvent
from hrss.cli import app
from hrss.db import make_engine, session_factory
from hrss.ledgers.sample import SAMPLE_FILE
from hrss.ledgers.schema import LEDGERS
from hrss.ledgers.synth import generate
from hrss.monitoring.periods import month_index
from hrss.stats import compute as compute_module
from hrss.stats.compute import CITY, ComputeError, compute
from hrss.stats.definitions import load_definitions
from hrss.stats.engines import DuckDBEngine
from hrss.stats.state import STATE_DIR, State

TODAY = date(2026, 11, 26)
AS_OF = month_index(2025, 12)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ledgers")
    generate(out, "small", seed=7)
    return out


def run(plan, folder: Path, since: int | None = None):
    engine = DuckDBEngine(threads=2)
    try:
        return compute(plan, load_definitions(plan), folder, engine, AS_OF, since=since, today=TODAY)
    finally:
        engine.close()


def values(result) -> dict[tuple[str, str, str], tuple[float, float | None, float | None]]:
    return {(v.indicator, v.org_unit, v.period.label): (v.value, v.numerator, v.denominator) for v in result.values}


@pytest.fixture(scope="module")
def full(plan, small: Path):
    return run(plan, small)


def test_every_derivable_indicator_for_every_unit_and_month(plan, full):
    got = values(full)
    definitions = load_definitions(plan)
    months = 60
    units = [u.name for u in plan.leaves(plan.city_unit.name)]
    for d in definitions:
        # the city has a value every month for every indicator — but rates by due date (I15, I17:
        # cases fall due 60 days after filing) have no cases due in the first two months of 2021
        city = sum((d.indicator, plan.city_unit.name, f"{y}-{m:02d}") in got for y in range(2021, 2026) for m in range(1, 13))
        assert city == (months - 2 if d.indicator in ("I15", "I17") else months), d.indicator
        have = sum(1 for k in got if k[0] == d.indicator and k[1] in units)
        if not d.is_rate or d.indicator in ("I02", "I09", "I11", "I18"):
            # counts and stock rates: every reporting unit, every month (one unit may lack a
            # rate's parts: 市直 has no events in the ledgers split like 附件表1)
            assert have >= (len(units) - 1) * months, (d.indicator, have)
        else:
            # flow rates: a unit-month without cases has no rate (about 10 cases a month at this scale)
            assert have > 0, d.indicator
    assert full.skipped == {}
    assert full.indicators == sorted(d.indicator for d in definitions)


def test_values_are_plausible(plan, full):
    got = values(full)
    city = plan.city_unit.name
    # rates near the plan's figures that the generator aims for
    assert 1.0 < got[("I02", city, "2025-12")][0] < 4.0
    assert 85 < got[("I09", city, "2025-12")][0] < 95
    assert 750 < got[("I11", city, "2025-12")][0] < 850
    assert 65 < got[("I18", city, "2025-12")][0] < 78
    # rates keep their parts: value = numerator / denominator × scale
    v, n, d = got[("I19", city, "2025-06")]
    assert v == pytest.approx(n / d * 100)
    # the city's count of a flow is the sum of its units'; persons first-in-year may be fewer
    units = [u.name for u in plan.leaves(city)]
    assert got[("I03", city, "2025-03")][0] == pytest.approx(sum(got[("I03", u, "2025-03")][0] for u in units))
    assert got[("I01", city, "2025-03")][0] <= sum(got[("I01", u, "2025-03")][0] for u in units) + 1e-9


def without_dirt(src: Path, dst: Path) -> None:
    """Copy the ledgers without the rows the generator made dirty (its answer key).

    A person whose ID number is valid stays in the register even if another of their
    fields is empty: the ID is what events join on, and the quality report lists the gap."""
    dirt = duckdb.sql(f"SELECT ledger, row_index, kind, \"column\" FROM read_parquet('{src / '_dirt.parquet'}')").fetchall()
    drop: dict[str, set[int]] = {}
    for ledger, index, kind, column in dirt:
        if ledger == "persons" and kind == "missing" and column != "id_number":
            continue
        drop.setdefault(ledger, set()).add(index)
    for path in src.glob("*.parquet"):
        if path.stem == "_dirt":
            continue
        table = pq.read_table(path)
        rows = drop.get(path.stem, set())
        keep = pa.array([i not in rows for i in range(table.num_rows)])
        pq.write_table(pc.filter(table, keep) if rows else table, dst / path.name)
    shutil.copy(src / SAMPLE_FILE, dst / SAMPLE_FILE)  # the same sample of the city


def test_dirt_never_reaches_a_value(plan, small: Path, full, tmp_path: Path):
    without_dirt(small, tmp_path)
    clean = run(plan, tmp_path)
    assert values(clean) == values(full)
    # and there was dirt to remove: every event ledger lost rows to cleaning
    for ledger, (rows, used) in full.rows.items():
        assert rows > used or ledger == "postdocs", ledger


def test_one_new_month_equals_the_full_run(plan, small: Path, full):
    last = run(plan, small, since=AS_OF)
    assert last.incremental  # from the state the full run kept
    expected = {k: v for k, v in values(full).items() if k[2] == "2025-12"}
    assert values(last) == expected
    # and the same when re-reading the history instead (no state, e.g. the Spark engine)
    engine = DuckDBEngine(threads=2)
    try:
        rescan = compute(plan, load_definitions(plan), small, engine, AS_OF, since=AS_OF, today=TODAY, keep_state=False)
    finally:
        engine.close()
    assert not rescan.incremental and values(rescan) == expected


def copy_ledgers(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(STATE_DIR))
    return dst


def test_new_months_use_the_kept_state_not_the_history(plan, small: Path, full, tmp_path: Path):
    folder = copy_ledgers(small, tmp_path / "ledgers")
    assert values(run(plan, folder)) == values(full)  # a full run keeps the state
    assert (folder / STATE_DIR / "state.json").exists()
    for since in (month_index(2025, 7), month_index(2024, 1)):  # mid-year and a January
        got = run(plan, folder, since=since)
        assert got.incremental
        assert values(got) == {k: v for k, v in values(full).items() if month_index(*map(int, k[2].split("-"))) >= since}
    # Proof that history is not re-read: drop every row before December from two ledgers of
    # persons counted once (I10 graduates, I11 high-skill certificates, cumulative since 2021).
    since = AS_OF
    for ledger in ("graduates_attracted", "certificates"):
        table = pq.read_table(folder / f"{ledger}.parquet")
        pq.write_table(table.filter(pc.field("event_date") >= date(2025, 12, 1)), folder / f"{ledger}.parquet")
    expected = {k: v for k, v in values(full).items() if k[2] == "2025-12"}
    assert values(run(plan, folder, since=since)) == expected  # the kept state still knows who was counted
    engine = DuckDBEngine(threads=2)
    try:
        rescan = compute(plan, load_definitions(plan), folder, engine, AS_OF, since=since, today=TODAY, keep_state=False)
    finally:
        engine.close()
    city = ("I11", "徐州市", "2025-12")
    assert values(rescan)[city][0] < expected[city][0]  # re-reading the cut history loses 2021–2025's firsts


def december_only(folder: Path) -> list[str]:
    """Register ID numbers whose every event row (each of its dates) lies in December 2025."""
    parts = []
    for name, spec in LEDGERS.items():
        if spec.kind in ("event", "spells") and (folder / f"{name}.parquet").exists():
            for column in (c.name for c in spec.columns if c.type == "DATE"):
                parts.append(f"SELECT id_number AS i, {column} AS d FROM read_parquet('{folder / name}.parquet')")
    sql = (f"SELECT i FROM ({' UNION ALL '.join(parts)}) e WHERE i IS NOT NULL GROUP BY i "
           f"HAVING MIN(COALESCE(d, DATE '2025-12-01')) >= DATE '2025-12-01' ORDER BY i")  # fmt: skip
    return [i for (i,) in duckdb.sql(sql).fetchall()]


def test_a_new_month_checks_only_the_id_numbers_it_uses(plan, small: Path, full, tmp_path: Path):
    folder = copy_ledgers(small, tmp_path / "ledgers")
    definitions = load_definitions(plan)
    engine = DuckDBEngine(threads=2)
    try:
        compute(plan, definitions, folder, engine, AS_OF, today=TODAY)  # keeps the state and the valid IDs
        register = engine.query("SELECT COUNT(*) FROM persons_ok")[0][0]
        last = compute(plan, definitions, folder, engine, AS_OF, since=AS_OF, today=TODAY)
        looked_up = engine.query("SELECT COUNT(*) FROM persons_ok")[0][0]
    finally:
        engine.close()
    assert last.incremental and values(last) == {k: v for k, v in values(full).items() if k[2] == "2025-12"}
    assert 0 < looked_up < register / 2  # a month's rows use a fraction of the register
    # The register changes (the kept valid IDs are then stale): people whose only rows are in
    # December leave it, so those rows become orphans. The new month checks the new register.
    gone = december_only(folder)
    assert len(gone) >= 10
    persons = pq.read_table(folder / "persons.parquet")
    pq.write_table(persons.filter(pc.invert(pc.is_in(persons["id_number"], pa.array(gone)))), folder / "persons.parquet")
    assert not State(folder).persons_cache(folder / "persons.parquet", TODAY)[1]
    changed = run(plan, folder, since=AS_OF)
    engine = DuckDBEngine(threads=2)
    try:  # the same month re-read from the whole history with the new register, nothing kept
        rescan = compute(plan, definitions, folder, engine, AS_OF, since=AS_OF, today=TODAY, keep_state=False)
    finally:
        engine.close()
    assert changed.incremental and values(changed) == values(rescan)
    before = {k: v for k, v in values(full).items() if k[2] == "2025-12"}
    assert values(changed) != before, "the people who left the register counted in December"


def test_a_narrow_run_gives_the_same_as_a_wide_one(plan, small: Path, full, monkeypatch: pytest.MonkeyPatch):
    # small: ~240k event rows against a register of 40k, so the whole period runs wide; made
    # narrow, it reads every ledger first and checks only the ID numbers the rows use
    monkeypatch.setattr(compute_module, "NARROW_BELOW", 1000.0)
    engine = DuckDBEngine(threads=2)
    try:
        narrow = compute(plan, load_definitions(plan), small, engine, AS_OF, today=TODAY, keep_state=False)
        assert engine.query("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name LIKE 'hrss_rows_%'") == [(0,)]
    finally:
        engine.close()
    assert narrow.counts == full.counts and narrow.rows == full.rows and values(narrow) == values(full)


def test_a_second_run_at_the_same_time_is_refused(plan, small: Path, full, tmp_path: Path):
    folder = copy_ledgers(small, tmp_path / "ledgers")
    with State(folder).locked(), pytest.raises(ComputeError, match="另一个统计计算正在使用该台账目录"):
        run(plan, folder)  # as if another process were computing on this folder
    assert values(run(plan, folder)) == values(full)  # and once it is done


def test_no_usable_state_means_rereading(plan, small: Path, tmp_path: Path):
    folder = copy_ledgers(small, tmp_path / "ledgers")
    first = run(plan, folder, since=AS_OF)  # nothing kept yet
    assert not first.incremental and not (folder / STATE_DIR / "state.json").exists()
    definitions = load_definitions(plan)
    engine = DuckDBEngine(threads=2)
    try:
        compute(plan, definitions, folder, engine, AS_OF, today=TODAY)  # keeps the state
        fewer = compute(plan, definitions[:3], folder, engine, AS_OF, since=AS_OF, today=TODAY)
    finally:
        engine.close()
    assert not fewer.incremental  # other definitions: the state is not theirs
    assert values(fewer) == {k: v for k, v in values(first).items() if k[0] in {d.indicator for d in definitions[:3]}}


def test_cli_compute_evaluate_reconcile_report(cli_env: str, small: Path, tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(app, ["demo"]).exit_code == 0
    done = runner.invoke(app, ["stats", "compute", "--as-of", "2025-12", "--dir", str(small)])
    assert done.exit_code == 0, done.output
    assert "已计算 (computed) 20 项指标 2021-01..2025-12" in done.output
    assert "employment_registrations" in done.output
    assert "样本推算" in done.output  # the synthetic ledgers are a sample: counts scaled up by their fractions
    # evaluation on the computed values (the reported ones stay the default)
    ev = runner.invoke(app, ["evaluate", "--as-of", "2025-12", "--source", "computed", "--format", "json"])
    assert ev.exit_code == 0, ev.output
    rows = json.loads(ev.output)
    city = {r["indicator"]: r for r in rows if r["org_unit"] == "徐州市"}
    assert city["申领电子社保卡人口覆盖率"]["actual"] > 60
    assert city["公共人力资源市场举办招聘数"]["actual"] is None  # A03 is not derivable
    reported = json.loads(runner.invoke(app, ["evaluate", "--as-of", "2025-12", "--format", "json"]).output)
    assert {r["indicator"]: r["actual"] for r in reported if r["org_unit"] == "徐州市"} != {k: v["actual"] for k, v in city.items()}
    # recompute one month: replaces that month only
    again = runner.invoke(app, ["stats", "compute", "--as-of", "2025-12", "--since", "2025-12", "--dir", str(small)])
    assert again.exit_code == 0 and "2025-12..2025-12" in again.output
    rec = runner.invoke(app, ["stats", "reconcile", "--as-of", "2025-12", "--format", "json"])
    assert rec.exit_code == 0, rec.output
    recon = json.loads(rec.output)
    i09 = next(r for r in recon if r["indicator"] == "I09" and r["org_unit"] == "徐州市")
    assert i09["basis"] == "12月末" and i09["difference"] == pytest.approx(i09["reported"] - i09["computed"])
    assert i09["flagged"] == (abs(i09["difference"]) > 1.0)
    i01 = next(r for r in recon if r["indicator"] == "I01" and r["org_unit"] == "徐州市")
    assert not i01["flagged"]  # the sample, scaled up, agrees with the simulated reports of the same city
    assert abs(i01["relative"]) < 0.01
    table = runner.invoke(app, ["stats", "reconcile", "--as-of", "2025-12"])
    assert table.exit_code == 0 and "样本推算" in table.output
    # the monthly briefing carries the reconciliation
    out = tmp_path / "reports"
    rep = runner.invoke(app, ["report", "--kind", "monthly", "--as-of", "2025-12", "--out", str(out)])
    assert rep.exit_code == 0, rep.output
    xlsx = next(out.glob("*.xlsx"))
    sheet = load_workbook(xlsx)["数据会审"]
    assert sheet.max_row == len(recon) + 1
    from docx import Document

    text = "\n".join(p.text for p in Document(str(next(out.glob("*.docx")))).paragraphs)
    assert "数据会审" in text
    assert "样本推算" in text  # the computed side is an estimate from a sample, and the briefing says so
    # every write of the command line is an audit event
    engine = make_engine(cli_env)
    try:
        with session_factory(engine)() as session:
            events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    finally:
        engine.dispose()
    assert [e.action for e in events] == ["demo.loaded", "stats.computed", "stats.computed", "report.generated"]
    computed = json.loads(events[1].after or "")
    assert (computed["first"], computed["last"], computed["engine"], computed["incremental"]) == ("2021-01", "2025-12", "duckdb", False)
    assert computed["indicators"] == 20 and computed["stored"] > 0
    assert json.loads(events[2].after or "")["first"] == "2025-12"
    assert all(e.user_name.startswith("cli:") for e in events)


def test_missing_register_is_an_error(plan, tmp_path: Path):
    with pytest.raises(ComputeError, match="persons.parquet"):
        run(plan, tmp_path)


def test_an_unreadable_ledger_is_named(plan, small: Path, tmp_path: Path):
    folder = copy_ledgers(small, tmp_path / "ledgers")
    (folder / "training.parquet").write_bytes(b"PAR1 not a ledger")
    with pytest.raises(ComputeError, match=r"training\.parquet: 无法读取的 Parquet 文件"):
        run(plan, folder)


def test_city_key_is_not_an_org_unit_code(plan):
    assert all(u.code != CITY for u in plan.org_units)


@pytest.mark.slow
def test_spark_gives_identical_results(plan, small: Path, full):
    """The same definitions and SQL on Spark (local mode): every count and value identical."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None or not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        if os.environ.get("CI") == "true":
            pytest.fail("CI 必须测试 Spark 引擎 (CI must test the Spark engine): pyspark or Java missing")
        pytest.skip("pyspark or Java is not installed")
    from hrss.stats.engines import make_engine

    engine = make_engine("spark")
    try:
        spark = compute(plan, load_definitions(plan), small, engine, AS_OF, today=TODAY)
        last = compute(plan, load_definitions(plan), small, engine, AS_OF, since=AS_OF, today=TODAY)
        with pytest.MonkeyPatch.context() as patch:  # the narrow way (rows read first), as for a sample
            patch.setattr(compute_module, "NARROW_BELOW", 1000.0)
            narrow = compute(plan, load_definitions(plan), small, engine, AS_OF, today=TODAY)
    finally:
        engine.close()
    assert narrow.counts == full.counts and values(narrow) == values(full)
    assert spark.engine == "spark"
    assert spark.counts == full.counts
    assert spark.rows == full.rows
    assert values(spark) == values(full)
    assert values(last) == {k: v for k, v in values(full).items() if k[2] == "2025-12"}


def test_rejects_account_for_every_row_left_out(plan, small: Path, full, tmp_path: Path):
    from hrss.stats.rejects import REASONS, write_rejects

    out = tmp_path / "rejects.parquet"
    summary = write_rejects(plan, small, out, today=TODAY)
    rejected: dict[str, int] = {}
    for s in summary:
        assert s.reason in REASONS
        rejected[s.ledger] = rejected.get(s.ledger, 0) + s.count
    # nothing is dropped silently: rows read = rows used + rows rejected, ledger by ledger
    for ledger, (rows, used) in full.rows.items():
        assert rows == used + rejected.get(ledger, 0), ledger
    # every dirty row of the answer key is among the rejects, and ID numbers are masked
    rej = duckdb.sql(f"SELECT ledger, row_key, id_masked FROM read_parquet('{out}')").fetchall()
    keys = {(a, b) for a, b, _ in rej}
    dirt = duckdb.sql(
        f"SELECT ledger, row_key FROM read_parquet('{small / '_dirt.parquet'}') "
        "WHERE ledger NOT IN ('enterprises') AND NOT (ledger = 'persons' AND kind = 'missing' AND \"column\" <> 'id_number') "
        "AND row_key IS NOT NULL AND row_key <> ''"
    ).fetchall()
    assert set(dirt) <= keys
    assert all(m is None or "********" in m or m.endswith("***") for _, _, m in rej)
