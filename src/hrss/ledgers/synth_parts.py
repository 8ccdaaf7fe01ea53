"""The synthetic ledgers' building blocks (`hrss.ledgers.synth`): splitting totals, the
plan's annex shares, weighted choices, dirt (which rows, and how) and streaming rows into
Parquet."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hrss.ledgers.schema import Ledger, arrow_schema
from hrss.plan.model import Plan


def largest_remainder(total: int, weights: dict[Any, float]) -> dict[Any, int]:
    """Split `total` into integers proportional to `weights` (Hamilton's method)."""
    wsum = sum(weights.values())
    if total <= 0 or wsum <= 0:
        return dict.fromkeys(weights, 0)
    exact = {k: total * w / wsum for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    short = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], str(k)))[:short]:
        counts[k] += 1
    return counts


def annex_shares(plan: Plan, table: str) -> dict[str, dict[int, float]]:
    """Org unit code → year → target of an annex table; group rows split equally."""
    deco = next(d for d in plan.decompositions if d.table == table)
    by_name = {u.name: u for u in plan.org_units}
    out: dict[str, dict[int, float]] = {}
    for row in deco.rows:
        unit = by_name[row.org_unit]
        members = [by_name[m] for m in unit.members] if unit.kind == "group" else [unit]
        for member in members:
            per_year = out.setdefault(member.code, {})
            for year, value in row.values.items():
                per_year[year] = per_year.get(year, 0.0) + value / len(members)
    return out


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> Callable[[], str]:
    items = [p[0] for p in pairs]
    cum: list[float] = []
    acc = 0.0
    for _, w in pairs:
        acc += w
        cum.append(acc)
    return lambda: rng.choices(items, cum_weights=cum)[0]


def _bad_check(id_number: str) -> str:
    """The same number with a wrong last character."""
    chars = "0123456789X".replace(id_number[-1], "")
    return id_number[:-1] + chars[sum(map(ord, id_number)) % len(chars)]


def _as_float_text(id_number: str) -> str:
    """What a numeric spreadsheet cell makes of the number: '3.20382198001011e+17'."""
    return str(float(id_number[:17] + ("0" if id_number[-1] == "X" else id_number[-1])))


class _Dirt:
    """Decides which rows get dirty and records them in the manifest."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.rows: list[dict[str, Any]] = []

    def pick(self, kinds: tuple[str, ...]) -> str | None:
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        return self.rng.choice(kinds)

    def note(self, ledger: str, key: object, index: int, kind: str, column: str | None) -> None:
        self.rows.append(
            {"ledger": ledger, "row_key": None if key is None else str(key), "row_index": index,
             "kind": kind, "column": column}
        )  # fmt: skip


def _write(
    path: Path,
    ledger: Ledger,
    rows: Iterator[dict[str, Any]],
    chunk_rows: int,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Stream rows into a Parquet file, `chunk_rows` at a time; return the row count."""
    schema = arrow_schema(ledger)
    names = schema.names
    total = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        buffer: list[dict[str, Any]] = []

        def flush() -> None:
            cols = {n: [r[n] for r in buffer] for n in names}
            writer.write_table(pa.table(cols, schema=schema))
            if on_chunk:
                on_chunk(len(buffer))
            buffer.clear()

        for row in rows:
            buffer.append(row)
            if len(buffer) >= chunk_rows:
                total += len(buffer)
                flush()
        if buffer or total == 0:
            total += len(buffer)
            flush()
    return total
