"""Report content (报告内容): the facts a report states, as data and as Chinese sentences.

Pure: no I/O and no layout. `ReportData` holds what one report is about (the plan,
the evaluations at the as-of month and the city's month-by-month history); the
functions below turn Evaluation records into sentences and summaries that the Word
and Excel writers lay out. Everything a reader sees is Chinese.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hrss.monitoring import evaluation as ev
from hrss.monitoring.engine import Evaluation
from hrss.monitoring.evaluation import PROGRESS_LABELS, Status, StatusThresholds
from hrss.monitoring.periods import month_index
from hrss.plan.model import ATTRIBUTE_LABELS, Attribute, Plan

KIND_NAMES = {"monthly": "月度简报", "annual": "年度监测报告", "midterm": "中期评估报告", "final": "终期评估报告"}
STATUS_ORDER = [s.value for s in Status]
# what a report lists as needing action (lagging, a bound not held, a target not completed),
# and the verdicts after the plan period, as the status strings of Evaluation records
LAGGING = tuple(s.value for s in ev.SHORTFALL)
FINAL = tuple(s.value for s in ev.FINAL)
INTEGER_UNITS = ("人", "场次", "场", "万元", "个", "家")
_CN_DIGITS = "零一二三四五六七八九"
_ENGLISH_TAIL = re.compile(r"\s*\([A-Za-z][^()]*\)\s*$")


# --- formatting -------------------------------------------------------------------


def num(x: float | None, unit: str = "") -> str:
    """A value as the plan writes it: no trailing zeros, whole numbers for counts."""
    if x is None:
        return "—"
    digits = 0 if unit in INTEGER_UNITS and abs(x) >= 10 else 2
    text = f"{x:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def qty(x: float | None, unit: str) -> str:
    return f"{num(x, unit)}{unit}" if x is not None else "—"


def pct(share: float | None) -> str:
    return f"{share * 100:.1f}%" if share is not None else "—"


def pp(points: float) -> str:
    return f"{abs(points):.1f}个百分点"


def zh(text: str) -> str:
    """The Chinese part of an engine message 'Chinese (English)'."""
    return _ENGLISH_TAIL.sub("", text).strip()


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 19 → 十九, 23 → 二十三 (section numbering up to 99)."""
    tens, ones = divmod(n, 10)
    if n < 10:
        return _CN_DIGITS[n]
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return head + "十" + (_CN_DIGITS[ones] if ones else "")


def month_words(index: int) -> str:
    return f"{index // 12}年{index % 12 + 1}月"


def attribute_label(value: str) -> str:
    return ATTRIBUTE_LABELS[Attribute(value)]


# --- what one report is about -------------------------------------------------------


@dataclass
class ReportData:
    plan: Plan
    kind: str  # monthly | annual | midterm | final
    as_of: int  # month index
    evaluations: list[Evaluation]
    history: dict[str, dict[int, Evaluation]] = field(default_factory=dict)  # city, by month
    simulated: bool = False
    thresholds: StatusThresholds = field(default_factory=StatusThresholds)
    # reported vs computed (数据会审, hrss.stats.service.Reconciliation), for the monthly briefing
    reconciliation: list[Any] = field(default_factory=list)
    # the computed side of 数据会审 was estimated from a sample of the ledgers (样本推算)
    sampled: bool = False

    @property
    def city(self) -> str:
        return self.plan.city_unit.name

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def period_name(self) -> str:
        """十四五 from 徐州市“十四五”…规划, else the years."""
        m = re.search(r"“([^”]+)”", self.plan.title)
        return m.group(1) if m else f"{self.plan.start_year}—{self.plan.end_year}年"

    @property
    def title(self) -> str:
        return f"{self.plan.title}{self.kind_name}"

    @property
    def end_month(self) -> int:
        return month_index(self.plan.end_year, 12)

    def city_eval(self, code: str) -> Evaluation | None:
        return next((e for e in self.evaluations if e.indicator_code == code and e.org_unit == self.city), None)

    def key_evals(self) -> list[Evaluation]:
        found = (self.city_eval(i.code) for i in self.plan.key_indicators)
        return [e for e in found if e is not None]

    def unit_evals(self, code: str) -> list[Evaluation]:
        """Org units of an annex table, in the table's row order."""
        dec = self.plan.decomposition_for(code)
        by_unit = {e.org_unit: e for e in self.evaluations if e.indicator_code == code and e.org_unit != self.city}
        if dec is None:
            return list(by_unit.values())
        return [by_unit[r.org_unit] for r in dec.rows if r.org_unit in by_unit]

    @property
    def final(self) -> bool:
        """The plan period is over: statuses are verdicts (已完成 / 基本完成 / 未完成)."""
        return self.as_of >= self.end_month

    def lagging(self) -> list[Evaluation]:
        """Every indicator × org unit that needs action, binding and red first."""
        found = [e for e in self.evaluations if e.status in LAGGING]
        return sorted(found, key=lambda e: (not e.escalate, e.color != "red", e.gap_pp or 0.0))


