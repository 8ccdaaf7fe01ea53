"""Sampling fractions of a ledger folder (抽样比例, `_sample.json`).

Synthetic ledgers (`hrss synth`) hold a sample of the simulated city's records: ledger L
holds about `fractions[L]` of them. `hrss stats compute` divides every count it takes from
L by that fraction (样本推算), so that the computed values are estimates for the whole city,
comparable with the figures the units report. The reference table holds the statistics
bureau's figures for the whole city and is never scaled. Real ledgers hold every record and
come without the file: every fraction is then 1.
"""

from __future__ import annotations

import json
from pathlib import Path

from hrss.ledgers.schema import LEDGERS

SAMPLE_FILE = "_sample.json"


class SampleError(ValueError):
    pass


def write_fractions(folder: Path, fractions: dict[str, float]) -> None:
    body = {"fractions": {name: fractions[name] for name in sorted(fractions)}}
    (folder / SAMPLE_FILE).write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_fractions(folder: Path) -> dict[str, float]:
    """Ledger → sampling fraction; {} when the folder has no sample file (a full census)."""
    path = folder / SAMPLE_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["fractions"]
        fractions = {str(name): float(f) for name, f in raw.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SampleError(f"{path}: 抽样比例文件无法读取 (unreadable sampling fractions): {exc}") from exc
    for name, f in fractions.items():
        if name not in LEDGERS or not f > 0:
            raise SampleError(f"{path}: 抽样比例无效 (invalid sampling fraction) {name} = {f}")
    return fractions
