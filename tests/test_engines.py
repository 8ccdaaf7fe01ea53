"""The two statistics engines (DuckDB, Spark) give identical answers to the pipeline's SQL.

Every query below is written in the portable spelling (docs/ARCHITECTURE.md, "One SQL text
for both statistics engines") and checked against hand-computed results, value and Python type, on
each engine; `test_engines_agree` compares the two directly. Spark starts once per test
session (5-15 s). It is marked slow and always runs in CI (CI=true): there a missing
pyspark or Java is a failure; elsewhere the Spark cases are skipped.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrss.stats import spark as spark_module
from hrss.stats.engines import DuckDBEngine, Engine, make_engine
from hrss.stats.spark import SparkUnavailableError, _spark_memory

D = datetime.date

# A ledger with the dirt the real ones have: a repeated person, a missing ID and date,
# an ID stored as a float, a date out of range, NULL amounts and flags.
EVENTS = [
    # event_id, id_number, org_unit, kind, event_date, loan, subsidised
    (1, "320382199001010019", "320382", "employment", D(2025, 1, 15), 1.25, True),
    (2, "320382199001010019", "320382", "employment", D(2025, 3, 2), 2.5, False),
    (3, "320303198512120021", "320303", "employment", D(2025, 3, 20), None, None),
    (4, "320303200002290035", "320303", "unemployment", D(2025, 12, 31), 0.00005, True),
    (5, None, "320382", "employment", None, 3.0, False),
    (6, "3.20382198001011e+17", "XZ-JKQ", "employment", D(2025, 7, 1), -0.5, True),
    (7, "320311197806060042", "XZ-JKQ", "employment", D(2099, 12, 31), None, None),
    (8, "320303198512120021", "320303", "employment", D(2024, 11, 30), 10.0, True),
]
EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("id_number", pa.string()), ("org_unit", pa.string()), ("kind", pa.string()),
    ("event_date", pa.date32()), ("loan", pa.float64()), ("subsidised", pa.bool_()),
])
UNIT_COLUMNS = [("code", "VARCHAR"), ("name", "VARCHAR"), ("is_district", "BOOLEAN"), ("target", "BIGINT"), ("weight", "DOUBLE"), ("since", "DATE"), ("sort_order", "INTEGER")]
UNITS = [
    ("320382", "邳州市", True, 3, 0.5, D(2021, 1, 1), 2),
    ("320303", "云龙区", True, 4, 1, D(2021, 1, 1), 1),  # an int for a DOUBLE, as pyarrow allows
    ("XZ-JKQ", "经济技术开发区", False, 2, None, None, 3),
    ("320305", "贾汪区", True, 1, 0.25, D(2022, 7, 1), 4),
]
SPARK_OPTIONS = {"threads": 2, "memory_limit": "1GB"}
CLEAN_VIEW = (
    "CREATE OR REPLACE TEMP VIEW clean AS SELECT * FROM events "
    "WHERE event_date IS NOT NULL AND event_date <= DATE '2025-12-31'"
)

# (name, SQL, expected rows): each as the pipeline would write it.
QUERIES: list[tuple[str, str, list[tuple[Any, ...]]]] = [
    (
        "group-count-distinct-sum",
        """SELECT org_unit, COUNT(*) AS n, COUNT(DISTINCT id_number) AS persons,
                  SUM(CAST(ROUND(loan * 10000) AS BIGINT)) AS loan_e4
           FROM clean WHERE year(event_date) = 2025 GROUP BY org_unit ORDER BY org_unit""",
        [("320303", 2, 2, 1), ("320382", 2, 1, 37500), ("XZ-JKQ", 1, 1, -5000)],
    ),
    (
        "month-index",
        """SELECT year(event_date) * 100 + month(event_date) AS ym, COUNT(*) AS n
           FROM clean GROUP BY year(event_date) * 100 + month(event_date) ORDER BY ym""",
        [(202411, 1), (202501, 1), (202503, 2), (202507, 1), (202512, 1)],
    ),
    (
        "windows",
        """SELECT event_id,
                  ROW_NUMBER() OVER (PARTITION BY id_number ORDER BY event_date NULLS LAST, event_id) AS nth,
                  SUM(CAST(ROUND(loan * 10000) AS BIGINT)) OVER (
                      PARTITION BY org_unit ORDER BY event_date NULLS LAST, event_id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
           FROM events ORDER BY event_id""",
        [(1, 1, 12500), (2, 2, 37500), (3, 2, 100000), (4, 1, 100001), (5, 1, 67500), (6, 1, -5000), (7, 1, -5000), (8, 1, 100000)],
    ),
    (
        "id-substr-cast",
        """SELECT event_id, CAST(substr(id_number, 7, 4) AS INTEGER) AS birth_year, month(event_date) AS m
           FROM events WHERE regexp_extract(id_number, '^[0-9]{17}[0-9X]$', 0) <> '' ORDER BY event_id""",
        [(1, 1990, 1), (2, 1990, 3), (3, 1985, 3), (4, 2000, 12), (7, 1978, 12), (8, 1985, 11)],
    ),
    (
        "in-case-coalesce-modulo",
        """SELECT event_id,
                  CASE WHEN kind IN ('employment', 'reemployment') THEN 'E' WHEN kind = 'unemployment' THEN 'U' ELSE '?' END AS k,
                  COALESCE(id_number, '(缺失)') AS id_number, (event_id - 5) % 3 AS r, COALESCE(subsidised, FALSE) AS sub
           FROM events WHERE org_unit IN ('320382', 'XZ-JKQ') ORDER BY event_id""",
        [
            (1, "E", "320382199001010019", -1, True),
            (2, "E", "320382199001010019", 0, False),
            (5, "E", "(缺失)", 0, False),
            (6, "E", "3.20382198001011e+17", 1, True),
            (7, "E", "320311197806060042", 2, False),
        ],
    ),
    (
        "left-join",
        """SELECT u.code, u.name, COUNT(c.event_id) AS n
           FROM units u LEFT JOIN clean c ON c.org_unit = u.code GROUP BY u.code, u.name ORDER BY u.code""",
        [("320303", "云龙区", 3), ("320305", "贾汪区", 0), ("320382", "邳州市", 2), ("XZ-JKQ", "经济技术开发区", 1)],
    ),
    (
        "anti-join",
        """SELECT u.code FROM units u
           WHERE u.is_district AND NOT EXISTS (
               SELECT 1 FROM clean c WHERE c.org_unit = u.code AND c.event_date >= DATE '2025-01-01')
           ORDER BY u.code""",
        [("320305",)],
    ),
    (
        "union-all",
        """SELECT 'events' AS src, COUNT(*) AS n FROM events
           UNION ALL SELECT 'units', COUNT(*) FROM units
           UNION ALL SELECT 'targets', SUM(target) FROM units
           ORDER BY src""",
        [("events", 8), ("targets", 10), ("units", 4)],
    ),
    (
        "date-literals",
        """SELECT COUNT(*) AS n,
                  SUM(CASE WHEN event_date > DATE '2025-12-31' THEN 1 ELSE 0 END) AS late,
                  MIN(event_date) AS first, MAX(CASE WHEN event_date <= DATE '2025-12-31' THEN event_date END) AS last
           FROM events WHERE event_date BETWEEN DATE '2025-01-01' AND DATE '2099-12-31'""",
        [(6, 1, D(2025, 1, 15), D(2025, 12, 31))],
    ),
    (
        "rows-table-types",
        "SELECT code, since, weight, sort_order, is_district FROM units WHERE since < DATE '2022-01-01' ORDER BY sort_order",
        [("320303", D(2021, 1, 1), 1.0, 1, True), ("320382", D(2021, 1, 1), 0.5, 2, True)],
    ),
    (
        "month-arithmetic",
        """SELECT event_id, make_date(year(event_date), month(event_date), 1) AS month_start,
                  last_day(event_date) AS month_end, CAST(event_date + INTERVAL 1 MONTH AS DATE) AS next_month,
                  date_add(event_date, 1) AS next_day
           FROM events WHERE event_id IN (1, 4) ORDER BY event_id""",
        [(1, D(2025, 1, 1), D(2025, 1, 31), D(2025, 2, 15), D(2025, 1, 16)), (4, D(2025, 12, 1), D(2025, 12, 31), D(2026, 1, 31), D(2026, 1, 1))],
    ),
    (
        "null-order-explicit",
        "SELECT event_id, loan FROM events WHERE event_id IN (3, 4, 8) ORDER BY loan NULLS LAST, event_id",
        [(4, 0.00005), (8, 10.0), (3, None)],
    ),
]


def typed(rows: list[tuple[Any, ...]]) -> list[tuple[tuple[str, Any], ...]]:
    """Rows with each value's type beside it: 1 and 1.0 (or True) must not pass for each other."""
    return [tuple((type(v).__name__, v) for v in row) for row in rows]


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").is_file()):
        return "no Java runtime (apt-get install openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="session")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ledgers")
    columns = list(zip(*EVENTS, strict=True))
    table = pa.table(dict(zip(EVENTS_SCHEMA.names, columns, strict=True)), schema=EVENTS_SCHEMA)
    pq.write_table(table, root / "events.parquet")
    (root / "chunks").mkdir()  # the same ledger written in two chunk files
    pq.write_table(table.slice(0, 5), root / "chunks" / "part-0.parquet")
    pq.write_table(table.slice(5), root / "chunks" / "part-1.parquet")
    return root


