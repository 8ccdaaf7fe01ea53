"""Synthetic real-name ledgers: files, valid identifiers, dirt manifest, shares, determinism."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from hrss.ledgers.identifiers import check_credit_code, check_resident_id
from hrss.ledgers.schema import DIRT_KINDS, LEDGERS
from hrss.ledgers.synth import generate

EVENT_LEDGERS = [n for n in LEDGERS if n not in ("persons", "enterprises")]


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
    for name in [*LEDGERS, "_dirt"]:
        path = dirty / f"{name}.parquet"
        assert path.exists(), name
        (n,) = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
        assert n > 0, name
    (persons,) = con.execute(f"SELECT count(*) FROM read_parquet('{dirty}/persons.parquet')").fetchone()
    assert 19_000 < persons < 21_000


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
    for name in EVENT_LEDGERS:
        for row in _rows(clean / f"{name}.parquet"):
            assert row["id_number"] in known
            assert date(2021, 1, 1) <= row["event_date"] <= date(2025, 12, 31)
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
            assert not date(2021, 1, 1) <= row["event_date"] <= date(2025, 12, 31), m
    # roughly the default 2% rate
    total = sum(len(r) for r in tables.values())
    assert 0.01 < len(manifest) / total < 0.03


def test_event_shares_follow_the_annex(clean: Path) -> None:
    con = duckdb.connect()

    def share(ledger: str, unit: str, where: str = "TRUE") -> float:
        sql = (f"SELECT avg(CASE WHEN org_unit = ? THEN 1.0 ELSE 0.0 END) "
               f"FROM read_parquet('{clean}/{ledger}.parquet') WHERE {where}")  # fmt: skip
        return con.execute(sql, [unit]).fetchone()[0]

    # 附件表1: 丰县 11500 of 375000 people = 3.07%
    assert share("employment_registrations", "320321", "kind = 'employment'") == pytest.approx(11500 / 375000, abs=0.01)
    # 附件表2: 丰县 1.6 of 11 万人 = 14.5%
    assert share("rural_transfers", "320321") == pytest.approx(1.6 / 11, abs=0.01)
    # 附件表4: 邳州市 13000 of 120000 = 10.8%
    assert share("entrepreneurship", "320382") == pytest.approx(13000 / 120000, abs=0.01)
    # 附件表9: 经开区 29000 of 250000 = 11.6%
    assert share("graduates_attracted", "XZ-JKQ") == pytest.approx(29000 / 250000, abs=0.01)
    # 主城区 (251500 of 375000) is split equally among its 6 members: 鼓楼区 gets 251500/6
    assert share("employment_registrations", "320302", "kind = 'employment'") == pytest.approx(
        251500 / 6 / 375000, abs=0.01
    )


def test_seasonality(clean: Path) -> None:
    con = duckdb.connect()
    by_month = dict(con.execute(
        f"SELECT month(event_date), count(*) FROM read_parquet('{clean}/graduates_attracted.parquet') GROUP BY 1"
    ).fetchall())  # fmt: skip
    assert by_month[7] > 3 * by_month[1]


def _checksum(out: Path) -> str:
    digest = hashlib.sha256()
    for name in [*LEDGERS, "_dirt"]:
        rows = sorted(repr(sorted(r.items())) for r in _rows(out / f"{name}.parquet"))
        digest.update("\n".join(rows).encode())
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
    assert counts["persons"] == 20_000
    for name in EVENT_LEDGERS:
        assert counts[name] == pq.ParquetFile(clean / f"{name}.parquet").metadata.num_rows
