"""Charts (图表) for the reports, drawn with matplotlib's object API (no pyplot state).

Chinese text needs a CJK font: `find_cjk_font()` looks for one (Debian's
fonts-noto-cjk) and every text element of every figure is set to it explicitly,
so no chart falls back to a font without Chinese glyphs (empty boxes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.text import Text

from hrss.monitoring.engine import Evaluation
from hrss.monitoring.periods import month_index
from hrss.plan.model import Decomposition, Indicator

# Preferred families, best first: simplified-Chinese faces before other CJK faces.
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans CJK", "Source Han Sans",
                "Noto Serif CJK SC", "Noto Serif CJK", "Source Han Serif", "WenQuanYi")
STATUS_COLORS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", "grey": "#9e9e9e"}
COLOR_LABELS = {"green": "完成进度：达到序时", "yellow": "完成进度：滞后", "red": "完成进度：严重滞后", "grey": "无数据"}
DPI = 150


class FontMissingError(RuntimeError):
    pass


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int  # face index inside a .ttc collection
    family: str

    def properties(self, size: float = 9) -> FontProperties:
        # FontPath carries the face index of a collection (matplotlib ≥ 3.11); fall back to face 0.
        font_path = getattr(font_manager, "FontPath", None)
        fname = font_path(str(self.path), self.index) if font_path else str(self.path)
        return FontProperties(fname=fname, size=size)


def _candidates() -> list[tuple[str, str, int, int]]:
    """(family, file, face index, weight) of every font matplotlib knows."""
    found = [(f.name, f.fname, getattr(f, "index", 0), _weight(f.weight)) for f in font_manager.fontManager.ttflist]
    if not any(pref.lower() in name.lower() for name, *_ in found for pref in CJK_FAMILIES):
        # Fonts installed after matplotlib built its cache: read the system font folders.
        for fname in font_manager.findSystemFonts():
            try:
                found.append((font_manager.get_font(fname).family_name, fname, 0, 400))
            except (OSError, RuntimeError):
                continue
    return found


def _weight(weight: object) -> int:
    if isinstance(weight, int):
        return weight
    return font_manager.weight_dict.get(str(weight), 400)


@functools.cache
def cjk_font() -> CjkFont:
    """The best installed CJK font, regular weight preferred (cached after the first look-up)."""
    found = sorted(_candidates(), key=lambda f: abs(f[3] - 400))
    for pref in CJK_FAMILIES:
        for name, fname, index, _ in found:
            if pref.lower() in name.lower() and Path(fname).is_file():
                return CjkFont(Path(fname), index, name)
    raise FontMissingError(
        "未找到中文字体，图表中的中文将显示为方框。请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk）。"
        " No CJK font found (looked for Noto Sans/Serif CJK, Source Han, WenQuanYi); charts would show"
        " Chinese as empty boxes. Install the Debian package fonts-noto-cjk."
    )


def find_cjk_font() -> Path:
    """Path of the CJK font file the charts use; raises FontMissingError if there is none."""
    return cjk_font().path


def _apply_font(fig: Figure, font: CjkFont) -> None:
    """Set the CJK font on every text element; ticks made later copy it from the first tick."""
    for ax in fig.axes:
        ax.xaxis.get_major_ticks()
        ax.yaxis.get_major_ticks()
    for text in fig.findobj(Text):
        text.set_fontproperties(font.properties(text.get_fontsize()))


def png(fig: Figure, dpi: int = DPI) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _month_ticks(first: int, last: int) -> tuple[list[int], list[str]]:
    ticks = [m for m in range(first, last + 1) if m % 12 == 0]
    if last not in ticks:
        ticks.append(last)
    labels = [f"{m // 12}年" if m % 12 == 0 else f"{m // 12}.{m % 12 + 1:02d}" for m in ticks]
    if len(ticks) > 1 and ticks[-1] - ticks[-2] < 4 and ticks[-1] % 12:
        ticks, labels = ticks[:-2] + ticks[-1:], labels[:-2] + labels[-1:]
    return ticks, labels


def trend_figure(ind: Indicator, history: dict[int, Evaluation], font: CjkFont | None = None) -> Figure:
    """The city's actual value against the 序时 (expected) path and the target, month by month."""
    font = font or cjk_font()
    months = sorted(history)
    evals = [history[m] for m in months]
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.add_subplot()
    bound = any(e.compliance is not None for e in evals)
    cumulative = ind.kind.value == "cumulative"
    pts = [(m, e.actual) for m, e in zip(months, evals, strict=True) if e.actual is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#1565c0", linewidth=2,
                marker="o" if len(pts) < 3 else None, label="累计完成值" if cumulative else "实际值")
    if not bound:
        exp = [(m, e.expected) for m, e in zip(months, evals, strict=True) if e.expected is not None]
        if exp:
            ax.plot([p[0] for p in exp], [p[1] for p in exp], color="#ef6c00", linestyle="--", label="序时进度值")
    target = evals[-1].target if evals else ind.target
    target_label = f"规划目标 {target:g}"
    if bound:
        target_label = f"控制上限 {target:g}" if ind.kind.value == "ceiling" else f"目标下限 {target:g}"
    for ms in ind.milestones:
        ax.plot([month_index(ms.year, 12)], [ms.value], linestyle="none", marker="*", markersize=10,
                color="#6a1b9a", label=f"{ms.year}年阶段目标 {ms.value:g}")
    ax.axhline(target, color="#c62828", linewidth=1.2, linestyle=":", label=target_label)
    if ind.baseline is not None and not cumulative:
        ax.axhline(ind.baseline, color="#757575", linewidth=0.8, linestyle="-.", label=f"{ind.baseline_year}年基数 {ind.baseline:g}")
    first = month_index(ind.baseline_year + 1, 1)
    last = max(months) if months else first
    ticks, labels = _month_ticks(first, last)
    ax.set_xticks(ticks, labels=labels)
    ax.set_xlim(first - 1, max(last, first + 11) + 1)
    ax.set_title(f"{ind.name}（{ind.unit}）", fontsize=11)
    ax.set_ylabel(ind.unit)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, frameon=False)
    _apply_font(fig, font)
    return fig