# --- one result in words ------------------------------------------------------------


def describe(e: Evaluation, *, years: int = 5, with_unit: bool = False) -> str:
    """One paragraph stating an evaluation in words."""
    name = f"{e.org_unit}{e.indicator}" if with_unit else e.indicator
    if e.actual is None:
        return f"{name}暂无数据，无法评价，状态：{e.status}。"
    if e.kind == "cumulative":
        text = _cumulative(name, e, years)
    elif e.compliance is not None:
        text = _bound(name, e)
    else:
        text = _path(name, e)
    return text + _annual(e) + _measure(e) + _projection(e) + "".join(f"说明：{zh(n)}。" for n in e.notes)


def _schedule(e: Evaluation) -> str:
    """The comparison with 序时, with its trailing comma; nothing once the plan period is over."""
    if e.status in FINAL:
        return ""
    gap = e.gap_pp or 0.0
    lead = f"时间进度{pct(e.time_elapsed)}，" if e.time_elapsed < 1 else ""
    if abs(gap) < 0.05:
        return f"{lead}与序时进度持平，"
    word = "超过" if gap > 0 else "落后"
    return f"{lead}{word}序时进度{pp(gap)}，"


def _cumulative(name: str, e: Evaluation, years: int) -> str:
    span = f"{cn_number(years)}年" if e.target_source == "表2" else "规划期"
    return (f"{name}累计完成{qty(e.actual, e.unit)}，为{span}目标{qty(e.target, e.unit)}的{pct(e.completion)}，"
            f"{_schedule(e)}状态：{e.status}。")


def _path(name: str, e: Evaluation) -> str:
    base = f"基数{qty(e.baseline, e.unit)}，" if e.baseline is not None else ""
    expected = f"序时应完成{pct(e.expected_completion)}，" if e.status not in FINAL else ""
    return (f"{name}达到{qty(e.actual, e.unit)}（{base}目标{qty(e.target, e.unit)}），"
            f"已完成从基数到目标距离的{pct(e.completion)}，{expected}"
            f"{_schedule(e)}状态：{e.status}。")


def _bound(name: str, e: Evaluation) -> str:
    comp = e.compliance or {}
    ceiling = comp.get("bound") == "ceiling"
    margin = float(comp.get("margin", 0.0))
    rule = f"控制在{qty(e.target, e.unit)}以内" if ceiling else f"不低于{qty(e.target, e.unit)}"
    amount = num(abs(margin), e.unit) + ("个百分点" if e.unit == "%" else e.unit)
    if margin >= 0:
        where = f"低于上限{amount}" if ceiling else f"高于下限{amount}"
        verdict = "符合目标要求"
    else:
        where = f"超出上限{amount}" if ceiling else f"低于下限{amount}"
        verdict = "未达到目标要求"
    return f"{name}为{qty(e.actual, e.unit)}，目标为{rule}，{where}，{verdict}，状态：{e.status}。"


