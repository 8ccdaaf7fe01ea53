"""Extract a plan's tables from the text of the plan document (`hrss plan import-text`).

The text is laid out as the seed is: a heading line such as
``表2：“十四五”人力资源和社会保障事业发展主要指标``, a tab-separated header, then one
tab-separated line per row. Tables before the line ``附件`` are the main tables
(表1 history, 表2 key indicators); tables after it are the annex decomposition tables.
Anything that is not a table (prose, the page-number debris ``0001\t0001…`` at the end)
is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from hrss.plan.model import (
    Aggregation,
    Attribute,
    Commitment,
    Decomposition,
    DecompositionRow,
    HistoryRow,
    Indicator,
    Milestone,
    OrgUnit,
    Plan,
    Quantity,
    TargetKind,
)

TABLE_HEADING = re.compile(r"^表(\d+)[：:]\s*(.+?)\s*$")
UNIT_IN_TITLE = re.compile(r"[（(]单位[:：]\s*(.+?)[)）]")
NAME_WITH_UNIT = re.compile(r"^(\d+)[.．、]\s*(.+?)\s*(?:[（(]([^()（）]+)[)）])?\s*$")
CATEGORY = re.compile(r"^[一二三四五六七八九十]+、\s*(.+)$")
YEAR = re.compile(r"(\d{4})\s*年")
DOC_NUMBER = re.compile(r"\S+〔\d{4}〕\d+号")
PLAN_MARK = re.compile(r"[“\"]([^”\"]+)[”\"]")
FLOW_RATE_WORDS = ("结案率", "成功率", "好评率", "满意率")
MONEY_UNITS = ("元", "万元", "亿元")


class PlanTextError(ValueError):
    """The text does not hold a plan in the expected layout."""


@dataclass
class RawTable:
    number: int
    title: str
    annex: bool
    header: list[str]
    rows: list[list[str]]
    line: int  # 1-based line of the heading


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.rstrip("\n").split("\t")]


def _is_debris(cells: list[str]) -> bool:
    """Page-number debris: a row of one repeated number (0001 0001 …)."""
    filled = [c for c in cells if c]
    return bool(filled) and all(re.fullmatch(r"\d{1,4}", c) for c in filled) and len(set(filled)) == 1


def _next_filled(lines: list[str], start: int) -> int:
    """Index of the first non-blank line at or after start (len(lines) if none)."""
    while start < len(lines) and not lines[start].strip():
        start += 1
    return start


def find_tables(text: str) -> list[RawTable]:
    lines = text.splitlines()
    tables: list[RawTable] = []
    annex = False
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == "附件":
            annex = True
        m = TABLE_HEADING.match(stripped)
        h = _next_filled(lines, i + 1)
        if m and h < len(lines) and "\t" in lines[h]:
            header = _cells(lines[h])
            rows: list[list[str]] = []
            j = _next_filled(lines, h + 1)
            while j < len(lines) and "\t" in lines[j]:
                cells = _cells(lines[j])
                if not _is_debris(cells):
                    rows.append(cells)
                j = _next_filled(lines, j + 1)
            tables.append(RawTable(int(m.group(1)), m.group(2), annex, header, rows, i + 1))
            i = j
            continue
        i += 1
    return tables


def number(raw: str) -> float:
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation as exc:
        raise PlanTextError(f"不是数字 (not a number): {raw!r}") from exc
    return int(value) if value == value.to_integral_value() else float(value)


def parse_quantity(raw: str, *, unit: str = "", result: bool = False) -> tuple[Quantity, str]:
    """Read one target cell; return the quantity and any 口径 note in brackets.

    A bare number is a floor (rates) or a level (stocks) when it is a target; when it
    is a result (表1's 完成数) it is just a value and has no kind.
    """
    text = raw.strip()
    note = ""
    m = re.fullmatch(r"(.*?)[（(]([^()（）]*口径[^()（）]*)[)）]", text)
    if m:
        text, note = m.group(1).strip(), m.group(2)
    if not text or set(text) <= set("-—－ "):
        return Quantity(raw, None, None), note
    if re.fullmatch(r"\[\s*[\d.]+\s*\]", text):
        return Quantity(raw, number(text.strip("[] ")), TargetKind.CUMULATIVE), note
    if text.endswith("以内"):
        return Quantity(raw, number(text[: -len("以内")]), TargetKind.CEILING), note
    if text[0] in "≥>":
        return Quantity(raw, number(text.lstrip("≥>= ")), TargetKind.FLOOR), note
    if ":" in text or "：" in text:
        return Quantity(raw, None, TargetKind.RATIO), note
    kind = None if result else TargetKind.FLOOR if unit == "%" else TargetKind.LEVEL
    return Quantity(raw, number(text), kind), note


def _split_name(cell: str) -> tuple[int, str, str]:
    m = NAME_WITH_UNIT.match(cell)
    if not m:
        raise PlanTextError(f"指标名称格式不符 (indicator name not understood): {cell!r}")
    return int(m.group(1)), m.group(2).strip(), (m.group(3) or "").strip()


def _indicator_rows(table: RawTable) -> list[tuple[str, int, str, str, list[str]]]:
    """(category, number, name, unit, other cells) for each indicator row."""
    out = []
    category = ""
    for cells in table.rows:
        c = CATEGORY.match(cells[0])
        if c and not any(cells[1:]):
            category = c.group(1).strip()
            continue
        num, name, unit = _split_name(cells[0])
        out.append((category, num, name, unit, cells[1:]))
    return out


def _aggregation(kind: TargetKind, name: str, unit: str) -> Aggregation:
    if kind is TargetKind.CUMULATIVE:
        return Aggregation.FLOW
    if unit == "%":
        return Aggregation.FLOW_RATE if name.endswith(FLOW_RATE_WORDS) else Aggregation.STOCK_RATE
    if _scale(name, unit) != 1.0:
        return Aggregation.STOCK_RATE  # a density such as 每万名劳动力中…: never summed across units
    return Aggregation.STOCK


def _scale(name: str, unit: str) -> float:
    if unit == "%":
        return 100.0
    if name.startswith("每万名"):
        return 10000.0
    return 1.0


def parse_history(table: RawTable) -> list[HistoryRow]:
    rows = []
    for category, num, name, unit, cells in _indicator_rows(table):
        target, _ = parse_quantity(cells[0], unit=unit)
        result, _ = parse_quantity(cells[1], unit=unit, result=True)
        rows.append(HistoryRow(num, name, category, unit, target, result))
    return rows


def parse_key_indicators(table: RawTable, baseline_year: int, end_year: int) -> list[Indicator]:
    out = []
    for category, num, name, unit, cells in _indicator_rows(table):
        baseline, _ = parse_quantity(cells[0], unit=unit)
        target, note = parse_quantity(cells[1], unit=unit)
        if target.value is None or target.kind is None:
            raise PlanTextError(f"表{table.number} 第{num}项 {name}: 目标值缺失 (no target)")
        attr = Attribute.BINDING if cells[2].startswith("约束") else Attribute.EXPECTED
        out.append(
            Indicator(
                code=f"I{num:02d}",
                number=num,
                name=name,
                category=category,
                unit=unit,
                baseline_year=baseline_year,
                baseline=baseline.value,
                target_year=end_year,
                target=target.value,
                kind=target.kind,
                attribute=attr,
                aggregation=_aggregation(target.kind, name, unit),
                note=note,
                target_raw=cells[1],
                baseline_raw=cells[0],
                scale=_scale(name, unit),
            )
        )
    return out


def _table_subject(title: str) -> str:
    title = UNIT_IN_TITLE.sub("", title)
    title = PLAN_MARK.sub("", title, count=1) if title.startswith(("“", '"')) else title
    return title.strip()


def parse_decomposition(
    table: RawTable, indicators: list[Indicator], units: list[OrgUnit]
) -> tuple[Decomposition, Indicator | None]:
    """Read one annex table; return it and, if no key indicator matches, a new one."""
    unit_m = UNIT_IN_TITLE.search(table.title)
    if not unit_m:
        raise PlanTextError(f"附件表{table.number}: 标题缺少单位 (no unit in title)")
    table_unit = unit_m.group(1).strip()
    header = table.header[1:]
    has_total = bool(header) and header[-1] == "合计"
    years = tuple(int(h) for h in (header[:-1] if has_total else header))
    subject = _table_subject(table.title)
    name = f"附件表{table.number}"

    rows: list[DecompositionRow] = []
    total_row: DecompositionRow | None = None
    for cells in table.rows:
        label = re.sub(r"\s+", "", cells[0])
        if len(cells) - 1 != len(header):
            raise PlanTextError(f"{name} {label}: 列数不符 (expected {len(header)} values)")
        values = {y: number(v) for y, v in zip(years, cells[1 : 1 + len(years)], strict=True)}
        total = number(cells[-1]) if has_total else None
        if label == "合计":
            total_row = DecompositionRow("合计", values, total)
            continue
        unit = _resolve_unit(label, units)
        rows.append(DecompositionRow(unit, values, total))
    if total_row is None:
        raise PlanTextError(f"{name}: 缺少合计行 (no 合计 row)")

    base_year = years[0] if years and years[0] == indicators_baseline_year(indicators) else None
    match = next((i for i in indicators if i.name == subject or i.name in subject), None)
    new: Indicator | None = None
    if match is None:
        code = f"A{table.number:02d}"
        ind_name = subject.removesuffix("目标")
        if table_unit in MONEY_UNITS:
            ind_name += "额"
        last = total_row.total if has_total else total_row.values[years[-1]]
        kind = TargetKind.CUMULATIVE if has_total else TargetKind.LEVEL
        base = total_row.values[base_year] if base_year else None
        new = Indicator(
            code=code,
            number=None,
            name=ind_name,
            category="附件指标",
            unit=table_unit,
            baseline_year=indicators_baseline_year(indicators),
            baseline=base,
            target_year=years[-1],
            target=float(last) if last is not None else 0.0,
            kind=kind,
            attribute=Attribute.EXPECTED,
            aggregation=Aggregation.FLOW if has_total else Aggregation.STOCK,
            source=name,
        )
        match = new
    decomposition = Decomposition(
        table=name,
        title=table.title,
        unit=table_unit,
        indicator=match.code,
        years=years,
        rows=tuple(rows),
        total_row=total_row,
        has_total_column=has_total,
        base_year=base_year,
    )
    return decomposition, new


def indicators_baseline_year(indicators: list[Indicator]) -> int:
    return indicators[0].baseline_year


def _resolve_unit(label: str, units: list[OrgUnit]) -> str:
    for unit in units:
        if label == unit.name or label in unit.aliases:
            return unit.name
    raise PlanTextError(
        f"未知的组织单位 (unknown org unit): {label!r}; 请在组织单位文件中登记 (add it to the org-unit file)"
    )


def _milestones(indicator: Indicator, commitments: list[Commitment]) -> tuple[Milestone, ...]:
    out = []
    for c in commitments:
        m = re.fullmatch(r"by_(\d{4})", c.due)
        if c.indicator == indicator.code and m and int(m.group(1)) < indicator.target_year:
            out.append(Milestone(int(m.group(1)), float(c.value), c.id))
    return tuple(sorted(out, key=lambda ms: ms.year))


def parse_plan_text(
    text: str,
    *,
    org_units: list[OrgUnit],
    commitments: list[Commitment],
    plan_id: str | None = None,
    names_en: dict[str, str] | None = None,
) -> Plan:
    """The plan of a plan document; names_en gives English names ({"title": …, code: …})."""
    tables = find_tables(text)
    main = [t for t in tables if not t.annex]
    targets = next((t for t in main if "基数" in "".join(t.header)), None)
    history_table = next((t for t in main if t is not targets and t.header[0].startswith("分类")), None)
    if targets is None:
        raise PlanTextError("未找到主要指标表 (no key-indicator table with a 基数 column)")
    years = [int(y) for y in YEAR.findall(" ".join(targets.header))]
    if not years:
        raise PlanTextError(f"表{targets.number}: 表头缺少基数年份 (no base year in header)")
    baseline_year = years[0]
    start_year, end_year = baseline_year + 1, baseline_year + 5

    indicators = parse_key_indicators(targets, baseline_year, end_year)
    decompositions = []
    for t in (t for t in tables if t.annex):
        dec, new = parse_decomposition(t, indicators, org_units)
        decompositions.append(dec)
        if new is not None:
            indicators.append(new)
    names_en = names_en or {}
    indicators = [replace(i, milestones=_milestones(i, commitments), name_en=names_en.get(i.code, ""))
                  for i in indicators]

    title, document, city = _front_matter(text)
    return Plan(
        id=plan_id or f"{city}-{start_year}-{end_year}",
        title=title,
        document=document,
        city=city,
        baseline_year=baseline_year,
        start_year=start_year,
        end_year=end_year,
        org_units=tuple(org_units),
        indicators=tuple(indicators),
        history=tuple(parse_history(history_table)) if history_table else (),
        decompositions=tuple(decompositions),
        commitments=tuple(commitments),
        title_en=names_en.get("title", ""),
    )


def _front_matter(text: str) -> tuple[str, str, str]:
    doc = DOC_NUMBER.search(text)
    title = ""
    for line in text.splitlines():
        compact = re.sub(r"\s+", "", line)
        if compact.endswith("规划") and "关于" not in compact and len(compact) < 60:
            title = compact
            break
    city_m = re.match(r"^(.+?[市省县])", title)
    return title, doc.group(0) if doc else "", city_m.group(1) if city_m else ""