def district_figure(dec: Decomposition, ind: Indicator, evals: list[Evaluation], font: CjkFont | None = None) -> Figure:
    """Completion of each org unit against the share expected by now (序时进度)."""
    font = font or cjk_font()
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(evals)))
    values = [(e.completion or 0.0) * 100 for e in evals]
    colors = [STATUS_COLORS.get(e.color, STATUS_COLORS["grey"]) for e in evals]
    expected = [(e.expected_completion or 0.0) * 100 for e in evals]
    bars = ax.bar(xs, values, color=colors, width=0.6)
    for bar, e, v, x in zip(bars, evals, values, expected, strict=True):
        text = f"{v:.0f}" if e.completion is not None else "无数据"
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, max(v, x, 0)), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 4), textcoords="offset points")
    ax.plot(xs, expected, color="#ef6c00", linestyle="none", marker="D", markersize=5, label="序时进度")
    ax.axhline(100, color="#c62828", linewidth=1, linestyle=":", label="目标(100%)")
    handles, _ = ax.get_legend_handles_labels()
    shown = dict.fromkeys(e.color for e in evals)
    handles += [Patch(color=STATUS_COLORS[k], label=COLOR_LABELS[k]) for k in STATUS_COLORS if k in shown]
    ax.set_xticks(xs, labels=[e.org_unit for e in evals], rotation=30, ha="right")
    ax.set_ylabel("完成进度(%)")
    low = min([0.0, *values])
    ax.set_ylim(low * 1.15, max([*values, *expected, 100.0]) * 1.15)
    ax.set_title(f"{dec.table} {ind.name}分地区完成进度", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True, framealpha=0.85)
    _apply_font(fig, font)
    return fig