def _annual(e: Evaluation) -> str:
    a = e.annual
    if not a or a.get("actual") is None or not a.get("target"):
        return ""
    months = round(a["time_elapsed"] * 12)
    if e.kind != "cumulative":
        if a["target"] == e.target and months == 12:
            return ""
        expected = f"，{months}月末序时应达{qty(a['expected'], e.unit)}" if a.get("expected") is not None and months < 12 else ""
        return f"{a['year']}年度目标为{qty(a['target'], e.unit)}{expected}。"
    span = f"{a['year']}年" if months == 12 else f"{a['year']}年1—{months}月"
    return f"其中{span}完成{qty(a['actual'], e.unit)}，为年度目标{qty(a['target'], e.unit)}的{pct(a['completion'])}。"


def _measure(e: Evaluation) -> str:
    pm = e.progress_measure or {}
    method = pm.get("method")
    if method == "target_achieved":
        return "已达到或优于目标值（进展评价：已达目标）。"
    if method != "cagr":
        return ""
    text = f"按年均增速测算，实际年均增速{pct(pm.get('cagr_actual'))}，实现目标所需年均增速{pct(pm.get('cagr_required'))}；"
    parts = []
    for key, label in (("opensdg", "Open SDG方法"), ("unsd", "UNSD方法")):
        cat = pm.get(f"{key}_category")
        if cat:
            ratio = pm.get(f"{key}_ratio")
            ratio_text = f"（比值{ratio:.2f}）" if ratio is not None else ""
            parts.append(f"按{label}评价为“{PROGRESS_LABELS[cat]}”{ratio_text}")
    return text + "，".join(parts) + "。"


def _projection(e: Evaluation) -> str:
    p = e.projection or {}
    if not p or p.get("value") is None or e.as_of >= f"{p['year']}-12":
        return ""
    verb = "累计达到" if e.kind == "cumulative" else "达到"
    return f"按{zh(p['method'])}，预计{p['year']}年末{verb}{qty(p['value'], e.unit)}，研判：{p['verdict']}。"


def completion_text(e: Evaluation) -> str:
    """Completion for a table cell: a share, or 达标/未达标 for ceilings and floors."""
    if e.actual is None:
        return "—"
    if e.compliance is not None:
        return "达标" if e.compliance.get("compliant") else "未达标"
    return pct(e.completion)


def verdict(e: Evaluation) -> str:
    return (e.projection or {}).get("verdict", "—")


# --- summaries ------------------------------------------------------------------------


def status_counts(evals: list[Evaluation]) -> dict[str, int]:
    counts = Counter(e.status for e in evals)
    return {s: counts[s] for s in STATUS_ORDER if counts[s]}


def _names(evals: list[Evaluation], limit: int = 8) -> str:
    names = list(dict.fromkeys(e.indicator for e in evals))
    return "、".join(names[:limit]) + ("等" if len(names) > limit else "")


def summary(data: ReportData) -> list[str]:
    """The opening paragraphs: status counts, binding indicators, projection, lagging units."""
    key = data.key_evals()
    counts = "、".join(f"{s}{n}项" for s, n in status_counts(key).items())
    elapsed = key[0].time_elapsed if key else 0.0
    binding = [e for e in key if e.attribute == Attribute.BINDING.value]
    if data.final:
        return _final_summary(data, key, binding, counts)
    paras = [f"截至{month_words(data.as_of)}，规划期时间进度为{pct(elapsed)}。《规划》表2所列{len(key)}项主要指标中，{counts}。"]
    flagged = [e for e in binding if e.escalate]
    missing = [e for e in binding if e.status == Status.NO_DATA.value]
    text = f"{len(binding)}项约束性指标中，{len(binding) - len(flagged) - len(missing)}项进展符合要求"
    text += f"，{len(missing)}项暂无数据" if missing else ""
    text += f"，{len(flagged)}项滞后，需作为约束性指标预警重点督办（{_names(flagged)}）。" if flagged else "，无滞后。"
    paras.append(text)
    verdicts = Counter(verdict(e) for e in key if e.actual is not None)
    if data.as_of < data.end_month and verdicts:
        hard = [e for e in key if verdict(e) == "难以完成"]
        line = "按当前趋势研判，" + "、".join(f"{v}{verdicts[v]}项" for v in ("能够完成", "存在风险", "难以完成") if verdicts[v])
        paras.append(line + (f"；难以完成的有{_names(hard)}。" if hard else "。"))
    units = [e for e in data.lagging() if e.org_unit != data.city]
    if units:
        severe = sum(e.status == Status.SEVERE.value for e in units)
        names = "、".join(dict.fromkeys(e.org_unit for e in units))
        paras.append(f"分地区看，共有{len(units)}项“指标—地区”进度滞后（其中严重滞后{severe}项），涉及{names}。")
    else:
        paras.append("分地区看，各地区分解指标均未出现滞后。")
    return paras


