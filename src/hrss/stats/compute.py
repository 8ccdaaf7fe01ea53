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

Incremental: `since` limits the work to the months [since, as_of]. Flow measures then
scan only those months (first_in_year: from January of since's year, to know who was
already counted); measures that need history (first_ever, active) fold everything
before `since` into one bucket.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hrss.ledgers.identifiers import REGION_PREFIXES, RESIDENT_CHECK_CHARS, RESIDENT_WEIGHTS
from hrss.ledgers.quality import LATER_DATES, OPTIONAL, SPELL_FLOOR
from hrss.ledgers.schema import LEDGERS
from hrss.monitoring.periods import Period, month, month_index, month_label
from hrss.monitoring.values import NewValue
from hrss.plan.model import Plan
from hrss.plan.units import factor
from hrss.stats.definitions import REFERENCE_COLUMNS, Definition, Measure
from hrss.stats.engines import Engine

COMPUTED = "computed"
CITY = "*"  # the org unit key of city-wide rows
ACTIVE_FLOOR = SPELL_FLOOR  # the earliest start of a spell in force (as the quality report checks)
SUM_SCALE = 10_000  # sums are added as integers of 1/10000 of the measure's unit
# Full-width digits, x and spaces → ASCII; the two spaces have no counterpart and are dropped.
_NORMAL_FROM = "０１２３４５６７８９ｘＸx　 "
_NORMAL_TO = "0123456789XXX"


class ComputeError(ValueError):
    pass


@dataclass
class ComputeResult:
    engine: str
    first: int
    last: int
    values: list[NewValue] = field(default_factory=list)
    counts: dict[tuple[str, str], dict[tuple[str, int], int]] = field(default_factory=dict)  # measure results
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # ledger → (rows, rows used)
    skipped: dict[str, str] = field(default_factory=dict)  # indicator → why
    no_rate: int = 0  # unit-months of a rate with a zero denominator (no value)
    seconds: float = 0.0

    @property
    def indicators(self) -> list[str]:
        return sorted({v.indicator for v in self.values})


def normalised(col: str) -> str:
    return f"upper(translate({col}, '{_NORMAL_FROM}', '{_NORMAL_TO}'))"


def id_valid_sql(col: str, today: date) -> str:
    """SQL that is true when the (normalised) text in col is a valid resident ID number.

    Digits are read with instr('0123456789', c) - 1 rather than CAST, so that a stray
    character makes the row invalid instead of failing the query on either engine."""

    def dig(i: int) -> str:  # the digit at 1-based position i, or -1
        return f"(instr('0123456789', substr({col}, {i}, 1)) - 1)"

    digits = " AND ".join(f"{dig(i)} >= 0" for i in range(1, 18))
    total = " + ".join(f"{dig(i + 1)} * {w}" for i, w in enumerate(RESIDENT_WEIGHTS))
    year = f"({dig(7)} * 1000 + {dig(8)} * 100 + {dig(9)} * 10 + {dig(10)})"
    mon = f"({dig(11)} * 10 + {dig(12)})"
    day = f"({dig(13)} * 10 + {dig(14)})"
    leap = f"(({year} % 4 = 0 AND {year} % 100 <> 0) OR {year} % 400 = 0)"
    month_days = f"CASE WHEN {mon} IN (4, 6, 9, 11) THEN 30 WHEN {mon} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END ELSE 31 END"
    prefixes = ", ".join(f"'{p}'" for p in sorted(REGION_PREFIXES))
    return (
        f"length({col}) = 18 AND {digits} AND substr({col}, 1, 2) IN ({prefixes}) "
        f"AND substr('{RESIDENT_CHECK_CHARS}', ({total}) % 11 + 1, 1) = substr({col}, 18, 1) "
        f"AND {year} >= 1900 AND {mon} BETWEEN 1 AND 12 AND {day} >= 1 AND {day} <= {month_days} "
        f"AND {year} * 10000 + {mon} * 100 + {day} <= {today.year * 10000 + today.month * 100 + today.day}"
    )


def complete_sql(ledger: str) -> str:
    """True when no required field of the ledger's row is empty (as the quality report counts)."""
    conds = []
    for col in LEDGERS[ledger].columns:
        when = OPTIONAL.get((ledger, col.name))
        conds.append(f"NOT ({col.name} IS NULL AND ({when}))" if when else f"{col.name} IS NOT NULL")
    return " AND ".join(conds)


