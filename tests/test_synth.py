"""Synthetic real-name ledgers: files, valid identifiers, dirt manifest, a sample of the
demo's city (its figures × the sampling fractions), order, the sizes behind the rates,
determinism."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from hrss.ledgers.identifiers import check_credit_code, check_resident_id
from hrss.ledgers.sample import read_fractions
from hrss.ledgers.schema import DIRT_KINDS, LEDGERS, REFERENCE_LEDGER
from hrss.ledgers.synth import generate
from hrss.ledgers.synth_city import CityFigures, city_figures
from hrss.ledgers.synth_params import SCALES
from hrss.plan.model import Plan

EVENT_LEDGERS = [n for n, spec in LEDGERS.items() if spec.kind == "event"]
DATED = [n for n, spec in LEDGERS.items() if spec.date_column]  # events and spells
FILES = [*LEDGERS, REFERENCE_LEDGER.name, "_dirt"]
PERIOD = (date(2021, 1, 1), date(2025, 12, 31))
SPELL_PERIOD = (date(1990, 1, 1), date(2025, 12, 31))
FRACTIONS = SCALES["small"].fractions()


@pytest.fixture(scope="module")
def city(plan: Plan) -> CityFigures:
    return city_figures(plan)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, "small", seed=7)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, "small", seed=7, dirt_rate=0.0)
    return out


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_every_ledger_is_written_and_duckdb_reads_it(dirty: Path) -> None:
    con = duckdb.connect()
    for name in FILES:
        path = dirty / f"{name}.parquet"
        assert path.exists(), name
        (n,) = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
        assert n > 0, name
    (persons,) = con.execute(f"SELECT count(*) FROM read_parquet('{dirty}/persons.parquet')").fetchone()
    assert 39_000 < persons < 41_000
    assert read_fractions(dirty) == FRACTIONS


def test_clean_identifiers_all_valid(clean: Path) -> None:
    persons = _rows(clean / "persons.parquet")
    for p in persons:
        result = check_resident_id(p["id_number"])
        assert result.ok, (p, result.reason)
        assert result.birth_date == p["birth_date"] and result.sex == p["sex"]
        assert date(1950, 1, 1) <= p["birth_date"] <= date(2005, 12, 31)
    assert len({p["id_number"] for p in persons}) == len(persons)
    for e in _rows(clean / "enterprises.parquet"):
        assert check_credit_code(e["credit_code"]).ok, e
    known = {p["id_number"] for p in persons}
    for name in DATED:
        low, high = SPELL_PERIOD if LEDGERS[name].kind == "spells" else PERIOD
        column = LEDGERS[name].date_column
        for row in _rows(clean / f"{name}.parquet"):
            assert row["id_number"] in known
            assert low <= row[column] <= high, (name, row)
    assert _rows(clean / "_dirt.parquet") == []


def test_every_dirt_class_appears_and_is_real(dirty: Path) -> None:
    manifest = _rows(dirty / "_dirt.parquet")
    assert {m["kind"] for m in manifest} == set(DIRT_KINDS)
    tables = {n: _rows(dirty / f"{n}.parquet") for n in LEDGERS}
    known = {p["id_number"] for p in tables["persons"]}
    for m in manifest:
        rows = tables[m["ledger"]]
        row = rows[m["row_index"]]
        key = LEDGERS[m["ledger"]].key
        assert str(row[key]) == m["row_key"] or row[key] is None, m
        kind, column = m["kind"], m["column"]
        if kind == "check_digit":
            value = row[column]
            code = check_resident_id(value).code if column == "id_number" else check_credit_code(value).code
            assert code == "check_digit", m
        elif kind == "float":
            assert check_resident_id(row[column]).code == "float", m
            assert "e+17" in row[column]
        elif kind == "missing":
            assert row[column] is None, m
        elif kind == "duplicate":
            assert rows[m["row_index"] - 1] == row, m
        elif kind == "orphan":
            assert check_resident_id(row["id_number"]).ok and row["id_number"] not in known, m
        elif kind == "date_out_of_range":
            low, high = SPELL_PERIOD if column == "start_date" else PERIOD
            assert column == LEDGERS[m["ledger"]].date_column, m
            assert not low <= row[column] <= high, m
    # beside the clean row it garbles (the record stays): the same but for the key and the column
    for m in manifest:
        if m["ledger"] in DATED and m["kind"] not in ("duplicate", "orphan"):
            rows, key = tables[m["ledger"]], LEDGERS[m["ledger"]].key
            twin, row = rows[m["row_index"] - 1], rows[m["row_index"]]
            assert {c for c in row if row[c] != twin[c]} <= {key, m["column"]}, m
    # every real-name ledger but the few hundred postdocs is sure to get some
    assert set(DATED) - {"postdocs"} <= {m["ledger"] for m in manifest} <= set(LEDGERS)
    # roughly the default 2% rate
    total = sum(len(r) for r in tables.values())
    assert 0.01 < len(manifest) / total < 0.03


def _yearly(con: duckdb.DuckDBPyConnection, ledger: str, where: str = "TRUE") -> dict[tuple[str, int], int]:
    return {(u, y): n for u, y, n in con.execute(
        f"SELECT org_unit, year(event_date), count(*) FROM {ledger} WHERE {where} GROUP BY 1, 2"
    ).fetchall()}  # fmt: skip


def test_events_are_the_city_figures_sampled(clean: Path, city: CityFigures, plan: Plan) -> None:
    """Each unit's events of a year are its figures × the ledger's fraction, to one record
    (the running totals are rounded, never the months one by one)."""
    con = _sql(clean)
    checks = [("I01", "employment_registrations", "kind = 'employment'"), ("I03", "rural_transfers", "TRUE"),
              ("I04", "entrepreneurship", "TRUE"), ("I10", "graduates_attracted", "TRUE")]  # fmt: skip
    for indicator, ledger, where in checks:
        got = _yearly(con, ledger, where)
        for code, series in city.flows(indicator).items():
            for y in plan.years:
                want = sum(series[(y - 2021) * 12 : (y - 2020) * 12]) * FRACTIONS[ledger]
                assert abs(got.get((code, y), 0) - want) <= 1, (indicator, code, y, got.get((code, y)), want)
    # loans (A05): each unit-month's amounts add up to its figure × the fraction, to 0.1 万元
    loans = dict(((u, y), v) for u, y, v in con.execute(
        "SELECT org_unit, year(event_date), sum(loan_wan_yuan) FROM entrepreneurship GROUP BY 1, 2").fetchall())  # fmt: skip
    for code, series in city.flows("A05").items():
        want = sum(series[48:]) * FRACTIONS["entrepreneurship"]
        assert loans[(code, 2025)] == pytest.approx(want, abs=1.0), code
    # city-only figures are split among the units: the city's month is exact to one record
    (subsidised,) = con.execute("SELECT count(*) FROM training WHERE subsidised AND event_date < DATE '2025-07-01'").fetchone()
    assert subsidised == pytest.approx(sum(city.city_series("I05")[:54]) * FRACTIONS["training"], abs=1)
    # a planted discrepancy (demo.DISCREPANCIES): 铜山区's March 2025 employment is not in the ledger
    (march,) = con.execute("SELECT count(*) FROM employment_registrations WHERE org_unit = '320312' AND kind = 'employment' "
                           "AND event_date BETWEEN DATE '2025-03-01' AND DATE '2025-03-31'").fetchone()  # fmt: skip
    assert march == 0


def test_persons_counted_once_are_never_drawn_twice(clean: Path) -> None:
    con = _sql(clean)
    for ledger, where, per_year in (("employment_registrations", "kind = 'employment'", True), ("entrepreneurship", "TRUE", True),
                                    ("graduates_attracted", "TRUE", False), ("postdocs", "TRUE", False),
                                    ("certificates", "level IN ('高级工', '技师', '高级技师')", False)):  # fmt: skip
        group = "id_number, year(event_date)" if per_year else "id_number"
        (twice,) = con.execute(f"SELECT count(*) FROM (SELECT {group} FROM {ledger} WHERE {where} GROUP BY ALL HAVING count(*) > 1)").fetchone()
        assert twice == 0, ledger


def test_seasonality(clean: Path) -> None:
    con = duckdb.connect()
    by_month = dict(con.execute(
        f"SELECT month(event_date), count(*) FROM read_parquet('{clean}/graduates_attracted.parquet') GROUP BY 1"
    ).fetchall())  # fmt: skip
    assert by_month[7] > 3 * by_month[1]


def _checksum(out: Path) -> str:
    """The files byte for byte (so row order counts too)."""
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((out / f"{name}.parquet").read_bytes())
    return digest.hexdigest()


def test_same_seed_same_files(dirty: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", "small", seed=7)
    assert _checksum(tmp_path / "again") == _checksum(dirty)
    generate(tmp_path / "other", "small", seed=8)
    assert _checksum(tmp_path / "other") != _checksum(dirty)


def test_surname_frequencies(clean: Path) -> None:
    con = duckdb.connect()
    top = con.execute(
        f"SELECT left(name, 1) AS s, count(*) AS n FROM read_parquet('{clean}/persons.parquet') "
        "GROUP BY s ORDER BY n DESC LIMIT 2"
    ).fetchall()
    assert {s for s, _ in top} == {"王", "李"}


def test_chunked_writing_gives_the_same_counts(clean: Path, tmp_path: Path) -> None:
    # Surnames are allocated per chunk, so rows differ with the chunk size; the counts do not.
    counts = generate(tmp_path / "chunked", "small", seed=7, dirt_rate=0.0, chunk_rows=3_000)
    assert pq.ParquetFile(tmp_path / "chunked" / "persons.parquet").metadata.num_row_groups > 1
    assert counts["persons"] == 40_000
    for name in EVENT_LEDGERS:
        assert counts[name] == pq.ParquetFile(clean / f"{name}.parquet").metadata.num_rows


def _sql(out: Path) -> duckdb.DuckDBPyConnection:
    """A connection with a view per ledger file, named after the ledger."""
    con = duckdb.connect()
    for name in FILES:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{out}/{name}.parquet')")
    return con


def test_files_are_in_date_order(clean: Path, dirty: Path) -> None:
    # so that DuckDB can skip row groups by date; dirty dates stay where their row was
    dirt = _rows(dirty / "_dirt.parquet")
    for name in DATED:
        column = LEDGERS[name].date_column
        for out in (clean, dirty):
            soiled = {m["row_index"] for m in dirt if out == dirty and m["ledger"] == name and m["column"] == column}
            dates = [r[column] for i, r in enumerate(_rows(out / f"{name}.parquet")) if i not in soiled]
            assert dates == sorted(dates), (name, out)


def test_unemployment_registrations_end(clean: Path) -> None:
    con = _sql(clean)
    (employment_ends,) = con.execute(
        "SELECT count(end_date) FROM employment_registrations WHERE kind = 'employment'"
    ).fetchone()
    assert employment_ends == 0
    n, ended, wrong, longest = con.execute(
        "SELECT count(*), count(end_date), count(*) FILTER (end_date <= event_date OR end_date > DATE '2025-12-31'),"
        " max(end_date - event_date) FROM employment_registrations WHERE kind = 'unemployment'"
    ).fetchone()
    assert wrong == 0 and longest <= 366
    assert 0.76 < ended / n < 0.85  # 85% end, less those that would end after 2025 (~5% of them)


def test_insurance_spells_chain_and_never_overlap(clean: Path) -> None:
    con = _sql(clean)
    (overlaps,) = con.execute(
        "SELECT count(*) FROM (SELECT end_date, lead(start_date) OVER w AS next_start FROM insurance_enrollments "
        "WINDOW w AS (PARTITION BY id_number, insurance ORDER BY start_date)) "
        "WHERE next_start IS NOT NULL AND (end_date IS NULL OR next_start < end_date)"
    ).fetchone()
    assert overlaps == 0
    # a status change ends one spell on the day the next starts, with the other status
    changes, same_status = con.execute(
        "SELECT count(*), count(*) FILTER (status = next_status) FROM (SELECT end_date, status, "
        "lead(start_date) OVER w AS next_start, lead(status) OVER w AS next_status FROM insurance_enrollments "
        "WINDOW w AS (PARTITION BY id_number, insurance ORDER BY start_date)) WHERE next_start = end_date"
    ).fetchone()
    assert changes > 1000 and same_status == 0
    (before_2021,) = con.execute(
        "SELECT count(*) FROM insurance_enrollments WHERE start_date < DATE '2021-01-01'"
    ).fetchone()
    assert before_2021 > 5000
    # nobody enrolled before turning 16
    (too_young,) = con.execute(
        "SELECT count(*) FROM insurance_enrollments i JOIN persons p USING (id_number) "
        "WHERE i.start_date < p.birth_date + INTERVAL 16 YEAR"
    ).fetchone()
    assert too_young == 0


# Indicator rates as docs/LEDGERS.md defines them, over the clean ledgers, at a month end E.
def _active(con: duckdb.DuckDBPyConnection, day: str, where: str) -> int:
    return con.execute(
        f"SELECT count(*) FROM insurance_enrollments WHERE {where} AND start_date <= DATE '{day}' "
        f"AND (end_date IS NULL OR end_date > DATE '{day}')"
    ).fetchone()[0]


def test_insurance_follows_the_city(clean: Path, city: CityFigures) -> None:
    con = _sql(clean)
    (people,) = con.execute("SELECT count(*) FROM persons").fetchone()
    targets = {"pension": (0.397, 0.417), "unemployment": (0.094, 0.111), "work_injury": (0.113, 0.130)}
    for insurance, (start, end) in targets.items():  # 表2 I06–I08 of ~900万 residents
        for day, share in (("2020-12-31", start), ("2025-12-31", end)):
            assert _active(con, day, f"insurance = '{insurance}'") / people == pytest.approx(share, abs=0.01)
    # each unit's enrolees at a month's end are its figure × the register's fraction
    f = FRACTIONS["insurance_enrollments"]
    for indicator, insurance in (("I06", "pension"), ("I07", "unemployment"), ("I08", "work_injury")):
        for code, series in city.stocks(indicator).items():
            for day, i in (("2023-06-30", 29), ("2025-12-31", 59)):
                assert _active(con, day, f"insurance = '{insurance}' AND org_unit = '{code}'") == round(series[i] * f), (code, day)
    for day, i in (("2021-01-31", 0), ("2025-12-31", 59)):  # I09, the city's paying share
        paying = _active(con, day, "insurance = 'pension' AND status = 'paying'")
        assert paying / _active(con, day, "insurance = 'pension'") * 100 == pytest.approx(city.city_series("I09")[i], abs=0.05)


def test_rates_follow_the_city(clean: Path, city: CityFigures) -> None:
    con = _sql(clean)

    def one(sql: str) -> float:
        return con.execute(sql).fetchone()[0]

    def ref(column: str, year: int) -> int:
        return one(f"SELECT sum({column}) FROM reference WHERE year = {year}")

    employment, certificates, register = (FRACTIONS[n] for n in ("employment_registrations", "certificates", "persons"))
    for year in range(2021, 2026):  # I02 城镇登记失业率 at each year end, the city's December figure
        stock = one(
            "SELECT count(*) FROM employment_registrations WHERE kind = 'unemployment' "
            f"AND event_date <= DATE '{year}-12-31' AND (end_date IS NULL OR end_date > DATE '{year}-12-31')"
        )
        rate = stock / employment / ref("urban_labour_force", year) * 100
        assert rate == pytest.approx(city.city_series("I02")[(year - 2021) * 12 + 11], abs=0.01), year
    for day, i in (("2020-12-31", None), ("2023-06-30", 29), ("2025-12-31", 59)):  # I11 高技能人才
        new = one(
            "SELECT count(DISTINCT id_number) FROM certificates WHERE cert_type = 'skill' "
            f"AND level IN ('高级工', '技师', '高级技师') AND event_date <= DATE '{day}'"
        )
        value = (ref("high_skill_2020", 2025) + new / certificates) / ref("labour_force", 2025) * 10_000
        want = 689 if i is None else max(city.city_series("I11")[: i + 1])  # the path's running highest
        assert value == pytest.approx(want, abs=0.3), day
    for day, i in (("2023-12-31", 35), ("2025-12-31", 59)):  # I18 电子社保卡覆盖率
        applied = one(f"SELECT count(DISTINCT id_number) FROM ecard_applications WHERE event_date <= DATE '{day}'")
        value = (ref("ecard_holders_2020", 2025) + applied / register) / ref("resident_population", 2025) * 100
        assert value == pytest.approx(max(city.city_series("I18")[: i + 1]), abs=0.05), day
    on_time = "avg(CASE WHEN closed_date <= due_date THEN 1.0 ELSE 0.0 END)"
    due = "due_date <= DATE '2025-12-31'"
    assert one(f"SELECT {on_time} FROM cases WHERE kind = 'inspection' AND {due}") == pytest.approx(0.985, abs=0.012)
    assert one(f"SELECT {on_time} FROM cases WHERE kind = 'arbitration' AND {due}") == pytest.approx(0.955, abs=0.03)
    success = one("SELECT avg(CASE WHEN outcome = 'success' THEN 1.0 ELSE 0.0 END) FROM cases "
                  "WHERE kind = 'mediation' AND closed_date IS NOT NULL")  # fmt: skip
    assert success == pytest.approx(0.72, abs=0.05)
    good = one("SELECT avg(CASE WHEN rating IN ('非常满意', '满意') THEN 1.0 ELSE 0.0 END) FROM service_ratings")
    parts = city.parts["I19"]
    assert good == pytest.approx(sum(p[0] for p in parts if p) / sum(p[1] for p in parts if p), abs=0.002)  # I19


def test_event_volumes(clean: Path, city: CityFigures) -> None:
    con = _sql(clean)
    rows = dict(con.execute("SELECT cert_type, count(*) FROM certificates GROUP BY 1").fetchall())
    f = FRACTIONS["certificates"]
    assert rows == {"skill": pytest.approx(sum(city.city_series("I12")) * f, abs=1),
                    "professional": pytest.approx(sum(city.city_series("I13")) * f, abs=1)}  # fmt: skip
    (high,) = con.execute(
        "SELECT avg(CASE WHEN level IN ('高级工', '技师', '高级技师') THEN 1.0 ELSE 0.0 END) FROM certificates "
        "WHERE cert_type = 'skill'"
    ).fetchone()
    assert high == pytest.approx(0.25, abs=0.01)
    levels = dict(con.execute("SELECT cert_type, list(DISTINCT level ORDER BY level) FROM certificates GROUP BY 1").fetchall())
    assert set(levels["professional"]) == {"初级", "中级", "高级"}
    # postdocs: every one of the city's (fraction 1), mostly in 主城区, the development zones and 市直
    n, central = con.execute(
        "SELECT count(*), count(*) FILTER (org_unit IN ('320302', '320303', '320311', 'XZ-JKQ', 'XZ-GXQ', "
        "'XZ-GWQ', 'XZ-SZ')) FROM postdocs"
    ).fetchone()
    assert n == pytest.approx(sum(city.city_series("I14")), abs=1) and central / n > 0.6
    assert con.execute("SELECT count(*) FROM postdocs WHERE station NOT LIKE '%博士后%'").fetchone()[0] == 0
    # one e-card application per person
    assert con.execute("SELECT count(*) = count(DISTINCT id_number) FROM ecard_applications").fetchone()[0]
    cases = dict(con.execute("SELECT kind, count(*) FROM cases GROUP BY 1").fetchall())
    assert set(cases) == {"inspection", "mediation", "arbitration"} and min(cases.values()) >= 300
    (ratings,) = con.execute("SELECT count(*) FROM service_ratings").fetchone()
    assert ratings == pytest.approx(sum(p[1] for p in city.parts["I19"] if p) * FRACTIONS["service_ratings"], abs=1)


def test_cases_dates_and_outcomes(clean: Path) -> None:
    con = _sql(clean)
    wrong = con.execute(
        "SELECT count(*) FROM cases WHERE due_date - event_date <> CASE kind WHEN 'mediation' THEN 15 ELSE 60 END "
        "OR (closed_date IS NULL) <> (outcome IS NULL) OR closed_date <= event_date OR closed_date > DATE '2025-12-31'"
    ).fetchone()[0]
    assert wrong == 0
    outcomes = dict(con.execute("SELECT kind, list(DISTINCT outcome ORDER BY outcome) FROM cases "
                                "WHERE outcome IS NOT NULL GROUP BY 1").fetchall())  # fmt: skip
    assert outcomes == {"inspection": ["closed"], "mediation": ["failed", "success"],
                        "arbitration": ["award", "settled", "withdrawn"]}  # fmt: skip
    assert con.execute("SELECT count(*) FROM cases WHERE closed_date IS NULL").fetchone()[0] > 0


def test_reference_covers_every_unit_and_year(clean: Path, plan: Plan) -> None:
    con = _sql(clean)
    leaves = {u.code for u in plan.leaves(plan.city_unit.name)}
    rows = con.execute("SELECT org_unit, year FROM reference").fetchall()
    assert sorted(rows) == sorted((u, y) for u in leaves for y in range(2021, 2026))
    used = {u for (u,) in con.execute(
        "SELECT DISTINCT org_unit FROM employment_registrations UNION SELECT DISTINCT org_unit FROM postdocs "
        "UNION SELECT DISTINCT residence_unit FROM persons"
    ).fetchall()}  # fmt: skip
    assert used <= leaves
    # whole-city figures: the register's residents scaled up by its fraction
    per_unit = dict(con.execute("SELECT residence_unit, count(*) FROM persons GROUP BY 1").fetchall())
    for unit, population, ecards in con.execute(
        "SELECT org_unit, resident_population, ecard_holders_2020 FROM reference WHERE year = 2023"
    ).fetchall():
        assert population == round(per_unit.get(unit, 0) / FRACTIONS["persons"])
        assert ecards == round(population * 0.17)
    assert 8_900_000 < con.execute("SELECT sum(resident_population) FROM reference WHERE year = 2025").fetchone()[0] < 9_100_000
