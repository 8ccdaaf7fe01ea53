"""The plan as data: indicators (指标), targets, org units (组织单位), decompositions, commitments.

These are plain, immutable value objects. They are read from the plan file
(`planfile.py`), checked against themselves (`check.py`) and loaded into the store
(`store.py`); the evaluation engine works on them without any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hrss.plan.units import decimals as unit_decimals


class TargetKind(StrEnum):
    """How a target is read (see docs/EVALUATION.md)."""

    CUMULATIVE = "cumulative"  # [x]: sum of the years of the plan period
    CEILING = "ceiling"  # 以内: must stay at or below
    FLOOR = "floor"  # ≥ or a bare rate target (达到…以上): must reach or stay above
    LEVEL = "level"  # end-of-period stock, e.g. 参保人数
    RATIO = "ratio"  # a structure such as 13:41:46 (history only; not evaluated)


class Aggregation(StrEnum):
    """How values of shorter periods combine into longer ones."""

    FLOW = "flow"  # per-period counts that add up
    STOCK = "stock"  # end-of-period stock: the latest value stands
    FLOW_RATE = "flow_rate"  # a rate of events (结案率): sum numerators / sum denominators
    STOCK_RATE = "stock_rate"  # a rate of a stock (覆盖率): the latest value stands


class Attribute(StrEnum):
    BINDING = "binding"  # 约束性
    EXPECTED = "expected"  # 预期性


ATTRIBUTE_LABELS = {Attribute.BINDING: "约束性", Attribute.EXPECTED: "预期性"}
TARGET_KIND_LABELS = {
    TargetKind.CUMULATIVE: "五年累计",
    TargetKind.CEILING: "上限(以内)",
    TargetKind.FLOOR: "下限(≥)",
    TargetKind.LEVEL: "期末水平",
    TargetKind.RATIO: "结构比例",
}


@dataclass(frozen=True)
class Quantity:
    """A value as the seed writes it ('[37.5](新口径)', '4以内', '≥90', '-----')."""

    raw: str
    value: float | None
    kind: TargetKind | None = None


@dataclass(frozen=True)
class Milestone:
    """An intermediate target inside the plan period (力争到2023年…达到55%)."""

    year: int
    value: float
    source: str = ""


@dataclass(frozen=True)
class Indicator:
    code: str
    number: int | None  # row number in 表2; None for annex-only indicators
    name: str
    category: str
    unit: str
    baseline_year: int
    baseline: float | None
    target_year: int
    target: float
    kind: TargetKind
    attribute: Attribute
    aggregation: Aggregation
    note: str = ""  # 口径 note, e.g. 新口径
    target_raw: str = ""
    baseline_raw: str = ""
    source: str = "表2"
    milestones: tuple[Milestone, ...] = ()
    scale: float = 1.0  # rate scale: 100 for %, 10000 for 每万名…
    name_en: str = ""  # English name for English pages; empty: the Chinese name is shown

    @property
    def is_rate(self) -> bool:
        return self.aggregation in (Aggregation.FLOW_RATE, Aggregation.STOCK_RATE)

    @property
    def lower_is_better(self) -> bool:
        return self.kind is TargetKind.CEILING

    @property
    def decimals(self) -> int:
        """Display precision (显示精度): the decimal places every figure of this indicator is
        shown with, on every page. Rates and densities (I11, 人 per 10,000): 2; anything else
        as its unit is typed (`units.decimals`: 4 for 万人, where one person is 0.0001 万人;
        none for a count in 人 or 场次)."""
        return 2 if self.is_rate else unit_decimals(self.unit)


@dataclass(frozen=True)
class OrgUnit:
    """A county, district, zone, the city, 市直, or a group the tables use."""

    code: str  # GB/T 2260 code where one exists, else an XZ-… project code
    name: str
    kind: str  # city | county | county_city | district | zone | city_level | group
    gb_code: str | None = None
    full_name: str = ""
    aliases: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # names of member units (groups and the city)
    reports: bool = True  # fills its own figures every period (the city: its city-only indicators); groups never


@dataclass(frozen=True)
class DecompositionRow:
    org_unit: str
    values: dict[int, float]
    total: float | None = None


@dataclass(frozen=True)
class Decomposition:
    """One annex table (附件表N): an indicator's targets by org unit and year."""

    table: str  # 附件表1
    title: str
    unit: str
    indicator: str  # indicator code
    years: tuple[int, ...]
    rows: tuple[DecompositionRow, ...]
    total_row: DecompositionRow
    has_total_column: bool
    base_year: int | None = None  # 表6–表8 carry the 2020 base year as their first column

    @property
    def target_years(self) -> tuple[int, ...]:
        return tuple(y for y in self.years if y != self.base_year)

    def row(self, org_unit: str) -> DecompositionRow | None:
        for r in self.rows:
            if r.org_unit == org_unit:
                return r
        return None


@dataclass(frozen=True)
class HistoryRow:
    """A row of 表1: the previous plan's target and result."""

    number: int
    name: str
    category: str
    unit: str
    target: Quantity
    result: Quantity


@dataclass(frozen=True)
class Commitment:
    """A quantified commitment of the plan text (任务台账)."""

    id: str
    section: str
    text: str
    value: float
    unit: str
    comparator: str
    due: str  # per_year | period | by_YYYY | every_2_years
    area: str
    indicator: str | None = None


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    document: str
    city: str
    baseline_year: int
    start_year: int
    end_year: int
    org_units: tuple[OrgUnit, ...]
    indicators: tuple[Indicator, ...]
    history: tuple[HistoryRow, ...]
    decompositions: tuple[Decomposition, ...]
    commitments: tuple[Commitment, ...] = ()
    title_en: str = ""  # English title for English pages; empty: the Chinese title is shown
    _by_code: dict[str, Indicator] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_code.update({i.code: i for i in self.indicators})

    @property
    def months(self) -> int:
        return (self.end_year - self.start_year + 1) * 12

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.start_year, self.end_year + 1))

    @property
    def city_unit(self) -> OrgUnit:
        """The org unit the plan is for (kind "city")."""
        return next(u for u in self.org_units if u.kind == "city")

    def indicator(self, code: str) -> Indicator:
        return self._by_code[code]

    def find_indicator(self, key: str) -> Indicator | None:
        """By code or by Chinese name (with or without the unit in brackets)."""
        key = key.strip()
        if key in self._by_code:
            return self._by_code[key]
        for ind in self.indicators:
            if key in (ind.name, f"{ind.name}({ind.unit})", f"{ind.name}（{ind.unit}）"):
                return ind
        return None

    def org_unit(self, name: str) -> OrgUnit | None:
        name = name.strip()
        for unit in self.org_units:
            if name in (unit.name, unit.code, unit.full_name) or name in unit.aliases:
                return unit
        return None

    def leaves(self, name: str) -> list[OrgUnit]:
        """The reporting units under name: the unit itself, or its members' leaves, recursively."""
        unit = self.org_unit(name)
        if unit is None:
            return []
        if not unit.members:
            return [unit]
        return [leaf for member in unit.members for leaf in self.leaves(member)]

    def decomposition_for(self, indicator_code: str) -> Decomposition | None:
        for d in self.decompositions:
            if d.indicator == indicator_code:
                return d
        return None

    @property
    def key_indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.source == "表2")