def _final_summary(data: ReportData, key: list[Evaluation], binding: list[Evaluation], counts: str) -> list[str]:
    """The plan period is over: binding targets not met first, then the verdict counts."""
    unmet = [e for e in binding if e.status in (Status.NOT_DONE.value, Status.NOT_MET.value)]
    missing = [e for e in binding if e.status == Status.NO_DATA.value]
    paras = []
    if unmet:
        paras.append(f"{len(binding)}项约束性指标中，{len(unmet)}项未完成：" + "；".join(
            f"{e.indicator}{qty(e.actual, e.unit)}，目标{qty(e.target, e.unit)}（{e.status}）" for e in unmet)
            + "，须作为约束性指标未完成事项重点说明原因并提出整改措施。")
    else:
        paras.append(f"{len(binding)}项约束性指标" + ("全部完成。" if not missing else f"中{len(missing)}项暂无数据，其余全部完成。"))
    paras.append(f"“{data.period_name}”规划期（{data.plan.start_year}—{data.plan.end_year}年）已结束，"
                 f"以下为截至{month_words(data.as_of)}的终期结果。《规划》表2所列{len(key)}项主要指标中，{counts}。")
    units = [e for e in data.lagging() if e.org_unit != data.city]
    if units:
        names = "、".join(dict.fromkeys(e.org_unit for e in units))
        paras.append(f"分地区看，共有{len(units)}项“指标—地区”未完成或未达标，涉及{names}。")
    else:
        paras.append("分地区看，各地区分解指标均已完成。")
    return paras


def method_note(data: ReportData) -> str:
    t = data.thresholds
    if data.final:
        return (f"评价口径：规划期结束后，累计指标以累计完成值与目标之比、期末水平指标以从基数到目标的距离完成比例评价，"
                f"达到目标为“已完成”；预期性指标达到目标值{t.mostly_done_ratio * 100:g}%及以上但未达到目标为“基本完成”；"
                f"其余为“未完成”，约束性指标只有“已完成”“未完成”。控制上限和下限指标以是否达标评价（“达标”“未达标”）及余量。"
                "约束性指标未完成或未达标的，列为预警。")
    return (f"评价口径：累计指标以累计完成值与目标之比对照时间进度（序时进度）；期末水平指标以从基数到目标的距离完成比例对照序时进度；"
            f"控制上限和下限指标以是否达标及余量评价。完成进度超前序时{t.ahead_pp:g}个百分点及以上为“超序时”，"
            f"落后{t.behind_pp:g}个百分点以内为“符合序时”，落后{t.behind_pp:g}至{t.severe_pp:g}个百分点为“滞后”，"
            f"落后超过{t.severe_pp:g}个百分点为“严重滞后”；控制上限和下限指标守住的为“达标”，否则为“未达标”；"
            f"约束性指标滞后或未达标的，列为预警。")


def lagging_sentence(e: Evaluation, city: str) -> str:
    who = "全市" if e.org_unit == city else e.org_unit
    if e.compliance is not None:
        return f"{who}{e.indicator}为{qty(e.actual, e.unit)}，未达到目标要求（{e.status}）"
    if e.status in FINAL:
        return f"{who}{e.indicator}为{qty(e.actual, e.unit)}，目标{qty(e.target, e.unit)}，完成进度{pct(e.completion)}（{e.status}）"
    return f"{who}{e.indicator}完成进度{pct(e.completion)}，落后序时进度{pp(e.gap_pp or 0.0)}（{e.status}）"