def dates_ok_sql(ledger: str, start: date, end: date) -> str:
    """True when the row's own dates are possible (as the quality report checks them),
    whatever date a measure counts by: an event inside the plan period [start, end], a
    second date (end_date, closed_date) not before the event nor after the period; a
    spell starting from SPELL_FLOOR and ending after it starts."""
    spec = LEDGERS[ledger]
    last = _day(end)
    if spec.kind == "spells":
        return (f"start_date >= {_day(SPELL_FLOOR)} AND start_date <= {last} "
                f"AND (end_date IS NULL OR (end_date > start_date AND end_date <= {last}))")  # fmt: skip
    out = f"event_date >= {_day(start)} AND event_date <= {last}"
    if later := LATER_DATES.get(ledger):
        column = later.split()[0]
        out += f" AND ({column} IS NULL OR (NOT ({later}) AND {column} <= {last}))"
    return out


def month_key(col: str) -> str:
    return f"(year({col}) * 12 + month({col}) - 1)"


def _day(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def month_end(index: int) -> date:
    y, m = divmod(index, 12)
    return date(y, m + 1, calendar.monthrange(y, m + 1)[1])


def month_start(index: int) -> date:
    y, m = divmod(index, 12)
    return date(y, m + 1, 1)


class Pipeline:
    """Runs measures on an engine whose ledgers are registered; caches each measure's result."""

    def __init__(self, plan: Plan, engine: Engine, ledger_dir: Path, first: int, last: int, today: date) -> None:
        self.plan = plan
        self.engine = engine
        self.first, self.last = first, last
        self.plan_start, self.plan_end = date(plan.start_year, 1, 1), date(plan.end_year, 12, 31)
        self.present = {p.stem for p in ledger_dir.glob("*.parquet")}
        if "persons" not in self.present:
            raise ComputeError(f"{ledger_dir}: 缺少人员基础信息库 persons.parquet (the person register is missing)")
        for name in sorted(self.present & (set(LEDGERS) | {"reference"})):
            engine.register_parquet(name, ledger_dir / f"{name}.parquet")
        self.units = {u.code: u for u in plan.leaves(plan.city_unit.name)}
        engine.register_rows("hrss_units", [("code", "VARCHAR")], [(c,) for c in sorted(self.units)])
        pid = normalised("id_number")
        engine.materialise(
            "persons_ok",
            f"SELECT DISTINCT {pid} AS id_number FROM persons WHERE id_number IS NOT NULL AND {id_valid_sql(pid, today)}",
        )
        self._cache: dict[Measure, dict[tuple[str, int], int]] = {}
        self.reference = self._reference() if "reference" in self.present else None

    # --- SQL ------------------------------------------------------------------------

    def _rows(self, m: Measure, lo: date, hi: date, *, date_col: str | None = None, extra: str = "") -> str:
        """The FROM … WHERE of a measure's clean rows, dated by date_col within [lo, hi]."""
        assert m.ledger is not None
        d = date_col or m.date
        conds = [
            complete_sql(m.ledger), dates_ok_sql(m.ledger, self.plan_start, self.plan_end),
            f"{d} >= {_day(lo)}", f"{d} <= {_day(hi)}",
            "org_unit IN (SELECT code FROM hrss_units)",
            f"{normalised('id_number')} IN (SELECT id_number FROM persons_ok)",
        ]  # fmt: skip
        if m.where:
            conds.append(f"({m.where})")
        if extra:
            conds.append(extra)
        return f"FROM {m.ledger} WHERE " + " AND ".join(conds)

    def sql(self, m: Measure) -> list[str]:
        """The queries of a measure; each returns (org unit code or '*', month index, count[, sign])."""
        key = LEDGERS[m.ledger].key if m.ledger else ""
        hi = month_end(self.last)
        if m.kind in ("count", "sum"):
            src = self._rows(m, month_start(self.first), hi)
            x = f"CAST(ROUND({m.column} * {SUM_SCALE}) AS BIGINT)" if m.kind == "sum" else "1"
            inner = f"SELECT org_unit AS u, {month_key(m.date)} AS m, {key} AS k, {x} AS x {src}"
            if m.kind == "count":
                return [f"SELECT u, m, COUNT(DISTINCT k) FROM ({inner}) t GROUP BY u, m"]
            return [f"SELECT u, m, SUM(x) FROM (SELECT u, m, k, MAX(x) AS x FROM ({inner}) t GROUP BY u, m, k) s GROUP BY u, m"]
        if m.kind in ("first_in_year", "first_ever"):
            lo = date(month_start(self.first).year, 1, 1) if m.kind == "first_in_year" else self.plan_start
            src = self._rows(m, lo, hi)
            per_year = f", year({m.date})" if m.kind == "first_in_year" else ""
            pid = normalised("id_number")
            fd = month_key("fd")
            unit = f"SELECT u, {fd} AS m, COUNT(*) FROM (SELECT {pid} AS p, org_unit AS u, MIN({m.date}) AS fd {src} GROUP BY {pid}, org_unit{per_year}) t GROUP BY u, {fd}"
            city = f"SELECT '{CITY}' AS u, {fd} AS m, COUNT(*) FROM (SELECT {pid} AS p, MIN({m.date}) AS fd {src} GROUP BY {pid}{per_year}) t GROUP BY {fd}"
            return [unit, city]
        if m.kind == "active":
            before = self.first - 1
            valid_end = f"({m.end} IS NULL OR {m.end} > {m.date})"
            starts = self._rows(m, ACTIVE_FLOOR, hi, extra=valid_end)
            ends = self._rows(m, ACTIVE_FLOOR, hi, extra=f"{m.end} IS NOT NULL AND {m.end} > {m.date} AND {m.end} <= {_day(hi)}")
            return [
                f"SELECT u, m, COUNT(DISTINCT k) FROM (SELECT org_unit AS u, GREATEST({month_key(m.date)}, {before}) AS m, {key} AS k {starts}) t GROUP BY u, m",
                f"SELECT u, m, -COUNT(DISTINCT k) FROM (SELECT org_unit AS u, GREATEST({month_key(m.end)}, {before}) AS m, {key} AS k {ends}) t GROUP BY u, m",
            ]
        raise ComputeError(f"measure kind {m.kind} has no SQL")

    # --- results --------------------------------------------------------------------

    def counts(self, m: Measure) -> dict[tuple[str, int], int]:
        """{(org unit code or '*', month index): count} for the measure (sums in 1/SUM_SCALE units)."""
        if m not in self._cache:
            out: dict[tuple[str, int], int] = defaultdict(int)
            for q in self.sql(m):
                for u, mi, n in self.engine.query(q):
                    out[(str(u), int(mi))] += int(n)
            self._cache[m] = dict(out)
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
        if m.kind == "active" or m.cumulative:
            out: dict[int, float | None] = {}
            running = sum(n for mi, n in per_month.items() if mi < self.first)
            for i in months:
                running += per_month.get(i, 0)
                base = self.reference_value(m.base, unit, i // 12) if m.base else 0
                out[i] = None if base is None else float(running + base)
            return out
        scale = SUM_SCALE if m.kind == "sum" else 1
        return {i: per_month.get(i, 0) / scale for i in months}

    def ledger_rows(self, name: str) -> tuple[int, int]:
        """(rows in the ledger file, rows that pass cleaning for any date in the plan period)."""
        date_col = next(c.name for c in LEDGERS[name].columns if c.type == "DATE")
        m = Measure(kind="count", unit="个", ledger=name, date=date_col)
        lo = ACTIVE_FLOOR if name == "insurance_enrollments" else self.plan_start
        total = self.engine.query(f"SELECT COUNT(*) FROM {name}")[0][0]
        used = self.engine.query(f"SELECT COUNT(DISTINCT {LEDGERS[name].key}) {self._rows(m, lo, month_end(self.last))}")[0][0]
        return int(total), int(used)


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
) -> ComputeResult:
    """Compute every definition for every reporting org unit and the city, months [since, as_of]."""
    started = time.perf_counter()
    first = since if since is not None else month_index(plan.start_year, 1)
    plan_first, plan_last = month_index(plan.start_year, 1), month_index(plan.end_year, 12)
    if not plan_first <= first <= as_of <= plan_last:
        raise ComputeError(
            f"月份超出规划期 (months outside the plan period): {month_label(first)}..{month_label(as_of)}"
        )
    pipe = Pipeline(plan, engine, ledger_dir, first, as_of, today or date.today())
    result = ComputeResult(engine.name, first, as_of)
    indicators = {i.code: i for i in plan.indicators}
    units = [(code, u.name) for code, u in pipe.units.items()] + [(CITY, plan.city_unit.name)]
    for d in definitions:
        missing = sorted({m.ledger for m in d.measures if m.ledger and m.ledger not in pipe.present})
        if any(m.kind == "reference" or m.base for m in d.measures) and pipe.reference is None:
            missing.append("reference")
        if missing:
            result.skipped[d.indicator] = f"缺少台账 (ledger missing): {', '.join(missing)}"
            continue
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
    result.seconds = time.perf_counter() - started
    return result


def _month(index: int) -> Period:
    y, m = divmod(index, 12)
    return month(y, m + 1)
