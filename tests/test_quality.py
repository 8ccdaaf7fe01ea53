"""Data quality report: every class of dirt the generator injects is caught and counted."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hrss.cli import app
from hrss.ledgers.quality import CHECKS, DIRT_CHECK, QualityReport, quality_report
from hrss.ledgers.schema import DIRT_KINDS, LEDGERS
from hrss.ledgers.synth import generate

# Checks whose count must equal the manifest's exactly (all of them, for this generator).
EXACT = {"invalid_id", "float_id", "missing", "duplicate_row", "orphan", "date_out_of_range"}
# New ledgers large enough at small scale to get every kind of dirt.
NEW_LARGE = (
    "certificates",
    "insurance_enrollments",
    "ecard_applications",
    "service_ratings",
    "cases",
)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, "small", seed=11)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, "small", seed=11, dirt_rate=0.0)
    return out


@pytest.fixture(scope="module")
def report(dirty: Path) -> QualityReport:
    return quality_report(dirty)


def _edit(clean: Path, target: Path, ledger: str, change) -> None:
    """The clean person register and one ledger, with `change(rows)` applied, in target."""
    target.mkdir()
    for name in ("persons", ledger):
        shutil.copy(clean / f"{name}.parquet", target)
    path = target / f"{ledger}.parquet"
    table = pq.read_table(path)
    pq.write_table(table.from_pylist(change(table.to_pylist()), schema=table.schema), path)


def _manifest(out: Path) -> list[tuple[str, str, int]]:
    return duckdb.sql(
        f"SELECT ledger, kind, count(*) FROM read_parquet('{out}/_dirt.parquet') GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def test_every_dirt_kind_is_caught_and_counted(dirty: Path, report: QualityReport) -> None:
    manifest = _manifest(dirty)
    assert {kind for _, kind, _ in manifest} == set(DIRT_KINDS)
    # every real-name ledger but the 48 postdocs gets dirt; the larger new ones every kind of it
    dirty_ledgers = {n for n, spec in LEDGERS.items() if spec.kind != "reference"} - {"postdocs"}
    assert {ledger for ledger, _, _ in manifest} >= dirty_ledgers
    kinds = {ledger: {k for name, k, _ in manifest if name == ledger} for ledger in dirty_ledgers}
    for ledger in NEW_LARGE:
        assert kinds[ledger] == set(DIRT_KINDS), ledger
    assert set(DIRT_CHECK) == set(DIRT_KINDS)
    for ledger, kind, n in manifest:
        check = DIRT_CHECK[kind]
        found = report.count(ledger, check)
        assert found >= n, (ledger, kind, n, found)
        if check in EXACT:
            assert found == n, (ledger, kind, n, found)
    # nothing is reported that the generator did not inject
    expected = {c: 0 for c in CHECKS}
    for _, kind, n in manifest:
        expected[DIRT_CHECK[kind]] += n
    assert report.totals == expected
    assert report.problems == sum(n for _, _, n in manifest)


def test_persons_identifier_counts_are_exact(dirty: Path, report: QualityReport) -> None:
    counts = {kind: n for ledger, kind, n in _manifest(dirty) if ledger == "persons"}
    assert report.count("persons", "invalid_id") == counts["check_digit"]
    assert report.count("persons", "float_id") == counts["float"]


def test_rows_are_by_ledger_and_org_unit(report: QualityReport) -> None:
    units = {r.org_unit for r in report.rows if r.ledger == "employment_registrations"}
    assert len(units) > 5
    for r in report.rows:
        assert r.count > 0 and r.check in CHECKS
        assert 1 <= len(r.examples) <= 3
    # totals include every check, and rows add up to them
    assert sum(report.totals.values()) == sum(r.count for r in report.rows)


def test_clean_ledgers_have_no_problems(clean: Path) -> None:
    report = quality_report(clean)
    assert report.problems == 0
    assert report.rows == []
    assert set(report.totals.values()) == {0}
    assert report.ledgers == [*LEDGERS, "reference"]


def test_examples_are_masked(report: QualityReport) -> None:
    text = report.as_json()
    data = json.loads(text)
    assert data["totals"]["orphan"] > 0
    assert not re.search(r"\d{18}", text)
    assert not re.search(r"1\d{10}", text)  # no full mobile number
    orphan = next(r for r in data["rows"] if r["check"] == "orphan")
    assert all("*" in e for e in orphan["examples"])


def test_duplicate_keys_that_are_not_identical_rows(clean: Path, tmp_path: Path) -> None:
    # same event_id, different row
    def changed(rows: list[dict]) -> list[dict]:
        return [*rows, dict(rows[0], org_unit="XZ-SZ")]

    _edit(clean, tmp_path / "a", "rural_transfers", changed)
    report = quality_report(tmp_path / "a")
    assert report.totals["duplicate_key"] == 1
    assert report.totals["duplicate_row"] == 0
    # the reference table's key is org_unit and year together
    _edit(clean, tmp_path / "b", "reference", lambda rows: [*rows, dict(rows[0], labour_force=1)])
    first = pq.read_table(clean / "reference.parquet").to_pylist()[0]
    report = quality_report(tmp_path / "b")
    assert report.count("reference", "duplicate_key") == 1 and report.problems == 1
    assert report.rows[0].examples == [f"{first['org_unit']}/{first['year']}"]


def test_reference_gaps(clean: Path, tmp_path: Path) -> None:
    # 市直 has residents (persons) and postdocs but loses its 2023 row
    _edit(clean, tmp_path / "gap", "reference",
          lambda rows: [r for r in rows if (r["org_unit"], r["year"]) != ("XZ-SZ", 2023)])  # fmt: skip
    report = quality_report(tmp_path / "gap")
    assert report.problems == 1
    (row,) = report.rows
    assert (row.ledger, row.org_unit, row.check) == ("reference", "XZ-SZ", "reference_gap")
    assert row.examples == ["2023"]


def test_second_dates_and_optional_fields(clean: Path, tmp_path: Path) -> None:
    def cases(rows: list[dict]) -> list[dict]:
        closed = [i for i, r in enumerate(rows) if r["closed_date"]]
        first = rows[closed[0]]
        first["closed_date"] = first["event_date"] - timedelta(days=1)  # closed before opened
        rows[closed[1]]["outcome"] = None  # closed without an outcome
        rows[closed[2]]["closed_date"] = None  # an outcome but not closed
        return rows

    _edit(clean, tmp_path / "cases", "cases", cases)
    report = quality_report(tmp_path / "cases")
    assert report.count("cases", "date_out_of_range") == 1 and report.count("cases", "missing") == 2
    assert report.problems == 3

    def spells(rows: list[dict]) -> list[dict]:
        ended = [i for i, r in enumerate(rows) if r["end_date"]]
        rows[ended[0]]["end_date"] = rows[ended[0]]["start_date"]  # ends on its first day
        rows[ended[1]]["end_date"] = date(2026, 1, 1)  # after the period
        rows[ended[2]]["start_date"] = date(1989, 12, 31)  # before the floor
        return rows

    _edit(clean, tmp_path / "spells", "insurance_enrollments", spells)
    report = quality_report(tmp_path / "spells")
    assert report.count("insurance_enrollments", "date_out_of_range") == 3 and report.problems == 3

    def registrations(rows: list[dict]) -> list[dict]:
        ended = [i for i, r in enumerate(rows) if r["end_date"]]
        rows[ended[0]]["end_date"] = rows[ended[0]]["event_date"]
        return rows

    _edit(clean, tmp_path / "reg", "employment_registrations", registrations)
    report = quality_report(tmp_path / "reg")
    assert report.count("employment_registrations", "date_out_of_range") == report.problems == 1


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    report = quality_report(tmp_path)
    assert report.ledgers == [] and report.problems == 0


def test_cli(dirty: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["stats", "quality", "--dir", str(dirty), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["problems"] > 0
    assert not re.search(r"\d{18}", result.output)
    result = runner.invoke(app, ["stats", "quality", "--dir", str(dirty)])
    assert result.exit_code == 0, result.output
    assert "数据质量报告" in result.output and "orphan" in result.output
    assert not re.search(r"\d{18}", result.output)