def _prepare(engine: Engine, ledger_dir: Path) -> Engine:
    engine.register_parquet("events", ledger_dir / "events.parquet")
    engine.register_parquet("events_chunks", ledger_dir / "chunks")
    engine.register_rows("units", UNIT_COLUMNS, UNITS)
    engine.execute(CLEAN_VIEW)
    return engine


@pytest.fixture(scope="session")
def duckdb_engine(ledger_dir: Path) -> Iterator[Engine]:
    engine = _prepare(DuckDBEngine(threads=2), ledger_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def spark_engine(ledger_dir: Path) -> Iterator[Engine]:
    missing = _spark_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI 必须测试 Spark 引擎 (CI must test the Spark engine): {missing}")
        pytest.skip(missing)
    engine = make_engine("spark", **SPARK_OPTIONS)
    _prepare(engine, ledger_dir)
    yield engine
    from pyspark import SparkContext

    proc = SparkContext._gateway.proc
    scratch = engine.log_path.parent
    engine.close()
    assert proc.poll() is not None, "close() of the last engine must end the JVM"
    assert not scratch.exists(), "close() of the last engine must remove the scratch directory"


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def stats_engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.mark.parametrize(("sql", "expected"), [pytest.param(sql, rows, id=name) for name, sql, rows in QUERIES])
def test_query(stats_engine: Engine, sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert typed(stats_engine.query(sql)) == typed(expected)


def test_parquet_directory(stats_engine: Engine) -> None:
    assert stats_engine.query("SELECT COUNT(*), SUM(event_id) FROM events_chunks") == [(8, 36)]


def test_materialise(stats_engine: Engine) -> None:
    stats_engine.materialise("people", "SELECT DISTINCT id_number FROM clean WHERE id_number IS NOT NULL")
    stats_engine.materialise("people", "SELECT DISTINCT id_number FROM clean WHERE id_number LIKE '3203%'")  # replaced
    assert stats_engine.query("SELECT COUNT(*) FROM events WHERE id_number IN (SELECT id_number FROM people)") == [(5,)]


def test_known_differences(stats_engine: Engine) -> None:
    """The spellings that differ, so that an upgrade that changes them is noticed."""
    spark = stats_engine.name == "spark"
    # ORDER BY without NULLS FIRST/LAST: DuckDB puts NULLs last, Spark first (ascending)
    first = stats_engine.query("SELECT loan FROM events WHERE event_id IN (3, 4) ORDER BY loan")[0][0]
    assert first == (None if spark else 0.00005)
    # CAST of a fractional number to an integer: DuckDB rounds, Spark truncates
    assert stats_engine.query("SELECT CAST(2.5 AS INTEGER), CAST(-3.7 AS BIGINT)") == ([(2, -3)] if spark else [(3, -4)])
    # FLOOR is DOUBLE in DuckDB and BIGINT in Spark: cast it
    assert typed(stats_engine.query("SELECT FLOOR(7 / 2), CAST(FLOOR(7 / 2) AS BIGINT)")) == typed([(3 if spark else 3.0, 3)])


def test_engines_agree(duckdb_engine: Engine, spark_engine: Engine) -> None:
    for _, sql, _ in QUERIES:
        assert typed(duckdb_engine.query(sql)) == typed(spark_engine.query(sql)), sql


def test_spark_engines_share_one_jvm(spark_engine: Engine) -> None:
    other = make_engine("spark", **SPARK_OPTIONS)  # no second start: a session of its own
    try:
        other.register_rows("only_here", [("n", "BIGINT")], [(1,), (2,)])
        assert other.query("SELECT SUM(n) FROM only_here") == [(3,)]
        with pytest.raises(Exception, match="only_here"):
            spark_engine.query("SELECT * FROM only_here")
        with pytest.raises(Exception, match="events"):
            other.query("SELECT * FROM events")
    finally:
        other.close()
    assert spark_engine.query("SELECT COUNT(*) FROM events") == [(8,)]  # the JVM is still up


def test_spark_settings_must_agree(spark_engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="is open with threads=2, memory=1g"):
        make_engine("spark", threads=1)
    with pytest.raises(RuntimeError, match="is open"):
        make_engine("spark", memory_limit="4GB")
    make_engine("spark").close()  # no particular settings: joins the running JVM


@pytest.fixture
def no_spark_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a process where no Spark engine is open (the session's one is set aside)."""
    monkeypatch.setattr(spark_module, "_jvm", None)


@pytest.mark.usefixtures("no_spark_running")
def test_spark_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
    with pytest.raises(SparkUnavailableError, match=r"未安装 Spark 引擎.*hrss\[spark\].*Java 17"):
        make_engine("spark")


@pytest.mark.usefixtures("no_spark_running")
def test_no_java(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SparkUnavailableError, match="Java 17"):
        make_engine("spark")


@pytest.mark.parametrize(("banner", "found"), [('openjdk version "11.0.22" 2024-01-16', "Java 11"), ('java version "1.8.0_292"', "Java 8"), ("", "version unreadable")])
@pytest.mark.usefixtures("no_spark_running")
def test_old_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, banner: str, found: str) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n", encoding="utf-8")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match=rf"{found}.*Java 17\+ is needed"):
        make_engine("spark")


@pytest.mark.parametrize(("limit", "jvm"), [("2g", "2g"), ("2GB", "2g"), ("4GiB", "4g"), ("1.5GB", "1536m"), ("512MB", "512m"), ("512", "512m")])
def test_memory_limit(limit: str, jvm: str) -> None:
    assert _spark_memory(limit) == jvm


def test_bad_memory_limit() -> None:
    with pytest.raises(ValueError, match="unrecognised memory size"):
        _spark_memory("lots")


def test_count_distinct(stats_engine: Engine) -> None:
    """Distinct non-NULL values (the rows used of a ledger): DuckDB counts dense integers with
    a bitmap, anything else with COUNT(DISTINCT); the answers are the same."""
    stats_engine.register_rows("keys", [("n", "BIGINT"), ("s", "VARCHAR")],
                               [(1, "a"), (2, "b"), (2, "a"), (5, None), (None, "c"), (7, "c"), (10**15, "d")])
    # dense: 1, 2, 5, 7 below 100 (the repeated 2 and the NULL not counted) = 4; of them > 1: 2, 5, 7 = 3
    assert stats_engine.count_distinct("keys", "n", "n < 100") == 4
    assert stats_engine.count_distinct("keys", "n", "n > 1 AND n < 100") == 3
    # 1 … 10^15 is too wide for a bitmap: 1, 2, 5, 7, 10^15 = 5
    assert stats_engine.count_distinct("keys", "n", "TRUE") == 5
    assert stats_engine.count_distinct("keys", "s", "TRUE") == 4  # a, b, c, d
    assert stats_engine.count_distinct("keys", "n", "n < 0") == 0
