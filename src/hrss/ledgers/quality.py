"""Data quality report (数据质量报告) of the real-name ledgers.

`quality_report(ledger_dir)` reads the ledger Parquet files with DuckDB's built-in
`read_parquet` and counts, by ledger and org unit:

- `invalid_id`: an ID number (or credit code) that fails `check_resident_id` /
  `check_credit_code` for any reason but `float` (bad check character, length, …);
- `float_id`: an ID number stored as a number (`3.20382198001011e+17`);
- `missing`: a row with a required field empty (NULL);
- `duplicate_row`: a row identical to an earlier one (each extra copy counts);
- `duplicate_key`: distinct rows sharing a key (person_id / id_number, credit_code,
  event_id, record_id, case_id, org_unit + year; each extra row counts);
- `orphan`: an event whose (valid) ID number is nobody in `persons`;
- `date_out_of_range`: an event date outside the plan period 2021-01-01..2025-12-31, an
  end or closing date before its event (or after the period); a spell (参保区间) starting
  outside 1990-01-01..2025-12-31 or ending on or before its start or after the period;
- `reference_gap`: an org unit found in the ledgers with no `reference` row for a year of
  the plan period (checked only when `reference.parquet` is present; the reference
  table is statistics, not real-name data, and is otherwise checked only for empty
  fields and repeated keys).

Identifier validity is checked in Python: the distinct identifiers are pulled out of
DuckDB once, checked, and handed back as an Arrow table to join against. Examples
are masked (`hrss.ledgers.masking`): a report never shows a full ID number or phone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from hrss.ledgers.identifiers import check_credit_code, check_resident_id
from hrss.ledgers.masking import mask_id
from hrss.ledgers.schema import LEDGERS, REFERENCE_LEDGER, Ledger

PERIOD_START = date(2021, 1, 1)
PERIOD_END = date(2025, 12, 31)
MAX_EXAMPLES = 3
# Identifier results remembered across ledgers (most events refer to the same people);
# beyond this many the rest are checked afresh, to bound memory at city scale.
REMEMBER_IDS = 2_000_000

# check → label (Chinese first, English in brackets), in report order.
CHECKS: dict[str, str] = {
    "invalid_id": "证件号码/信用代码无效 (invalid identifier)",
    "float_id": "身份证号被存为数字 (ID number stored as a number)",
    "missing": "必填字段为空 (required field missing)",
    "duplicate_row": "重复记录 (duplicate row)",
    "duplicate_key": "主键重复 (repeated key)",
    "orphan": "人员库中查无此人 (orphan event: person not in register)",
    "date_out_of_range": "日期超出范围或先后颠倒 (date out of range or out of order)",
    "reference_gap": "参考数据缺少经办地或年度 (reference data missing for an org unit and year)",
}

# The generator's dirt kinds (`_dirt.parquet`) → the check that catches them.
DIRT_CHECK: dict[str, str] = {
    "check_digit": "invalid_id",
    "float": "float_id",
    "missing": "missing",
    "duplicate": "duplicate_row",
    "orphan": "orphan",
    "date_out_of_range": "date_out_of_range",
}

# The column giving a ledger row's org unit.
ORG_COLUMN = {"persons": "residence_unit"}
# Extra unique keys besides the ledger's own key.
EXTRA_KEYS = {"persons": ("id_number",)}
# Columns that may be empty: (ledger, column) → SQL condition under which it is required.
OPTIONAL = {
    ("employment_registrations", "credit_code"): "kind = 'employment'",  # no employer if unemployed
    ("employment_registrations", "end_date"): "FALSE",  # NULL while registered unemployed
    ("insurance_enrollments", "end_date"): "FALSE",  # NULL while in force
    ("cases", "closed_date"): "outcome IS NOT NULL",  # both NULL while the case is open
    ("cases", "outcome"): "closed_date IS NOT NULL",
}
SPELL_FLOOR = date(1990, 1, 1)  # the earliest start of a spell
# Event ledgers with a second date that may not precede the event nor pass the period.
LATER_DATES = {
    "employment_registrations": "end_date <= event_date",  # an unemployment registration ends after it starts
    "cases": "closed_date < event_date",
}
NO_UNIT = "(空)"
# What is checked: the real-name ledgers and the reference table, in report order.
TABLES: dict[str, Ledger] = {**LEDGERS, REFERENCE_LEDGER.name: REFERENCE_LEDGER}


@dataclass(frozen=True)
class QualityRow:
    ledger: str
    org_unit: str
    check: str
    count: int
    examples: list[str] = field(default_factory=list)  # masked, at most MAX_EXAMPLES

    @property
    def label(self) -> str:
        return CHECKS[self.check]


@dataclass
class QualityReport:
    """Problems by ledger, org unit and check; `rows` holds only non-zero counts."""

    ledger_dir: str
    ledgers: list[str]  # the ledgers found and checked
    rows: list[QualityRow] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        """Total count per check (every check present, 0 if clean)."""
        out = dict.fromkeys(CHECKS, 0)
        for r in self.rows:
            out[r.check] += r.count
        return out

    @property
    def problems(self) -> int:
        return sum(r.count for r in self.rows)

    def count(self, ledger: str, check: str) -> int:
        """Total of one check in one ledger, over all org units."""
        return sum(r.count for r in self.rows if r.ledger == ledger and r.check == check)

    def as_dict(self) -> dict:
        return {
            "ledger_dir": self.ledger_dir,
            "ledgers": self.ledgers,
            "period": [PERIOD_START.isoformat(), PERIOD_END.isoformat()],
            "checks": CHECKS,
            "totals": self.totals,
            "problems": self.problems,
            "rows": [asdict(r) for r in self.rows],
        }

    def as_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=indent)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _example(value: object, mask: bool) -> str:
    if value is None:
        return NO_UNIT
    return mask_id(value) if mask else str(value)


class _Checker:
    def __init__(self, ledger_dir: Path) -> None:
        self.dir = Path(ledger_dir)
        self.con = duckdb.connect()
        self.rows: list[QualityRow] = []
        # identifier results: credit code? → value → error code (None if valid)
        self.checked: dict[bool, dict[str, str | None]] = {False: {}, True: {}}
        self.present = [n for n in TABLES if (self.dir / f"{n}.parquet").exists()]
        for name in self.present:
            path = str(self.dir / f"{name}.parquet").replace("'", "''")
            self.con.execute(f"CREATE VIEW {_q(name)} AS SELECT * FROM read_parquet('{path}')")

    # helpers -----------------------------------------------------------------------

    def _collect(self, ledger: str, check: str, sql: str, mask: bool) -> None:
        """`sql` yields (org_unit, n, example); grouped here by org unit."""
        grouped = self.con.execute(
            f"SELECT coalesce(org_unit, '{NO_UNIT}') AS u, sum(n)::BIGINT, "
            f"list(example ORDER BY example)[1:{MAX_EXAMPLES}] FROM ({sql}) GROUP BY u ORDER BY u"
        ).fetchall()
        for unit, n, examples in grouped:
            if n:
                shown = [_example(e, mask) for e in examples]
                self.rows.append(QualityRow(ledger, unit, check, int(n), shown))

    def _id_table(self, column_sql: str, credit: bool) -> None:
        """Register `idcheck(value, code)`: each distinct identifier's error code (NULL if ok)."""
        values = [v for (v,) in self.con.execute(column_sql).fetchall()]
        check = check_credit_code if credit else check_resident_id
        known = self.checked[credit]
        codes = []
        for v in values:
            if v in known:
                codes.append(known[v])
                continue
            result = check(v)
            code = None if result.ok else result.code
            if len(known) < REMEMBER_IDS:
                known[v] = code
            codes.append(code)
        self.con.register("idcheck", pa.table({"value": pa.array(values, pa.string()),
                                               "code": pa.array(codes, pa.string())}))  # fmt: skip

    # checks ------------------------------------------------------------------------

    def identifiers(self, ledger: str, column: str, org: str, credit: bool) -> None:
        t, c = _q(ledger), _q(column)
        self._id_table(f"SELECT DISTINCT {c} FROM {t} WHERE {c} IS NOT NULL", credit)
        base = f"FROM {t} JOIN idcheck ON {t}.{c} = idcheck.value"
        self._collect(ledger, "invalid_id",
                      f"SELECT {org} AS org_unit, 1 AS n, {c} AS example {base} "
                      "WHERE code IS NOT NULL AND code <> 'float'", mask=True)  # fmt: skip
        self._collect(ledger, "float_id",
                      f"SELECT {org} AS org_unit, 1 AS n, {c} AS example {base} WHERE code = 'float'",
                      mask=True)  # fmt: skip
        is_event = TABLES[ledger].kind != "register"
        if is_event and column == "id_number" and "persons" in self.present:
            # orphans: valid ID numbers not in the person register
            self._collect(ledger, "orphan",
                          f"SELECT {org} AS org_unit, 1 AS n, {c} AS example {base} "
                          f"WHERE code IS NULL AND {c} NOT IN "
                          "(SELECT id_number FROM persons WHERE id_number IS NOT NULL)", mask=True)  # fmt: skip
        self.con.unregister("idcheck")

    def missing(self, ledger: str, org: str) -> None:
        conds = {}
        for col in TABLES[ledger].columns:
            cond = f"{_q(col.name)} IS NULL"
            when = OPTIONAL.get((ledger, col.name))
            conds[col.name] = f"({cond} AND ({when}))" if when else cond
        # example: the row key and the empty required columns, no personal data
        key = _q(TABLES[ledger].key)
        empty = ", ".join(f"CASE WHEN {cond} THEN '{name}' END" for name, cond in conds.items())
        self._collect(ledger, "missing",
                      f"SELECT {org} AS org_unit, 1 AS n, "
                      f"'{TABLES[ledger].key}=' || coalesce({key}::VARCHAR, '?') || ' 空 (empty): ' "
                      f"|| concat_ws(',', {empty}) AS example "
                      f"FROM {_q(ledger)} WHERE {' OR '.join(conds.values())}", mask=False)  # fmt: skip

    def duplicates(self, ledger: str, org: str) -> None:
        t = _q(ledger)
        key = TABLES[ledger].key
        mask_key = key in ("credit_code", "id_number")
        self._collect(ledger, "duplicate_row",
                      f"SELECT {org} AS org_unit, n - 1 AS n, {_q(key)}::VARCHAR AS example "
                      f"FROM (SELECT *, count(*) AS n FROM {t} GROUP BY ALL) WHERE n > 1", mask=mask_key)  # fmt: skip
        for keys in (TABLES[ledger].keys, *((k,) for k in EXTRA_KEYS.get(ledger, ()))):
            cols = ", ".join(_q(k) for k in keys)
            example = " || '/' || ".join(f"{_q(k)}::VARCHAR" for k in keys)
            present = " AND ".join(f"{_q(k)} IS NOT NULL" for k in keys)
            self._collect(ledger, "duplicate_key",
                          f"SELECT any_value({org}) AS org_unit, count(*) - 1 AS n, {example} AS example "
                          f"FROM (SELECT DISTINCT * FROM {t}) WHERE {present} "
                          f"GROUP BY {cols} HAVING count(*) > 1",
                          mask=bool({"credit_code", "id_number"} & set(keys)))  # fmt: skip

    def dates(self, ledger: str, org: str) -> None:
        """Rows with an impossible date (each row once, however many of its dates are wrong)."""
        spec = TABLES[ledger]
        end = f"DATE '{PERIOD_END}'"
        if spec.kind == "spells":
            bad = f"start_date NOT BETWEEN DATE '{SPELL_FLOOR}' AND {end} OR end_date <= start_date OR end_date > {end}"
            shown = ("start_date", "end_date")
        else:
            bad = f"event_date NOT BETWEEN DATE '{PERIOD_START}' AND {end}"
            shown = ("event_date",)
            if later := LATER_DATES.get(ledger):
                column = later.split()[0]
                bad += f" OR {later} OR {column} > {end}"
                shown += (column,)
        dates = " || ' ' || ".join(f"coalesce({c}::VARCHAR, '-')" for c in shown)
        self._collect(ledger, "date_out_of_range",
                      f"SELECT {org} AS org_unit, 1 AS n, "
                      f"'{spec.key}=' || coalesce({_q(spec.key)}::VARCHAR, '?') || ': ' || {dates} AS example "
                      f"FROM {_q(ledger)} WHERE {bad}", mask=False)  # fmt: skip

    def reference_gaps(self) -> None:
        """Org units of the ledgers without a reference row for some year of the plan period."""
        units = " UNION ".join(
            f"SELECT DISTINCT {_q(ORG_COLUMN.get(n, 'org_unit'))} AS u FROM {_q(n)}"
            for n in self.present
            if TABLES[n].kind in ("register", "event", "spells") and n != "enterprises"
        )
        years = f"range({PERIOD_START.year}, {PERIOD_END.year + 1})"
        self._collect("reference", "reference_gap",
                      f"SELECT u AS org_unit, 1 AS n, y::VARCHAR AS example "
                      f"FROM ({units}) AS units, (SELECT unnest({years}) AS y) AS years "
                      "WHERE u IS NOT NULL AND NOT EXISTS (SELECT 1 FROM reference r "
                      "WHERE r.org_unit = units.u AND r.year = years.y)", mask=False)  # fmt: skip

    def run(self) -> QualityReport:
        for ledger in self.present:
            cols = {c.name for c in TABLES[ledger].columns}
            org = _q(ORG_COLUMN.get(ledger, "org_unit"))
            if "id_number" in cols:
                self.identifiers(ledger, "id_number", org, credit=False)
            if "credit_code" in cols:
                self.identifiers(ledger, "credit_code", org, credit=True)
            self.missing(ledger, org)
            self.duplicates(ledger, org)
            if TABLES[ledger].date_column:
                self.dates(ledger, org)
        if "reference" in self.present and len(self.present) > 1:
            self.reference_gaps()
        order = {c: i for i, c in enumerate(CHECKS)}
        ledgers = {n: i for i, n in enumerate(TABLES)}
        self.rows.sort(key=lambda r: (ledgers[r.ledger], order[r.check], r.org_unit))
        return QualityReport(str(self.dir), self.present, self.rows)


def quality_report(ledger_dir: Path | str) -> QualityReport:
    """Check every ledger Parquet file found in `ledger_dir`; missing files are skipped."""
    checker = _Checker(Path(ledger_dir))
    try:
        return checker.run()
    finally:
        checker.con.close()
