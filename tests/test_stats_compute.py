"""实名制自动统计 on hand-made ledgers: every measure kind and every cleaning rule, with the
expected figures worked out in the comments."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrss.ledgers.identifiers import make_resident_id
from hrss.ledgers.schema import LEDGERS, REFERENCE_LEDGER, arrow_schema
from hrss.monitoring.periods import month_index
from hrss.stats.compute import compute
from hrss.stats.definitions import Definition, Measure, load_definitions
from hrss.stats.engines import DuckDBEngine

TODAY = date(2026, 11, 26)
P1 = make_resident_id("320321", date(1985, 3, 1), 11)
P2 = make_resident_id("320322", date(1990, 7, 9), 22)
P3 = make_resident_id("320302", date(1979, 12, 31), 33)
ORPHAN = make_resident_id("320324", date(1988, 8, 8), 44)  # valid, but nobody in the register
BAD = P2[:17] + ("0" if P2[17] != "0" else "1")  # P2 with a wrong check character
FENG, PEI = "320321", "320322"  # 丰县, 沛县
JAN, FEB, MAR = (month_index(2021, m) for m in (1, 2, 3))


def write(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    schema = arrow_schema(LEDGERS[name])
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema), folder / f"{name}.parquet")


def person(pid: int, id_number: str) -> dict[str, Any]:
    return {"person_id": pid, "id_number": id_number, "name": "张三", "sex": "M", "birth_date": date(1985, 3, 1),
            "hukou_unit": "320321", "residence_unit": FENG, "education": "本科", "phone": "13800001234"}  # fmt: skip


def emp(event_id: int, id_number: str, unit: str, day: date, kind: str = "employment", **extra: Any) -> dict[str, Any]:
    row = {"event_id": event_id, "id_number": id_number, "credit_code": "91320300MA1XXXXXXX" if kind == "employment" else None,
           "org_unit": unit, "event_date": day, "kind": kind}  # fmt: skip
    return {**row, **extra}


@pytest.fixture
def ledgers(tmp_path: Path) -> Path:
    write(tmp_path, "persons", [person(1, P1), person(2, P2), person(3, P3), person(4, BAD)])
    write(tmp_path, "employment_registrations", [
        emp(1, P1, FENG, date(2021, 1, 5)),
        emp(2, P1, FENG, date(2021, 2, 10)),  # P1 again in 丰县 the same year: not new
        emp(3, P2, PEI, date(2021, 2, 1)),
        emp(3, P2, PEI, date(2021, 2, 1)),  # an exact duplicate row
        emp(4, BAD, FENG, date(2021, 1, 7)),  # invalid ID number
        emp(5, P3, FENG, date(2030, 1, 1)),  # date outside the plan period
        emp(6, P3, "XZ-NOWHERE", date(2021, 3, 1)),  # not an org unit of the plan
        {**emp(7, P3, FENG, date(2021, 3, 2)), "credit_code": None},  # employer missing
        emp(8, ORPHAN, PEI, date(2021, 3, 3)),  # nobody in the register
        emp(9, P3, PEI, date(2021, 3, 15), kind="unemployment"),  # not an employment
        emp(10, "3.20322199007090e+17", PEI, date(2021, 1, 9)),  # ID number stored as a float
        emp(11, P1, PEI, date(2021, 3, 20)),  # P1 moves to 沛县: new there, not new city-wide
        emp(12, P1.lower(), FENG, date(2022, 1, 3)),  # a new year counts again (x/X alike)
    ])  # fmt: skip
    write(tmp_path, "entrepreneurship", [
        {"event_id": 1, "id_number": P1, "org_unit": FENG, "event_date": date(2021, 2, 3), "loan_wan_yuan": 12.5},
        {"event_id": 2, "id_number": P2, "org_unit": FENG, "event_date": date(2021, 2, 28), "loan_wan_yuan": 7.25},
        {"event_id": 2, "id_number": P2, "org_unit": FENG, "event_date": date(2021, 2, 28), "loan_wan_yuan": 7.25},
        {"event_id": 3, "id_number": P3, "org_unit": PEI, "event_date": date(2021, 3, 1), "loan_wan_yuan": 0.0},
        {"event_id": 4, "id_number": BAD, "org_unit": PEI, "event_date": date(2021, 3, 1), "loan_wan_yuan": 50.0},
    ])  # fmt: skip
    return tmp_path


I01 = Definition("I01", "年内首次就业登记", value=Measure("first_in_year", "人", "employment_registrations", "kind = 'employment'", "event_date"))
I04 = Definition("I04", "创业人数", value=Measure("count", "人", "entrepreneurship", None, "event_date"))
A05 = Definition("A05", "贷款", value=Measure("sum", "万元", "entrepreneurship", "loan_wan_yuan > 0", "event_date", column="loan_wan_yuan"))


def run(plan, folder: Path, as_of: int, since: int | None = None, defs=(I01, I04, A05)) -> dict[tuple[str, str, str], float]:
    engine = DuckDBEngine(threads=1)
    try:
        result = compute(plan, list(defs), folder, engine, as_of, since=since, today=TODAY)
    finally:
        engine.close()
    return {(v.indicator, v.org_unit, v.period.label): v.value for v in result.values}


def test_first_in_year_and_cleaning(plan, ledgers):
    got = run(plan, ledgers, month_index(2022, 1))
    # 丰县: P1 in January (row 1); row 2 is P1 again; rows 4, 5, 7 are dirty → Jan 1, Feb 0, Mar 0.
    # 沛县: P2 in February (row 3, its duplicate ignored); P1 in March (row 11); rows 8, 9, 10 don't count.
    # 万人 = 人 / 10,000.
    assert [got[("I01", "丰县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [0.0001, 0.0, 0.0]
    assert [got[("I01", "沛县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [0.0, 0.0001, 0.0001]
    # City-wide each person once a year: P1 (January), P2 (February); P1's move adds nothing in March.
    assert [got[("I01", "徐州市", m)] for m in ("2021-01", "2021-02", "2021-03")] == [0.0001, 0.0001, 0.0]
    # 2022: P1 registers again (lower-case x normalised) → new for 2022.
    assert got[("I01", "丰县", "2022-01")] == 0.0001
    assert got[("I01", "徐州市", "2022-01")] == 0.0001
    # Every reporting unit has a value for every month, zero where nothing happened.
    assert got[("I01", "市直", "2021-02")] == 0.0
    assert len([k for k in got if k[0] == "I01"]) == 13 * (14 + 1)


def test_count_and_sum(plan, ledgers):
    got = run(plan, ledgers, month_index(2021, 3))
    # I04 count: 丰县 February has events 1 and 2 (2 twice) → 2 persons; 沛县 March event 3 (4 has a bad ID).
    assert got[("I04", "丰县", "2021-02")] == 0.0002
    assert got[("I04", "沛县", "2021-03")] == 0.0001
    assert got[("I04", "徐州市", "2021-02")] == 0.0002
    # A05 sum of loans > 0: 丰县 February 12.5 + 7.25 (the duplicate once) = 19.75 万元;
    # 沛县 March: event 3 has no loan, event 4 a bad ID → 0.
    assert got[("A05", "丰县", "2021-02")] == 19.75
    assert got[("A05", "沛县", "2021-03")] == 0.0
    assert got[("A05", "徐州市", "2021-02")] == 19.75


def test_incremental_month_matches_full(plan, ledgers):
    full = run(plan, ledgers, month_index(2022, 1))
    last = run(plan, ledgers, month_index(2022, 1), since=month_index(2022, 1))
    assert set(last) == {k for k in full if k[2] == "2022-01"}
    assert all(last[k] == full[k] for k in last)
    march = run(plan, ledgers, month_index(2021, 3), since=month_index(2021, 3))
    # first_in_year still sees January and February: P1's March row in 丰县 is not new.
    assert march[("I01", "丰县", "2021-03")] == 0.0
    assert march[("I01", "沛县", "2021-03")] == 0.0001


def spell(record_id: int, id_number: str, unit: str, status: str, start: date, end: date | None) -> dict[str, Any]:
    return {"record_id": record_id, "id_number": id_number, "org_unit": unit, "insurance": "pension",
            "status": status, "start_date": start, "end_date": end}  # fmt: skip


@pytest.fixture
def stocks(ledgers: Path) -> Path:
    write(ledgers, "insurance_enrollments", [
        spell(1, P1, FENG, "paying", date(2015, 6, 1), date(2021, 2, 15)),  # P1 stops paying on 15 February…
        spell(2, P1, FENG, "suspended", date(2021, 2, 15), None),  # …and stays enrolled, suspended
        spell(3, P2, FENG, "paying", date(2021, 1, 31), date(2021, 3, 1)),
        spell(4, P3, PEI, "paying", date(2021, 3, 31), None),
        spell(4, P3, PEI, "paying", date(2021, 3, 31), None),  # duplicate row
        spell(5, BAD, FENG, "paying", date(2020, 1, 1), None),  # invalid ID number
        spell(6, P2, FENG, "paying", date(1970, 1, 1), None),  # start before 1990: out of range
    ])  # fmt: skip
    write(ledgers, "ecard_applications", [
        {"event_id": 1, "id_number": P1, "org_unit": FENG, "event_date": date(2021, 1, 10)},
        {"event_id": 2, "id_number": P1, "org_unit": FENG, "event_date": date(2021, 2, 10)},  # P1 again: not new
        {"event_id": 3, "id_number": P2, "org_unit": FENG, "event_date": date(2021, 2, 20)},
        {"event_id": 4, "id_number": P3, "org_unit": PEI, "event_date": date(2021, 3, 5)},
        {"event_id": 5, "id_number": ORPHAN, "org_unit": PEI, "event_date": date(2021, 3, 6)},
    ])  # fmt: skip
    ref = [{"org_unit": FENG, "year": 2021, "resident_population": 10, "ecard_holders_2020": 3},
           {"org_unit": PEI, "year": 2021, "resident_population": 20, "ecard_holders_2020": 5}]  # fmt: skip
    schema = arrow_schema(REFERENCE_LEDGER)
    pq.write_table(pa.Table.from_pylist([{c: r.get(c, 0) for c in schema.names} for r in ref], schema=schema), ledgers / "reference.parquet")
    return ledgers


def test_active_spells_and_stock_rates(plan, stocks):
    defs = [d for d in load_definitions(plan) if d.indicator in ("I06", "I09", "I18")]
    got = run(plan, stocks, MAR, defs=defs)
    # In force at a month's end E: start <= E and (end is empty or end > E).
    # 丰县 31 Jan: spells 1 (ends 15 Feb) and 3 (starts 31 Jan) → 2; 28 Feb: 2 and 3 → 2;
    # 31 Mar: 2 only (3 ended 1 Mar) → 1.  沛县: spell 4 from 31 Mar → 0, 0, 1.  万人 = 人 / 10,000.
    assert [got[("I06", "丰县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [0.0002, 0.0002, 0.0001]
    assert [got[("I06", "沛县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [0.0, 0.0, 0.0001]
    assert got[("I06", "徐州市", "2021-03")] == 0.0002
    # I09 paying ÷ in force × 100: 丰县 Jan 2/2 = 100; Feb spell 2 suspended, 3 paying → 1/2 = 50;
    # Mar 0/1 = 0. 沛县 Jan and Feb 0/0: no rate; Mar 1/1 = 100. City Mar (0 + 1)/(1 + 1) = 50.
    assert [got[("I09", "丰县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [100.0, 50.0, 0.0]
    assert ("I09", "沛县", "2021-01") not in got
    assert got[("I09", "沛县", "2021-03")] == 100.0
    assert got[("I09", "徐州市", "2021-03")] == 50.0
    # I18 (holders at end-2020 + first applications since) ÷ residents × 100:
    # 丰县 Jan (3 + 1)/10 = 40; Feb (3 + 2)/10 = 50 (P1's second application is not new); Mar 50.
    # 沛县 Jan 5/20 = 25; Feb 25; Mar (5 + 1)/20 = 30 (the orphan does not count).
    # City: (3 + 5 + new)/(10 + 20): Jan 9/30 = 30, Mar 11/30 = 36.67.
    assert [got[("I18", "丰县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [40.0, 50.0, 50.0]
    assert [got[("I18", "沛县", m)] for m in ("2021-01", "2021-02", "2021-03")] == [25.0, 25.0, 30.0]
    assert got[("I18", "徐州市", "2021-01")] == pytest.approx(30.0)
    assert got[("I18", "徐州市", "2021-03")] == pytest.approx(11 / 30 * 100)
    # Units without reference figures get no rate rather than a made-up one.
    assert ("I18", "鼓楼区", "2021-03") not in got


def test_incremental_stocks_match_full(plan, stocks):
    defs = [d for d in load_definitions(plan) if d.indicator in ("I06", "I09", "I18")]
    full = run(plan, stocks, MAR, defs=defs)
    last = run(plan, stocks, MAR, since=MAR, defs=defs)
    assert last == {k: v for k, v in full.items() if k[2] == "2021-03"}
