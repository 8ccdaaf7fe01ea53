"""The Spark engine (Spark 引擎): the same indicator SQL as DuckDB, on a local SparkSession.

Optional: `pip install 'hrss[spark]'` brings pyspark, and Spark 4 needs a Java 17+ runtime
(`java` on PATH, or JAVA_HOME). Nothing is fetched at run time: no Maven packages, no UI,
no event log; the driver binds to 127.0.0.1 and all scratch files go to one temporary
directory that `close()` removes along with the JVM.

Semantics are pinned so that results match DuckDB's: ANSI mode on (a bad CAST or an
integer overflow is an error, as in DuckDB, instead of Spark's legacy silent NULL), session
time zone Asia/Shanghai, Parquet dates read as proleptic Gregorian (how pyarrow and DuckDB
write them). Decimal results come back as int when integral, else float.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

NEEDS_JAVA = "需要 Java 17 或更高版本 (Java 17+ is needed: apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
NOT_INSTALLED = f"未安装 Spark 引擎 (Spark engine not installed): pip install 'hrss[spark]'；{NEEDS_JAVA}"
TIME_ZONE = "Asia/Shanghai"

# Warnings and errors only (into the engine's log file); start-up warnings that say nothing about
# the computation (no native Hadoop library, host name is loopback, spark.local.dir note) are muted.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
logger.sparkconf.name = org.apache.spark.SparkConf
logger.sparkconf.level = error
"""


class SparkUnavailableError(ImportError):
    """pyspark or a Java 17+ runtime is missing, or the JVM did not start (the message says what to do).

    An ImportError, so that callers that guard an optional engine's import catch it too."""


@dataclass
class _Jvm:
    """The process's one SparkContext (and JVM), shared by the SparkEngines that are open."""

    root: Any  # the first SparkSession; each engine works in its own newSession()
    cores: int
    memory: str  # driver memory, as the JVM writes it ("2g")
    scratch: Path
    log: BinaryIO
    users: int = 0
    cleanup: Any = None  # closes the log, removes scratch; at the latest when Python exits


_jvm: _Jvm | None = None


class SparkEngine:
    """A local SparkSession (local[threads]).

    Engines open at the same time share one JVM (Spark allows one per process), each with
    its own session, so temporary views do not leak between them; the JVM starts with the
    first and stops when the last is closed. A later engine that asks for other threads or memory
    than the running JVM has is refused; one that asks for none joins it."""

    name = "spark"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        global _jvm
        cores, memory = threads or 2, _spark_memory(memory_limit or "2g")
        if _jvm is None:
            _jvm = _start(cores, memory)
        elif (threads and threads != _jvm.cores) or (memory_limit and memory != _jvm.memory):
            raise RuntimeError(
                f"已有 Spark 引擎在运行 (a Spark engine is open with threads={_jvm.cores}, memory={_jvm.memory}; "
                f"close it first, or ask for the same or for no particular settings)"
            )
        _jvm.users += 1
        self.spark: Any = _jvm.root.newSession()
        self.log_path = _jvm.scratch / "spark.log"

    def register_parquet(self, view: str, path: Path) -> None:
        # the same files DuckDB's read_parquet('dir/*.parquet') reads (Spark itself would skip _*.parquet)
        files = sorted(str(p) for p in path.glob("*.parquet")) if path.is_dir() else [str(path)]
        if not files:
            raise FileNotFoundError(f"没有 Parquet 文件 (no Parquet files): {path}")
        self.spark.read.parquet(*files).createOrReplaceTempView(view)

    def register_rows(self, view: str, columns: Sequence[tuple[str, str]], rows: Sequence[tuple[Any, ...]]) -> None:
        from pyspark.sql.types import StructField, StructType

        types = _spark_types()
        schema = StructType([StructField(name, types[kind], nullable=True) for name, kind in columns])
        doubles = [i for i, (_, kind) in enumerate(columns) if kind == "DOUBLE"]
        data = [_floats(tuple(row), doubles) for row in rows]  # pyarrow takes 1 for a DOUBLE; Spark wants 1.0
        self.spark.createDataFrame(data, schema).createOrReplaceTempView(view)

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)  # commands (CREATE … VIEW) run eagerly

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(_plain(value) for value in row) for row in self.spark.sql(sql).collect()]

    def materialise(self, name: str, sql: str) -> None:
        # computed now and kept (memory, spilling to spark.local.dir), cut off from the query that made it
        self.spark.sql(sql).localCheckpoint(eager=True).createOrReplaceTempView(name)

    def drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def count_distinct(self, table: str, column: str, where: str) -> int:
        return int(self.query(f"SELECT COUNT(DISTINCT {column}) FROM {table} WHERE {where}")[0][0])

    def close(self) -> None:
        global _jvm
        if self.spark is None:
            return
        for view in self.spark.catalog.listTables():  # this session's temporary views
            if view.isTemporary:
                self.spark.catalog.dropTempView(view.name)
        self.spark = None
        assert _jvm is not None
        _jvm.users -= 1
        if _jvm.users == 0:
            jvm, _jvm = _jvm, None
            _stop(jvm)


