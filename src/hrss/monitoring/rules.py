"""Validation rules (校验规则) run on submit: left side, operator, right side, as data."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from hrss.plan.model import Aggregation, Indicator
from hrss.plan.units import shown, shown_en

OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
KINDS = {
    "flow": (Aggregation.FLOW,),
    "stock": (Aggregation.STOCK,),
    "rate": (Aggregation.FLOW_RATE, Aggregation.STOCK_RATE),
    "any": tuple(Aggregation),
}


class RuleFileError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    name_en: str
    applies_to: str
    left: str
    operator: str
    right: str
    factor: float
    severity: str  # error | comment_required


@dataclass(frozen=True)
class Finding:
    rule: Rule
    indicator: str
    message: str  # Chinese, the rule's English name after it
    message_en: str = ""  # for English pages

    @property
    def severity(self) -> str:
        return self.rule.severity


def load_rules(path: Path | None = None) -> list[Rule]:
    source = path or Path(str(resources.files("hrss") / "data" / "validation_rules.yaml"))
    try:
        items = yaml.safe_load(source.read_text(encoding="utf-8"))["rules"]
        rules = [Rule(**{**item, "factor": float(item["factor"])}) for item in items]
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise RuleFileError(f"校验规则文件无效 (invalid rules file) {source}: {exc}") from exc
    for r in rules:
        if r.operator not in OPERATORS or r.applies_to not in KINDS or r.left not in ("value", "change_ratio") \
                or r.right not in ("annual_target", "constant") or r.severity not in ("error", "comment_required"):
            raise RuleFileError(f"校验规则 {r.id} 的取值无效 (invalid rule)")
    return rules


BOUND_WORDS = {"<=": ("上限", "at most"), "<": ("须小于", "less than"), ">=": ("下限", "at least"),
               ">": ("须大于", "more than")}


def check(
    rules: list[Rule],
    ind: Indicator,
    value: float,
    *,
    previous: float | None,
    annual_target: float | None,
    unit: str,
) -> list[Finding]:
    """The rules one value breaks. value, previous and annual_target are in unit, the unit
    the operator typed in, and the messages speak it: "月度流量不得超过本单位年度目标的一半：
    本月 3100 人，上限 1750 人"."""
    out = []
    for rule in rules:
        if ind.aggregation not in KINDS[rule.applies_to]:
            continue
        if rule.left == "value":
            left = value
        elif previous:
            left = abs(value - previous) / abs(previous)
        else:
            continue  # no previous value to compare with
        if rule.right == "annual_target":
            if not annual_target:
                continue
            right = annual_target * rule.factor
        else:
            right = rule.factor
        if OPERATORS[rule.operator](left, right):
            continue
        zh_bound, en_bound = BOUND_WORDS[rule.operator]
        if rule.left == "value":
            facts = f"本月 {shown(value, unit)}，{zh_bound} {shown(right, unit)}"
            facts_en = f"this month {shown_en(value, unit)}, {en_bound} {shown_en(right, unit)}"
        else:
            facts = f"本月 {shown(value, unit)}，上月 {shown(previous or 0.0, unit)}，变动 {left * 100:.1f}%"
            facts_en = (f"this month {shown_en(value, unit)}, last month {shown_en(previous or 0.0, unit)}, "
                        f"a change of {left * 100:.1f}%")
        out.append(Finding(rule, ind.code, f"{ind.name}：{rule.name}：{facts} ({rule.name_en})",
                           f"{ind.name_en or ind.name}: {rule.name_en}: {facts_en}"))
    return out
