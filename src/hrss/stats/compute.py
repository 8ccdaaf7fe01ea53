"""The pipeline: clean the ledgers, run each definition's measures, assemble monthly values.

One function, two engines: `compute(...)` issues the same SQL text to DuckDB or Spark
(see `hrss.stats.engines`). The SQL returns only integer counts per (org unit code,
month index); running totals, unit conversion and rates are done here in Python, so
both engines give identical values.

Cleaning, the same for every measure:
- `persons_ok`: the register's ID numbers, normalised (full-width digits, lower-case x
  and spaces), that pass GB 11643 (17 digits and MOD 11-2 check character, a known
  province prefix, a real birth date not in the future) — each once.
- an event row counts only if its normalised ID number is in `persons_ok` (bad check
  characters, numbers stored as floats and orphans never count), its org unit is a
  reporting unit of the plan, its date lies in the plan period and not after the month
  computed, and no required field is empty; each ledger key counts once (duplicates).

How the work is laid out, so that ~100M event rows take under a minute on two cores
(bench/bench_stats.py, docs/benchmarks.md):
- `persons_ok` is computed once, as (ID number, pk) with pk the first 17 digits as an
  integer, so that grouping by person is on an integer; the check is arithmetic on that
  number rather than ~70 string functions per row.
- ledger by ledger, the clean rows are materialised once (CLEAN: key, org unit index,
  person key, the dates the measures use and one flag per measure condition); all the
  ledger's measures and its rows-used count read that table, and the next ledger's
  replaces it, so memory holds the persons and one ledger.
- ID numbers are looked up as they are unless they need normalising (`id_key`), because
  translate() is the slowest step of cleaning.
- measures of a ledger that count keys by the same date share one aggregation (`queries`).

Incremental: `since` limits the work to the months [since, as_of]. Flow measures then
scan only those months (first_in_year: from January of since's year, to know who was
already counted); measures that need history (first_ever, active) fold everything
before `since` into one bucket. Rows read and used are then those of the months
recomputed.

Samples (样本推算): a ledger folder may declare that its ledgers hold only a sample of the
city's records (`_sample.json`, hrss.ledgers.sample; the synthetic ledgers do). Every count
taken from such a ledger is divided by its sampling fraction — in Python, after the SQL — so
that the values are estimates for the whole city; rates, whose parts are scaled alike, are
unchanged, and the reference table (whole-city statistics) is never scaled.

Narrow runs: when a run reads far fewer rows than the register holds (one new month: ~2M
rows against 10M numbers), it reads every ledger's rows first and checks only the ID numbers
they use — against the kept valid IDs, or the register itself when it has changed since —
instead of matching each ledger's rows against all the register's valid numbers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hrss.diskio import DiskError, writing
from hrss.ledgers.quality import SPELL_FLOOR
from hrss.ledgers.sample import SampleError, read_fractions
from hrss.ledgers.schema import LEDGERS
from hrss.monitoring.periods import Period, month, month_index, month_label
from hrss.monitoring.values import NewValue
from hrss.plan.model import Plan
from hrss.plan.units import factor
from hrss.stats.definitions import REFERENCE_COLUMNS, Definition, Measure
from hrss.stats.engines import Engine
from hrss.stats.sql import (
    complete_sql,
    date_literal,
    dates_ok_sql,
    id_key,
    month_end,
    month_key,
    month_start,
    person_ids_sql,
)
from hrss.stats.state import KEEP, Counts, State, StateBusy, fingerprint, measure_id

COMPUTED = "computed"
CITY = "*"  # the org unit key of city-wide rows
ACTIVE_FLOOR = SPELL_FLOOR  # the earliest start of a spell in force (as the quality report checks)
SUM_SCALE = 10_000  # sums are added as integers of 1/10000 of the measure's unit
CLEAN = "hrss_clean"  # the clean rows of the ledger being computed (one ledger at a time)
# A run that reads fewer rows than NARROW_BELOW × the register's is narrow (see above); it
# holds all its ledgers' rows at once. On city data one new month (0.19 × the register) took
# 3.8 s instead of 4.4; the 9.5M-row sample (0.94 ×, using most of the register) was slower.
NARROW_BELOW = 0.5


class ComputeError(ValueError):
    pass


@dataclass
class ComputeResult:
    engine: str
    first: int
    last: int
    values: list[NewValue] = field(default_factory=list)
    counts: dict[tuple[str, str], dict[tuple[str, int], int]] = field(default_factory=dict)  # measure results
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # ledger → (rows, rows used); incremental: of the months recomputed
    skipped: dict[str, str] = field(default_factory=dict)  # indicator → why
    no_rate: int = 0  # unit-months of a rate with a zero denominator (no value)
    incremental: bool = False  # history came from the kept state (hrss.stats.state), not from rescanning
    sampled: dict[str, float] = field(default_factory=dict)  # ledger → sampling fraction, for those below 1 (样本推算)
    seconds: float = 0.0

    @property
    def indicators(self) -> list[str]:
        return sorted({v.indicator for v in self.values})


class Pipeline:
    """Runs measures on an engine whose ledgers are registered; caches each measure's result.

    Work is done ledger by ledger (`run`): the ledger's clean rows are materialised once as
    CLEAN — key, org unit, person key and only the columns its measures use — and every
    measure of that ledger, and the rows-used count, read that table. CLEAN is replaced by
    the next ledger's, so memory holds the persons and one ledger at a time."""

    def __init__(
        self, plan: Plan, engine: Engine, ledger_dir: Path, first: int, last: int, today: date,
        *, store: State | None = None, history: dict[str, Counts] | None = None, write: bool = False,
    ) -> None:  # fmt: skip
        """store: the kept state (engines that can export); history: its counts before `first`
        when it covers them (history measures then read only months ≥ first); write: keep this
        run's firsts in the store."""
        self.plan = plan
        self.engine = engine
        self.first, self.last = first, last
        self.store, self.history, self.write = store, history, write
        self.plan_start, self.plan_end = date(plan.start_year, 1, 1), date(plan.end_year, 12, 31)
        self.present = {p.stem for p in ledger_dir.glob("*.parquet")}
        if "persons" not in self.present:
            raise ComputeError(f"{ledger_dir}: 缺少人员基础信息库 persons.parquet (the person register is missing)")
        try:
            self.fractions = read_fractions(ledger_dir)  # ledger → sampling fraction; none: every record
        except SampleError as exc:
            raise ComputeError(str(exc)) from exc
        # rows per file, from the footers: also a clear error for a file that is not Parquet
        self.file_rows = {n: _file_rows(ledger_dir / f"{n}.parquet") for n in sorted(self.present & (set(LEDGERS) | {"reference"}))}
        for name in self.file_rows:
            engine.register_parquet(name, ledger_dir / f"{name}.parquet")
        self.units = {u.code: u for u in plan.leaves(plan.city_unit.name)}
        self.codes = sorted(self.units)  # CLEAN holds a unit as its index here (-1: the city)
        engine.register_rows("hrss_units", [("code", "VARCHAR"), ("ui", "INTEGER")], [(c, i) for i, c in enumerate(self.codes)])
        self._cache: dict[Measure, dict[tuple[str, int], int]] = {}
        self._rows: dict[str, tuple[int, int]] = {}
        self.reference = self._reference() if "reference" in self.present else None
        self.register, self.today = ledger_dir / "persons.parquet", today
        # narrow: `persons_ok` is built by run, from the ID numbers of the rows it reads
        self.narrow = self._rows_to_read() < NARROW_BELOW * self.file_rows["persons"]
        if not self.narrow:
            self._persons()

    def _rows_to_read(self) -> float:
        """About how many event rows the run reads: all of them, or with the kept history the
        months computed's share (plus spells ending in them, left out of the estimate)."""
        rows = sum(n for name, n in self.file_rows.items() if name in LEDGERS and LEDGERS[name].kind in ("event", "spells"))
        if self.history is None:
            return rows
        return rows * (self.last - self.first + 1) / (month_index(self.plan.end_year, 12) - month_index(self.plan.start_year, 1) + 1)

    def _kept_persons(self) -> bool:
        """Register the kept `persons_ok` as hrss_persons_kept if it is of this register and day."""
        if self.store is None:
            return False
        path, fresh = self.store.persons_cache(self.register, self.today)
        if fresh:
            self.engine.register_parquet("hrss_persons_kept", path)
        return fresh

    def _persons(self) -> None:
        """Materialise `persons_ok`, from the kept copy when it is of this register and day."""
        if self._kept_persons():
            self.engine.materialise("persons_ok", "SELECT id_number, pk FROM hrss_persons_kept")
            return
        self.engine.materialise("persons_ok", person_ids_sql(self.today))
        if self.store is not None:
            with writing(self.store.dir, KEEP):
                self.store.dir.mkdir(parents=True, exist_ok=True)
            self.engine.export("SELECT id_number, pk FROM persons_ok", self.store.persons_cache(self.register, self.today)[0])  # type: ignore[attr-defined]
            self.store.persons_cached(self.register, self.today)

    # --- SQL ------------------------------------------------------------------------

    def _range(self, m: Measure) -> tuple[date, str]:
        """(first day, extra condition) of the rows a measure reads; the last day is month_end(last)."""
        assert m.date is not None
        if m.kind in ("count", "sum") or (m.kind in ("first_in_year", "first_ever") and self.history is not None):
            return month_start(self.first), ""
        if m.kind == "active" and self.history is not None:
            # started in [first, last]; spells started before and ending in it are added by clean_sql
            return month_start(self.first), f"({m.end} IS NULL OR {m.end} > {m.date})"
        if m.kind == "first_in_year":
            return date(month_start(self.first).year, 1, 1), ""
        if m.kind == "first_ever":
            return self.plan_start, ""
        if m.kind == "active":
            return ACTIVE_FLOOR, f"({m.end} IS NULL OR {m.end} > {m.date})"
        raise ComputeError(f"measure kind {m.kind} has no SQL")

    def _where(self, m: Measure, flags: dict[str, str] | None = None) -> str:
        """The WHERE of a measure's rows: its date range and its condition — in CLEAN, the
        flag column that holds the condition's value."""
        assert m.date is not None
        lo, own = self._range(m)
        cond = (flags or {}).get(m.where or "", m.where)
        conds = [f"{m.date} >= {date_literal(lo)}", f"{m.date} <= {date_literal(month_end(self.last))}"]
        conds += [f"({c})" for c in (cond, own) if c]
        return " AND ".join(conds)

    @staticmethod
    def flags(measures: list[Measure]) -> dict[str, str]:
        """The measures' conditions → the name of the CLEAN column holding each one's value."""
        wheres = dict.fromkeys(m.where for m in measures if m.where)
        return {w: f"w{i}" for i, w in enumerate(wheres)}

    def rows_range(self, ledger: str) -> tuple[str, date]:
        """(date column, first day) of the rows counted in `rows`: the whole plan period (spells
        from ACTIVE_FLOOR), or in an incremental run the months recomputed."""
        spec = LEDGERS[ledger]
        col = spec.date_column or next(c.name for c in spec.columns if c.type == "DATE")
        if self.first > month_index(self.plan.start_year, 1):
            return col, month_start(self.first)
        return col, ACTIVE_FLOOR if spec.kind == "spells" else self.plan_start

    def columns(self, ledger: str, measures: list[Measure]) -> list[str]:
        """The ledger's columns that the measures and the rows count read."""
        wanted = {self.rows_range(ledger)[0]} | {c for m in measures for c in (m.date, m.end, m.column) if c}
        return [c.name for c in LEDGERS[ledger].columns if c.name in wanted]

    def clean_sql(self, ledger: str, measures: list[Measure], rows: str | None = None) -> str:
        """The ledger's clean rows that the measures and the rows count need: k (key), u (org
        unit index), p (person key), the date and amount columns the measures use, under their
        own names, and a flag column per measure condition (w0, w1, …) — narrow rows, so that
        writing and re-reading them is cheap. rows: a table already holding rows_sql's rows."""
        outer = "".join(f", e.{c}" for c in [*self.columns(ledger, measures), *self.flags(measures).values()])
        source = rows or f"({self.rows_sql(ledger, measures)})"
        return f"SELECT e.k, e.u, o.pk AS p{outer} FROM {source} e JOIN persons_ok o ON e.i = o.id_number"

    def rows_sql(self, ledger: str, measures: list[Measure]) -> str:
        """The ledger's rows that pass every check but the person's (see clean_sql), with i, the
        ID number as `persons_ok` holds it, in place of p."""
        spec = LEDGERS[ledger]
        rows_col, rows_lo = self.rows_range(ledger)
        hi = date_literal(month_end(self.last))
        columns = self.columns(ledger, measures)
        flags = self.flags(measures)
        # a row is kept if the rows count or any measure reads it (each re-applies its own condition)
        parts = [(rows_col, rows_lo, f"{rows_col} >= {date_literal(rows_lo)} AND {rows_col} <= {hi}")]
        parts += [(m.date or "", self._range(m)[0], self._where(m)) for m in measures]
        sound = f"{complete_sql(ledger)} AND {dates_ok_sql(ledger, self.plan_start, self.plan_end)}"
        conds = [sound, "(" + " OR ".join(f"({w})" for _, _, w in parts) + ")"]
        if all(col == spec.date_column for col, _, _ in parts):  # a plain range lets the reader skip row groups
            conds.insert(0, f"{spec.date_column} >= {date_literal(min(lo for _, lo, _ in parts))} AND {spec.date_column} <= {hi}")
        keep = "".join(f", {c}" for c in columns)
        keep += "".join(f", CASE WHEN ({w}) THEN TRUE ELSE FALSE END AS {f}" for w, f in flags.items())
        select = f"SELECT {spec.key} AS k, n.ui AS u, {id_key('id_number')} AS i{keep} FROM {ledger} JOIN hrss_units n ON org_unit = n.code"
        inner = f"{select} WHERE " + " AND ".join(conds)
        if self.history is not None:
            # with the stock before `first` kept, spells started before it matter only if they end in
            # [first, last]: a second branch of plain ranges (no OR), which the reader filters cheaply
            lo = date_literal(month_start(self.first))
            spells: dict[tuple[str | None, str | None], list[str]] = {}
            for m in measures:
                if m.kind == "active":
                    spells.setdefault((m.date, m.end), []).append(f"({m.where})" if m.where else "TRUE")
            for (d, end), wheres in spells.items():
                ended = f"{end} >= {lo} AND {end} <= {hi} AND {d} < {lo} AND {d} >= {date_literal(ACTIVE_FLOOR)}"
                inner += f" UNION ALL {select} WHERE {ended} AND ({' OR '.join(wheres)}) AND {sound}"
        return inner

    def queries(self, measures: list[Measure]) -> list[tuple[str, list[Measure], int]]:
        """The queries over CLEAN that compute the measures (all of one ledger), as (SQL,
        measures, sign). A query returns (org unit index in `codes`, or -1 for the city; month
        index) and then, for
        each of its measures, (value, keys counted); a measure has an entry for a unit-month
        only where it counted a key, and its value there is added × sign.

        Flows (count, sum) by the same date column share one query, and so do the starts
        and the ends of spells (active) with the same dates: one pass groups the rows by
        (unit, month, key) with a flag per measure — does a row of this key pass the
        measure's condition — so that each key counts once per measure as COUNT(DISTINCT)
        would, with a single hash aggregation however many measures there are."""
        out: list[tuple[str, list[Measure], int]] = []
        flags = self.flags(measures)
        flows: dict[str, list[Measure]] = {}
        spells: dict[tuple[str, str], list[Measure]] = {}
        for m in measures:
            assert m.date is not None
            if m.kind in ("count", "sum"):
                flows.setdefault(m.date, []).append(m)
            elif m.kind == "active":
                spells.setdefault((m.date, m.end or ""), []).append(m)
            elif m.kind in ("first_in_year", "first_ever") and self.write:
                continue  # by _firsts, which keeps them
            elif m.kind in ("first_in_year", "first_ever"):
                # each person's first row (a year) in each unit and city-wide (u NULL), in one pass
                year = m.kind == "first_in_year"
                rows = f"SELECT p, u, {m.date} AS d{f', year({m.date}) AS y' if year else ''} FROM {CLEAN} WHERE {self._where(m, flags)}"
                sets = "(p, u, y), (p, y)" if year else "(p, u), (p)"
                first = f"SELECT u, MIN(d) AS fd FROM ({rows}) r GROUP BY GROUPING SETS ({sets})"
                fd = month_key("fd")
                out.append((f"SELECT COALESCE(u, -1) AS u, {fd} AS m, COUNT(*), COUNT(*) FROM ({first}) t GROUP BY COALESCE(u, -1), {fd}", [m], 1))
            else:
                raise ComputeError(f"measure kind {m.kind} has no SQL")
        hi = date_literal(month_end(self.last))
        for d, group in flows.items():
            lo = date_literal(month_start(self.first))
            out.append((self._keyed(group, flags, f"{month_key(d)}", f"{d} >= {lo} AND {d} <= {hi}"), group, 1))
        before = self.first - 1
        for (d, end), group in spells.items():
            rows = f"{d} >= {date_literal(ACTIVE_FLOOR)} AND {d} <= {hi} AND ({end} IS NULL OR {end} > {d})"
            ends = f"{rows} AND {end} IS NOT NULL AND {end} <= {hi}"
            if self.history is not None:  # the stock before `first` is kept: only this run's starts and ends
                lo = date_literal(month_start(self.first))
                out.append((self._keyed(group, flags, month_key(d), f"{rows} AND {d} >= {lo}"), group, 1))
                out.append((self._keyed(group, flags, month_key(end), f"{ends} AND {end} >= {lo}"), group, -1))
                continue
            out.append((self._keyed(group, flags, f"GREATEST({month_key(d)}, {before})", rows), group, 1))
            out.append((self._keyed(group, flags, f"GREATEST({month_key(end)}, {before})", ends), group, -1))
        return out

    def _keyed(self, group: list[Measure], flags: dict[str, str], month: str, rows: str) -> str:
        """One pass over CLEAN rows matching `rows` for measures that count each key once
        per (unit, month): per measure, the keys with a row passing its condition (and for
        a sum, the total of each such key's largest amount)."""
        values, per_key, totals = [], [], []
        for i, m in enumerate(group):
            cond = flags[m.where] if m.where else "TRUE"
            values.append(f"CASE WHEN {cond} THEN 1 ELSE 0 END AS f{i}")
            per_key.append(f"MAX(f{i}) AS f{i}")
            if m.kind == "sum":
                values.append(f"CASE WHEN {cond} THEN CAST(ROUND({m.column} * {SUM_SCALE}) AS BIGINT) END AS x{i}")
                per_key.append(f"MAX(x{i}) AS x{i}")
                totals.append(f"SUM(x{i}), SUM(f{i})")
            else:
                totals.append(f"SUM(f{i}), SUM(f{i})")
        if all(m.where for m in group):
            rows += " AND (" + " OR ".join(dict.fromkeys(flags[m.where or ""] for m in group)) + ")"
        inner = f"SELECT u, {month} AS m, k, {', '.join(values)} FROM {CLEAN} WHERE {rows}"
        keyed = f"SELECT u, m, k, {', '.join(per_key)} FROM ({inner}) r GROUP BY u, m, k"
        return f"SELECT u, m, {', '.join(totals)} FROM ({keyed}) t GROUP BY u, m"

    def _firsts(self, m: Measure, flags: dict[str, str]) -> dict[tuple[str, int], int]:
        """A first_in_year / first_ever measure when the state is kept: each person's first
        row (a year) in each unit and city-wide (u = -1), less those already counted before
        `first` (the kept firsts); the new firsts are added to the kept ones."""
        assert self.store is not None and m.date is not None
        year = m.kind == "first_in_year"
        rows = f"SELECT p, u, {m.date} AS d{f', year({m.date}) AS y' if year else ''} FROM {CLEAN} WHERE {self._where(m, flags)}"
        sets = "(p, u, y), (p, y)" if year else "(p, u), (p)"
        grouped = f"SELECT p, u, {'y' if year else '0'} AS y, MIN(d) AS fd FROM ({rows}) r GROUP BY GROUPING SETS ({sets})"
        self.engine.materialise("hrss_first", f"SELECT p, COALESCE(u, -1) AS u, y, fd FROM ({grouped}) g")
        mid = measure_id(m)
        if self.history is not None:
            lo = month_index(month_start(self.first).year, 1) if year else month_index(self.plan.start_year, 1)
            if seen := self.store.firsts_files(mid, lo, self.first):
                # the few new firsts probe the kept ones (a semi join built on the small side), then drop the hits
                self.engine.register_files("hrss_seen", seen)  # type: ignore[attr-defined]
                hits = "SELECT p, u, y FROM hrss_seen WHERE (p, u, y) IN (SELECT p, u, y FROM hrss_first)"
                self.engine.materialise("hrss_hits", hits)
                self.engine.materialise(
                    "hrss_first",
                    "SELECT f.* FROM hrss_first f LEFT JOIN hrss_hits h ON f.p = h.p AND f.u = h.u AND f.y = h.y WHERE h.p IS NULL",
                )
        self.store.drop_firsts(mid, self.first if self.history is not None else None)
        folder = self.store.firsts_dir(mid)
        with writing(folder, KEEP):
            folder.parent.mkdir(parents=True, exist_ok=True)
        fm = month_key("fd")
        self.engine.export(f"SELECT p, u, y, {fm} AS fm FROM hrss_first", folder, partition_by="fm")  # type: ignore[attr-defined]
        counts = self.engine.query(f"SELECT u, {fm} AS m, COUNT(*) FROM hrss_first GROUP BY u, {fm}")
        return {(CITY if u == -1 else self.codes[u], int(mi)): int(n) for u, mi, n in counts}

    # --- results --------------------------------------------------------------------

    def run(self, measures: list[Measure], progress: Callable[[str], None] | None = None) -> None:
        """Compute the measures and the rows of every ledger present, one ledger at a time."""
        by_ledger: dict[str, list[Measure]] = {}
        for m in measures:
            if m.ledger and m not in self._cache and m not in by_ledger.get(m.ledger, []):
                by_ledger.setdefault(m.ledger, []).append(m)
        ledgers = sorted((self.present & set(LEDGERS)) - {"persons", "enterprises"})
        if self.narrow and ledgers:
            # a month is ~2M rows and the register 10M: read the rows first and check only the ID
            # numbers they use, instead of matching each ledger's rows against the whole register
            for name in ledgers:
                self.engine.materialise(_rows_table(name), self.rows_sql(name, by_ledger.get(name, [])))
            used = " UNION ALL ".join(f"SELECT i FROM {_rows_table(name)}" for name in ledgers)
            if self._kept_persons():
                self.engine.materialise("persons_ok", f"SELECT id_number, pk FROM hrss_persons_kept WHERE id_number IN ({used})")
            else:  # the register has changed since: check its numbers that the rows use
                self.engine.materialise("persons_ok", person_ids_sql(self.today, among=used))
        for name in ledgers:
            if progress:
                progress(name)
            self._run_ledger(name, by_ledger.get(name, []), _rows_table(name) if self.narrow else None)

    def _run_ledger(self, ledger: str, measures: list[Measure], rows: str | None = None) -> None:
        """rows: a table holding the ledger's rows_sql for these measures, dropped once read."""
        self.engine.materialise(CLEAN, self.clean_sql(ledger, measures, rows))
        if rows is not None:
            self.engine.drop(rows)
        found: dict[Measure, dict[tuple[str, int], int]] = {m: defaultdict(int) for m in measures}
        for sql, group, sign in self.queries(measures):
            for row in self.engine.query(sql):
                key = (CITY if row[0] == -1 else self.codes[row[0]], int(row[1]))
                for i, m in enumerate(group):
                    value, keys = row[2 + 2 * i], row[3 + 2 * i]
                    if keys:
                        found[m][key] += sign * int(value)
        flags = self.flags(measures)
        for m in measures:
            if self.write and m.kind in ("first_in_year", "first_ever"):
                found[m].update(self._firsts(m, flags))
            for key, n in (self.history or {}).get(measure_id(m), {}).items():  # months before `first`, kept
                found[m][key] += n
        self._cache.update({m: dict(v) for m, v in found.items()})
        col, lo = self.rows_range(ledger)
        hi = date_literal(month_end(self.last))
        total = self.file_rows[ledger]  # the whole plan period: every row, as the footers say
        if self.first > month_index(self.plan.start_year, 1):
            total = int(self.engine.query(f"SELECT COUNT(*) FROM {ledger} WHERE {col} >= {date_literal(lo)} AND {col} <= {hi}")[0][0])
        used = self.engine.count_distinct(CLEAN, "k", f"{col} >= {date_literal(lo)} AND {col} <= {hi}")
        self._rows[ledger] = (total, used)

    def counts(self, m: Measure) -> dict[tuple[str, int], int]:
        """{(org unit code or '*', month index): count} for the measure (sums in 1/SUM_SCALE units)."""
        if m not in self._cache:
            assert m.ledger is not None
            if self.narrow:  # a measure run did not have: its rows' ID numbers may not have been checked
                self.narrow = False
                self._persons()
            self._run_ledger(m.ledger, [m])
        return self._cache[m]

    def _reference(self) -> dict[tuple[str, int], dict[str, int]]:
        cols = ", ".join(REFERENCE_COLUMNS)
        out: dict[tuple[str, int], dict[str, int]] = {}
        for row in self.engine.query(f"SELECT org_unit, year, {cols} FROM reference"):
            out[(str(row[0]), int(row[1]))] = {c: int(v or 0) for c, v in zip(REFERENCE_COLUMNS, row[2:], strict=True)}
        return out

    def reference_value(self, column: str, unit: str, year: int) -> int | None:
        if self.reference is None:
            return None
        codes = list(self.units) if unit == CITY else [unit]
        found = [self.reference[(c, year)][column] for c in codes if (c, year) in self.reference]
        return sum(found) if found else None

    def series(self, m: Measure, unit: str) -> dict[int, float | None]:
        """The measure's value for unit (code or '*') in each month first..last."""
        months = range(self.first, self.last + 1)
        if m.kind == "reference":
            return {i: self.reference_value(m.column or "", unit, i // 12) for i in months}
        counts = self.counts(m)
        if unit == CITY and m.kind not in ("first_in_year", "first_ever"):
            per_month: dict[int, int] = defaultdict(int)
            for (_u, mi), n in counts.items():
                per_month[mi] += n
        else:
            per_month = defaultdict(int, {mi: n for (u, mi), n in counts.items() if u == unit})
        sample = self.fractions.get(m.ledger or "", 1.0)  # counts of a sample, scaled up to the city
        if m.kind == "active" or m.cumulative:
            out: dict[int, float | None] = {}
            running = sum(n for mi, n in per_month.items() if mi < self.first)
            for i in months:
                running += per_month.get(i, 0)
                base = self.reference_value(m.base, unit, i // 12) if m.base else 0
                out[i] = None if base is None else float(running / sample + base)
            return out
        scale = (SUM_SCALE if m.kind == "sum" else 1) * sample
        return {i: per_month.get(i, 0) / scale for i in months}

    def ledger_rows(self, name: str) -> tuple[int, int]:
        """(rows in the ledger file, rows that pass cleaning for any date in the plan period);
        in an incremental run, of the rows dated in the months recomputed."""
        if name not in self._rows:
            self._run_ledger(name, [])
        return self._rows[name]


def compute(
    plan: Plan,
    definitions: list[Definition],
    ledger_dir: Path,
    engine: Engine,
    as_of: int,
    *,
    since: int | None = None,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
    keep_state: bool = True,
) -> ComputeResult:
    """Compute every definition for every reporting org unit and the city, months [since, as_of].

    With keep_state (and an engine that can export: DuckDB) the run keeps what the next
    incremental run needs in `<ledger_dir>/_state` and, when `since` is given, uses what
    an earlier run kept (see hrss.stats.state)."""
    started = time.perf_counter()
    first = since if since is not None else month_index(plan.start_year, 1)
    plan_first, plan_last = month_index(plan.start_year, 1), month_index(plan.end_year, 12)
    if not plan_first <= first <= as_of <= plan_last:
        raise ComputeError(
            f"月份超出规划期 (months outside the plan period): {month_label(first)}..{month_label(as_of)}"
        )
    store = State(ledger_dir) if keep_state and hasattr(engine, "export") and ledger_dir.is_dir() else None
    try:
        with store.locked() if store is not None else nullcontext():
            result = _compute(plan, definitions, ledger_dir, engine, first, as_of, store, today or date.today(), progress)
    except StateBusy as exc:
        raise ComputeError(str(exc)) from exc
    except DiskError as exc:  # the kept state could not be written: said in words, nothing stored
        raise ComputeError(f"{exc}；未写入任何计算结果 (the computation state could not be written; nothing stored)") from exc
    result.seconds = time.perf_counter() - started
    return result


def _compute(
    plan: Plan, definitions: list[Definition], ledger_dir: Path, engine: Engine, first: int, as_of: int,
    store: State | None, today: date, progress: Callable[[str], None] | None,
) -> ComputeResult:  # fmt: skip
    """compute(), with the folder's state held (or no state)."""
    plan_first = month_index(plan.start_year, 1)
    measures = [m for d in definitions for m in d.measures if m.ledger]
    fp = fingerprint(measures, sorted(u.code for u in plan.leaves(plan.city_unit.name)))
    history = store.history(fp, first) if store is not None and first > plan_first else None
    write = store is not None and (first == plan_first or history is not None)
    if write:
        assert store is not None
        store.invalidate()  # until this run's firsts are all written
    pipe = Pipeline(plan, engine, ledger_dir, first, as_of, today, store=store, history=history, write=write)
    result = ComputeResult(engine.name, first, as_of)
    indicators = {i.code: i for i in plan.indicators}
    units = [(code, u.name) for code, u in pipe.units.items()] + [(CITY, plan.city_unit.name)]
    runnable: list[Definition] = []
    for d in definitions:
        missing = sorted({m.ledger for m in d.measures if m.ledger and m.ledger not in pipe.present})
        if any(m.kind == "reference" or m.base for m in d.measures) and pipe.reference is None:
            missing.append("reference")
        if missing:
            result.skipped[d.indicator] = f"缺少台账 (ledger missing): {', '.join(missing)}"
        else:
            runnable.append(d)
    pipe.run(measures, progress)  # with those of skipped definitions: result.counts has them too
    used = {m.ledger for d in runnable for m in d.measures if m.ledger}
    result.sampled = {name: f for name, f in sorted(pipe.fractions.items()) if name in used and f != 1.0}
    for d in runnable:
        if progress:
            progress(d.indicator)
        ind = indicators[d.indicator]
        for code, name in units:
            if d.value is not None:
                f = factor(d.value.unit, ind.unit)
                for i, v in pipe.series(d.value, code).items():
                    if v is not None:
                        result.values.append(NewValue(ind.code, name, _month(i), v * f, None, None, 0))
                continue
            assert d.numerator is not None and d.denominator is not None
            num, den = pipe.series(d.numerator, code), pipe.series(d.denominator, code)
            for i in num:
                n, dd = num[i], den[i]
                if n is None or dd is None or dd <= 0:
                    result.no_rate += 1
                    continue
                result.values.append(NewValue(ind.code, name, _month(i), n / dd * ind.scale, n, dd, 0))
    for d in definitions:
        for role, m in (("value", d.value), ("numerator", d.numerator), ("denominator", d.denominator)):
            if m is not None and m.ledger in pipe.present:
                result.counts[(d.indicator, role)] = pipe.counts(m)
    for name in sorted(pipe.present & set(LEDGERS)):
        if name != "persons" and name != "enterprises":
            result.rows[name] = pipe.ledger_rows(name)
    if write:
        assert store is not None
        store.save(fp, as_of, {measure_id(m): pipe.counts(m) for m in measures if m.ledger in pipe.present})
    result.incremental = history is not None
    return result


def _file_rows(path: Path) -> int:
    """Rows of a ledger (a Parquet file or a folder of them), from the files' footers."""
    total = 0
    for file in sorted(path.glob("*.parquet")) if path.is_dir() else [path]:
        try:
            total += pq.ParquetFile(file).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise ComputeError(f"{file}: 无法读取的 Parquet 文件 (unreadable Parquet file): {exc}") from exc
    return total


def _rows_table(ledger: str) -> str:
    return f"hrss_rows_{ledger}"


def _month(index: int) -> Period:
    y, m = divmod(index, 12)
    return month(y, m + 1)
