"""Text of the indicator page (指标页): the target label (目标) and the evaluation method
(评价方法) in words, Chinese first, English with ?lang=en.

The engine keeps its progress measure (进展测度, `Evaluation.progress_measure`, see
docs/EVALUATION.md §5) as a dict for the API; the page states it, and how the actual value is
aggregated (§2), as sentences.
"""

from __future__ import annotations

import re
from typing import Any

from hrss.monitoring.evaluation import PROGRESS_LABELS
from hrss.plan.model import (
    ATTRIBUTE_LABELS,
    TARGET_KIND_LABELS,
    Aggregation,
    Attribute,
    Indicator,
    TargetKind,
)

Text = tuple[str, str]  # (Chinese, English)

KIND_WORDS: dict[TargetKind, Text] = {
    TargetKind.CUMULATIVE: ("五年累计", "five-year total"),
    TargetKind.CEILING: ("上限", "ceiling"),
    TargetKind.FLOOR: ("下限", "floor"),
    TargetKind.LEVEL: ("期末水平", "end-of-period level"),
    TargetKind.RATIO: ("结构比例", "structure"),
}
KIND_LABELS_EN = {
    TargetKind.CUMULATIVE: "five-year total",
    TargetKind.CEILING: "ceiling (at most)",
    TargetKind.FLOOR: "floor (at least)",
    TargetKind.LEVEL: "end-of-period level",
    TargetKind.RATIO: "structure",
}
ATTRIBUTE_LABELS_EN = {Attribute.BINDING: "binding", Attribute.EXPECTED: "expected"}
NOTE_WORDS: dict[str, str] = {"新口径": "new definition"}  # 口径 notes of 表2

AGGREGATION_TEXT: dict[Aggregation, Text] = {
    Aggregation.FLOW: ("实际值 = {start}年1月起各期数值之和（累计值）。",
                       "Actual = sum of the periods since {start}-01 (running total)."),
    Aggregation.STOCK: ("实际值 = 最近一期的期末数（期末值）。",
                        "Actual = the latest end-of-period figure (stock)."),
    Aggregation.FLOW_RATE: ("实际值 = 本年1月起分子之和 ÷ 分母之和 × {scale}（比率，每年1月重新起算）。",
                            "Actual = sum of numerators ÷ sum of denominators × {scale} over the year to date "
                            "(a rate, restarting each January)."),
    Aggregation.STOCK_RATE: ("实际值 = 最近一期的比率（分子 ÷ 分母 × {scale}），不跨地区相加。",
                             "Actual = the latest rate (numerator ÷ denominator × {scale}), never summed across org units."),
}

PROGRESS_LABELS_EN = {
    "substantial_progress": "substantial progress",
    "moderate_progress": "moderate progress",
    "fair_progress": "fair progress (acceleration needed)",
    "limited_progress": "limited progress",
    "deterioration": "deterioration",
    "target_achieved": "target achieved",
}
TARGET_ACHIEVED: Text = ("已达到或优于目标值，不计算增长率。", "The target is already reached; no growth rate is computed.")
ENGINE_NOTE = re.compile(r"^(?P<zh>.*?)\s*\((?P<en>[^()]*)\)\s*$")  # "中文 (English)"


def _pick(text: Text, lang: str) -> str:
    return text[1] if lang == "en" else text[0]


def kind_label(ind: Indicator, lang: str) -> str:
    """The target kind and attribute of the page heading: "五年累计 · 预期性"."""
    if lang == "en":
        return f"{KIND_LABELS_EN[ind.kind]} · {ATTRIBUTE_LABELS_EN[ind.attribute]}"
    return f"{TARGET_KIND_LABELS[ind.kind]} · {ATTRIBUTE_LABELS[ind.attribute]}"


def note_text(note: str, lang: str) -> str:
    """A 口径 note of the plan (新口径) in lang."""
    return NOTE_WORDS.get(note, note) if lang == "en" else note


def target_qualifier(ind: Indicator, lang: str) -> str:
    """What follows the target figure: "（五年累计，新口径）" / " (five-year total, new definition)"."""
    words = [_pick(KIND_WORDS[ind.kind], lang)] + ([note_text(ind.note, lang)] if ind.note else [])
    return f" ({', '.join(words)})" if lang == "en" else f"（{'，'.join(words)}）"


def aggregation_text(ind: Indicator, start_year: int, lang: str) -> str:
    """How the actual value is made from the reported periods."""
    return _pick(AGGREGATION_TEXT[ind.aggregation], lang).format(start=start_year, scale=f"{ind.scale:g}")


def _engine_note(note: str, lang: str) -> str:
    """One language of an engine note 'Chinese (English)', as a sentence."""
    m = ENGINE_NOTE.match(note)
    if not m:
        return note
    if lang == "en":
        en = m.group("en").strip()
        return en[:1].upper() + en[1:] + "."
    return m.group("zh").strip() + "。"


def _percent(x: float) -> str:
    return f"{x * 100:.2f}%"


def _cagr(pm: dict[str, Any], lang: str) -> str:
    parts = []
    for key, name in (("opensdg", "Open SDG"), ("unsd", "UNSD")):
        category = pm.get(f"{key}_category")
        if not category:
            continue
        ratio = pm.get(f"{key}_ratio")
        if lang == "en":
            shown = f" {ratio:.2f}" if ratio is not None else ""
            parts.append(f"{name} ratio{shown}: {PROGRESS_LABELS_EN[category]}")
        else:
            shown = f"比值{ratio:.2f}，" if ratio is not None else ""
            parts.append(f"按{name}方法{shown}评价为“{PROGRESS_LABELS[category]}”")
    actual, required = pm.get("cagr_actual"), pm.get("cagr_required")
    rated = actual is not None and required is not None
    note = _engine_note(pm["note"], lang) if pm.get("note") else ""
    if lang == "en":
        rates = f"Growth-rate method: actual annual growth {_percent(actual)}, required {_percent(required)}" if rated else "Growth-rate method"
        return rates + "".join(f"; {p}" for p in parts) + "." + (" " + note if note else "")
    rates = f"年均增速法：实际年均增速{_percent(actual)}，实现目标所需年均增速{_percent(required)}" if rated else "年均增速法"
    return rates + "".join(f"；{p}" for p in parts) + "。" + note


def measure_text(pm: dict[str, Any] | None, lang: str) -> str:
    """The progress measure of an evaluation as a sentence ("" when there is none)."""
    pm = pm or {}
    method = pm.get("method")
    if method == "cagr":
        return _cagr(pm, lang)
    if method == "target_achieved":
        return _pick(TARGET_ACHIEVED, lang)
    if method == "not_applicable" and pm.get("note"):
        return _engine_note(pm["note"], lang)
    return ""