def _start(cores: int, memory: str) -> _Jvm:
    try:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway
        from pyspark.logger import PySparkLogger
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError(NOT_INSTALLED) from exc
    java = _java()
    if java is None:
        raise SparkUnavailableError(NOT_INSTALLED)
    version = _java_major(java)
    if version is None or version < 17:
        found = f"Java {version}" if version else "无法识别版本 (version unreadable)"
        raise SparkUnavailableError(f"{java}: {found}；{NEEDS_JAVA}")
    if SparkContext._active_spark_context is not None or SparkContext._gateway is not None:
        raise RuntimeError("本进程已有别的 SparkContext (this process already runs a SparkContext of its own)")
    # pyspark also logs every failed statement as JSON with the Java stack trace on stderr;
    # the exception raised to the caller already carries the message
    for logger in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(logger).setLevel(logging.CRITICAL)
    scratch = Path(tempfile.mkdtemp(prefix="hrss-spark-"))
    (scratch / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")
    # The JVM's own output (log4j at WARN, the JDK's start-up notes) goes to a file, not the console.
    log = (scratch / "spark.log").open("wb")
    conf = SparkConf(loadDefaults=False).setMaster(f"local[{cores}]").setAppName("hrss-stats")
    conf.setAll(list(_conf(scratch, cores, memory).items()))
    jvm = _Jvm(None, cores, memory, scratch, log)
    jvm.cleanup = weakref.finalize(jvm, _remove, log, scratch)
    try:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
        jvm.root = SparkSession(SparkContext(conf=conf, gateway=gateway))
    except Exception as exc:  # the JVM did not start or died: its log says why
        text = (scratch / "spark.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        _stop(jvm)
        raise SparkUnavailableError(f"Spark 启动失败 (Spark failed to start): {exc}\n{text}") from exc
    return jvm


def _stop(jvm: _Jvm) -> None:
    """Stop Spark and end the JVM itself (SparkSession.stop leaves it running until Python exits)."""
    from pyspark import SparkContext

    if jvm.root is not None:
        jvm.root.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        proc = getattr(gateway, "proc", None)
        gateway.shutdown()
        SparkContext._gateway = None
        SparkContext._jvm = None
        if proc is not None:
            proc.stdin.close()  # the gateway server exits when its stdin closes
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    jvm.cleanup()


def _remove(log: BinaryIO, scratch: Path) -> None:
    log.close()
    shutil.rmtree(scratch, ignore_errors=True)


def _conf(scratch: Path, threads: int, memory: str) -> dict[str, str]:
    java_options = f"-Dlog4j2.configurationFile=file:{scratch / 'log4j2.properties'} -Duser.timezone={TIME_ZONE}"
    return {
        "spark.driver.memory": memory,
        "spark.driver.extraJavaOptions": java_options,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.local.dir": str(scratch / "local"),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.eventLog.enabled": "false",
        "spark.sql.session.timeZone": TIME_ZONE,
        "spark.sql.ansi.enabled": "true",
        "spark.sql.shuffle.partitions": str(max(4, threads)),
        "spark.default.parallelism": str(threads),
        "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
        "spark.sql.execution.arrow.pyspark.enabled": "false",  # no pandas needed
        "spark.pyspark.python": sys.executable,  # any Python worker runs in this environment
        "spark.pyspark.driver.python": sys.executable,
    }


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _java_major(java: str) -> int | None:
    """17 for 'openjdk version "17.0.15"', 8 for 'java version "1.8.0_292"'; None if unreadable."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def _spark_memory(limit: str) -> str:
    """A DuckDB-style size ("2GB", "1.5GiB", "512MB", "2g") as a JVM size ("2g", "1536m")."""
    match = _MEMORY.match(limit)
    if not match:
        raise ValueError(f"无法识别的内存大小 (unrecognised memory size): {limit!r}")
    number, unit = float(match.group(1)), (match.group(2) or "m").lower()
    mebibytes = number * {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
    return f"{int(mebibytes // 1024)}g" if mebibytes % 1024 == 0 else f"{max(1, int(mebibytes))}m"


def _spark_types() -> dict[str, Any]:
    from pyspark.sql import types as t

    return {"VARCHAR": t.StringType(), "BIGINT": t.LongType(), "INTEGER": t.IntegerType(), "DATE": t.DateType(), "DOUBLE": t.DoubleType(), "BOOLEAN": t.BooleanType()}


def _floats(row: tuple[Any, ...], doubles: list[int]) -> tuple[Any, ...]:
    if not doubles:
        return row
    values = list(row)
    for i in doubles:
        if isinstance(values[i], int) and not isinstance(values[i], bool):
            values[i] = float(values[i])
    return tuple(values)


def _plain(value: Any) -> Any:
    """int, float, str, bool, date or None: Decimal becomes int when integral, else float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