def recommendations(data: ReportData) -> list[str]:
    """Short, generic next steps derived from the lagging list."""
    lagging = data.lagging()
    recs: list[str] = []
    flagged = [e for e in lagging if e.escalate]
    if flagged:
        units = "、".join(dict.fromkeys(e.org_unit for e in flagged if e.org_unit != data.city))
        recs.append(f"对{_names(flagged)}等约束性指标实行挂牌督办，由牵头处室{'会同' + units if units else ''}"
                    "制定整改方案，明确责任人和完成时限，按月调度进展。")
    by_ind: dict[str, list[str]] = {}
    for e in lagging:
        if not e.escalate:
            by_ind.setdefault(e.indicator, []).append("全市" if e.org_unit == data.city else e.org_unit)
    final = data.as_of >= data.end_month
    tail = "深入分析未完成原因，将缺口纳入下一规划期统筹推进。" if final else "对照年度目标查找差距，细化分月任务，确保规划期末完成目标任务。"
    for ind, units in by_ind.items():
        who = "牵头处室要" if units == ["全市"] else f"督促{'、'.join(u for u in units if u != '全市')}"
        recs.append(f"聚焦{ind}，{'全市整体进度滞后，' if '全市' in units else ''}{who}{tail}")
    missing = [e for e in data.evaluations if e.status == Status.NO_DATA.value]
    if missing:
        recs.append(f"督促{'、'.join(dict.fromkeys(e.org_unit for e in missing))}按时报送{_names(missing)}等指标数据，完善统计监测制度。")
    risky = [e for e in data.key_evals() if verdict(e) in ("存在风险", "难以完成")]
    if risky and not final:
        recs.append(f"对{_names(risky)}等研判存在风险的指标，加强趋势研判和政策储备，必要时调整工作举措。")
    if not recs:
        recs.append("各项指标总体进展顺利，继续保持工作力度，巩固已有成果。")
    recs.append(f"系统总结“{data.period_name}”规划实施经验，做好与下一个五年规划的衔接。" if final
                else "持续开展规划实施监测，坚持按月监测、按季调度、年度评估。")
    return recs


HALF = 0.5  # 时间过半、任务过半: half the target done


def half_done(e: Evaluation) -> bool | None:
    """Whether half of e's target is done (完成进度 ≥ 50 %); None for a ceiling or floor
    (达标 or not: no share of a target to halve) and where there is no figure."""
    if e.compliance is not None or e.completion is None:
        return None
    return e.completion >= HALF - 1e-9


def half_done_label(e: Evaluation) -> str:
    return {True: "是", False: "否", None: "—"}[half_done(e)]


def midterm_rows(data: ReportData) -> list[tuple[Evaluation, bool]]:
    """时间过半、任务过半 for the city: each key indicator with a target share, and whether half is done."""
    return [(e, ok) for e in data.key_evals() if (ok := half_done(e)) is not None]


def midterm_sentence(data: ReportData) -> str:
    rows = midterm_rows(data)
    passed = [e for e, ok in rows if ok]
    failed = [e for e, ok in rows if not ok]
    share = pct(rows[0][0].time_elapsed) if rows else "—"
    text = (f"截至{month_words(data.as_of)}，时间进度为{share}，{len(rows)}项有目标进度的主要指标中"
            f"{len(passed)}项完成进度达到50%，实现“时间过半、任务过半”")
    return text + (f"，{_names(failed)}未达到。" if failed else "。")


def midterm_unit_sentence(data: ReportData) -> str:
    """The same test for every org unit of the annex tables: how many passed, who did not."""
    judged = [(e, ok) for dec in data.plan.decompositions for e in data.unit_evals(dec.indicator)
              if (ok := half_done(e)) is not None]
    if not judged:
        return "分地区看，暂无可检验的分解目标数据。"
    failed = [e for e, ok in judged if not ok]
    text = (f"分地区看，附件分解的{len(data.plan.decompositions)}项指标共{len(judged)}个地区目标中，"
            f"{len(judged) - len(failed)}个实现“时间过半、任务过半”")
    if not failed:
        return text + "。"
    worst = sorted(failed, key=lambda e: e.completion or 0.0)[:6]
    named = "、".join(f"{e.org_unit}{e.indicator}（{pct(e.completion)}）" for e in worst)
    return text + f"，{len(failed)}个未过半，进度最低的是{named}{'等' if len(failed) > len(worst) else ''}。"
