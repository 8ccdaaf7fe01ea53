"""Data quality report: every class of dirt the generator injects is caught and counted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from hrss.cli import app
from hrss.ledgers.quality import CHECKS, DIRT_CHECK, quality_report
from hrss.ledgers.schema import DIRT_KINDS
from hrss.ledgers.synth import generate

# Checks whose count must equal the manifest's exactly (all of them, for this generator).
EXACT = {"invalid_id", "float_id", "missing", "duplicate_row", "orphan", "date_out_of_range"}


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


def _manifest(out: Path) -> list[tuple[str, str, int]]:
    return duckdb.sql(
        f"SELECT ledger, kind, count(*) FROM read_parquet('{out}/_dirt.parquet') GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def test_every_dirt_kind_is_caught_and_counted(dirty: Path) -> None:
    report = quality_report(dirty)
    manifest = _manifest(dirty)
    assert {kind for _, kind, _ in manifest} == set(DIRT_KINDS)
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


def test_persons_identifier_counts_are_exact(dirty: Path) -> None:
    report = quality_report(dirty)
    counts = {kind: n for ledger, kind, n in _manifest(dirty) if ledger == "persons"}
    assert report.count("persons", "invalid_id") == counts["check_digit"]
    assert report.count("persons", "float_id") == counts["float"]


def test_rows_are_by_ledger_and_org_unit(dirty: Path) -> None:
    report = quality_report(dirty)
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
    assert len(report.ledgers) == 7


def test_examples_are_masked(dirty: Path) -> None:
    text = quality_report(dirty).as_json()
    data = json.loads(text)
    assert data["totals"]["orphan"] > 0
    assert not re.search(r"\d{18}", text)
    assert not re.search(r"1\d{10}", text)  # no full mobile number
    orphan = next(r for r in data["rows"] if r["check"] == "orphan")
    assert all("*" in e for e in orphan["examples"])


def test_duplicate_keys_that_are_not_identical_rows(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    generate(tmp_path, "small", seed=3, dirt_rate=0.0)
    path = tmp_path / "rural_transfers.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    changed = dict(rows[0], org_unit="XZ-SZ")  # same event_id, different row
    pq.write_table(table.from_pylist([*rows, changed], schema=table.schema), path)
    report = quality_report(tmp_path)
    assert report.totals["duplicate_key"] == 1
    assert report.totals["duplicate_row"] == 0


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
