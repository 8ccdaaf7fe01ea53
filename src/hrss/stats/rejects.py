"""The rejects table (剔除记录表): every ledger row the computation leaves out, and why.

`write_rejects(plan, ledger_dir, out)` applies exactly the cleaning rules of
`hrss.stats.compute` row by row and writes one Parquet row per rejected ledger row:
ledger, row key, org unit, the first rule it fails, and its ID number masked. Nothing is
dropped silently: `rows used + rows rejected = rows read` for every ledger (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from hrss.ledgers.schema import LEDGERS
from hrss.plan.model import Plan
from hrss.stats.sql import complete_sql, dates_ok_sql, id_valid_sql, normalised

REASONS = {
    "missing": "必填字段为空 (required field missing)",
    "date_out_of_range": "日期不在规划期内或前后矛盾 (date outside the plan period or inconsistent)",
    "unknown_unit": "经办地不是规划的组织单位 (org unit not in the plan)",
    "invalid_id": "身份证号无效（含被存为数字） (invalid ID number, incl. stored as a number)",
    "orphan": "身份证号不在人员基础信息库中 (ID number not in the person register)",
    "duplicate": "重复记录 (duplicate of an earlier row with the same key)",
}
MASKED_ID = (
    "CASE WHEN id_number IS NULL THEN NULL WHEN length(id_number) = 18 "
    "THEN substr(id_number, 1, 6) || '********' || substr(id_number, 15, 4) "
    "ELSE substr(id_number, 1, 2) || '***' END"
)


@dataclass(frozen=True)
class RejectSummary:
    ledger: str
    reason: str
    count: int


def _sql(ledger: str, plan: Plan, today: date) -> str:
    spec = LEDGERS[ledger]
    key = spec.key
    pid = normalised("id_number")
    start, end = date(plan.start_year, 1, 1), date(plan.end_year, 12, 31)
    checks = [
        # a person counts by a valid ID number alone: another empty field is a quality issue
        ("missing", f"COALESCE({complete_sql(ledger)}, FALSE)") if ledger != "persons" else None,
        *((("date_out_of_range", f"COALESCE({dates_ok_sql(ledger, start, end)}, FALSE)"),) if spec.kind != "register" else ()),
        ("unknown_unit", "org_unit IN (SELECT code FROM hrss_units)") if ledger != "persons" else None,
        ("invalid_id", f"COALESCE({id_valid_sql(pid, today)}, FALSE)"),
        ("orphan", f"{pid} IN (SELECT id_number FROM persons_ok)") if ledger != "persons" else None,
        ("duplicate", "rn = 1"),
    ]
    cases = " ".join(f"WHEN NOT ({cond}) THEN '{reason}'" for reason, cond in filter(None, checks))
    unit = "residence_unit" if ledger == "persons" else "org_unit"
    partition = pid if ledger == "persons" else key
    return (
        f"SELECT '{ledger}' AS ledger, CAST({key} AS VARCHAR) AS row_key, {unit} AS org_unit, reason, {MASKED_ID} AS id_masked "
        f"FROM (SELECT *, CASE {cases} END AS reason FROM "
        f"(SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {key}) AS rn FROM {ledger}) t) r "
        "WHERE reason IS NOT NULL"
    )


def write_rejects(plan: Plan, ledger_dir: Path, out: Path, *, today: date | None = None) -> list[RejectSummary]:
    """Write the rejects of every ledger found in ledger_dir to out (Parquet); return counts by reason."""
    today = today or date.today()
    present = [n for n in LEDGERS if n != "enterprises" and (ledger_dir / f"{n}.parquet").is_file()]
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        for name in present:
            path = str(ledger_dir / f"{name}.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        units = ", ".join(f"('{u.code}')" for u in plan.leaves(plan.city_unit.name))
        con.execute(f"CREATE TABLE hrss_units(code VARCHAR); INSERT INTO hrss_units VALUES {units}")
        pid = normalised("id_number")
        con.execute(f"CREATE TABLE persons_ok AS SELECT DISTINCT {pid} AS id_number FROM persons "
                    f"WHERE id_number IS NOT NULL AND {id_valid_sql(pid, today)}")  # fmt: skip
        union = " UNION ALL ".join(_sql(n, plan, today) for n in present)
        target = str(out).replace("'", "''")
        out.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({union}) TO '{target}' (FORMAT PARQUET)")
        rows = con.execute(
            f"SELECT ledger, reason, COUNT(*) FROM read_parquet('{target}') GROUP BY ledger, reason ORDER BY ledger, reason"
        ).fetchall()
    finally:
        con.close()
    return [RejectSummary(str(a), str(b), int(c)) for a, b, c in rows]
