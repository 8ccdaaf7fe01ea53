"""The real-name ledger (实名制台账) tables as data: name → columns (name, type, description).

One definition serves the generator (Arrow schemas for Parquet), the future importers
and quality report, and the documentation page docs/LEDGERS.md
(`python -m hrss.ledgers.schema > docs/LEDGERS.md`). Types are DuckDB type names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type name: VARCHAR, BIGINT, DATE, BOOLEAN, DOUBLE
    description: str


@dataclass(frozen=True)
class Ledger:
    name: str
    title: str  # Chinese name of the ledger
    purpose: str
    feeds: tuple[str, ...]  # plan indicator codes computed from it
    key: str  # the column identifying a row (in the dirt manifest)
    columns: tuple[Column, ...]


_EVENT_ID = Column("event_id", "BIGINT", "事件编号 (event number, unique in the ledger)")
_ID_NUMBER = Column("id_number", "VARCHAR", "公民身份号码 (18-character resident ID number, as text)")
_ORG_UNIT = Column(
    "org_unit", "VARCHAR", "经办地 (org unit code of the plan: GB/T 2260 code, or XZ-… for zones and 市直)"
)
_EVENT_DATE = Column("event_date", "DATE", "发生日期 (date of the event)")

LEDGERS: dict[str, Ledger] = {
    ledger.name: ledger
    for ledger in (
        Ledger(
            "persons",
            "人员基础信息库",
            "One row per person: the register every event ledger refers to by id_number.",
            (),
            "person_id",
            (
                Column("person_id", "BIGINT", "人员编号 (internal row number)"),
                _ID_NUMBER,
                Column("name", "VARCHAR", "姓名 (name)"),
                Column("sex", "VARCHAR", "性别 M/F (sex; agrees with the ID number's 17th digit)"),
                Column("birth_date", "DATE", "出生日期 (birth date; agrees with the ID number)"),
                Column("hukou_unit", "VARCHAR", "户籍地 (6-digit GB/T 2260 region code of the hukou)"),
                Column("residence_unit", "VARCHAR", "常住地 (org unit code where the person lives)"),
                Column("education", "VARCHAR", "文化程度 (初中及以下, 高中/中专, 大专, 本科, 研究生)"),
                Column("phone", "VARCHAR", "手机号码 (mobile number)"),
            ),
        ),
        Ledger(
            "enterprises",
            "用人单位信息库",
            "One row per employer: where employment registrations happen.",
            (),
            "credit_code",
            (
                Column("credit_code", "VARCHAR", "统一社会信用代码 (GB 32100 unified social credit code)"),
                Column("name", "VARCHAR", "单位名称 (name)"),
                Column("org_unit", "VARCHAR", _ORG_UNIT.description),
                Column("industry", "VARCHAR", "行业门类 (GB/T 4754 section)"),
                Column("size", "VARCHAR", "企业规模 (大型, 中型, 小型, 微型)"),
            ),
        ),
        Ledger(
            "employment_registrations",
            "就业失业登记台账",
            "Employment and unemployment registrations (就业登记/失业登记).",
            ("I01", "I02"),
            "event_id",
            (
                _EVENT_ID,
                _ID_NUMBER,
                Column(
                    "credit_code", "VARCHAR",
                    "用人单位统一社会信用代码 (employer; empty for unemployment registrations)",
                ),
                _ORG_UNIT,
                _EVENT_DATE,
                Column("kind", "VARCHAR", "登记类别 employment | unemployment"),
            ),
        ),
        Ledger(
            "rural_transfers",
            "农村劳动力转移就业台账",
            "Rural workers newly moved into non-farm work (新增转移农村劳动力).",
            ("I03",),
            "event_id",
            (_EVENT_ID, _ID_NUMBER, _ORG_UNIT, _EVENT_DATE),
        ),
        Ledger(
            "entrepreneurship",
            "扶持创业台账",
            "Workers helped to start a business, with any guaranteed start-up loan (创业担保贷款).",
            ("I04", "A05"),
            "event_id",
            (
                _EVENT_ID,
                _ID_NUMBER,
                _ORG_UNIT,
                _EVENT_DATE,
                Column("loan_wan_yuan", "DOUBLE", "创业担保贷款发放额 (loan granted, 万元; 0 if none)"),
            ),
        ),
        Ledger(
            "training",
            "职业技能培训台账",
            "Vocational training attendances (职业技能培训人次); subsidised ones count for I05.",
            ("I05",),
            "event_id",
            (
                _EVENT_ID,
                _ID_NUMBER,
                _ORG_UNIT,
                _EVENT_DATE,
                Column("subsidised", "BOOLEAN", "是否补贴性培训 (subsidised training)"),
            ),
        ),
        Ledger(
            "graduates_attracted",
            "高校毕业生招引台账",
            "College graduates who came to work or settle in Xuzhou (高校毕业生招引).",
            ("I10",),
            "event_id",
            (_EVENT_ID, _ID_NUMBER, _ORG_UNIT, _EVENT_DATE),
        ),
    )
}

DIRT_LEDGER = Ledger(
    "_dirt",
    "脏数据清单 (synthetic data only)",
    "Which rows the generator made dirty, and how: the answer key for the quality report.",
    (),
    "row_index",
    (
        Column("ledger", "VARCHAR", "台账 (ledger name)"),
        Column("row_key", "VARCHAR", "the row's key column value, as text (may be empty if that is the dirt)"),
        Column("row_index", "BIGINT", "0-based position of the row in the ledger file"),
        Column("kind", "VARCHAR", "check_digit | float | missing | duplicate | orphan | date_out_of_range"),
        Column("column", "VARCHAR", "the column made dirty (empty for duplicate rows)"),
    ),
)

DIRT_KINDS = ("check_digit", "float", "missing", "duplicate", "orphan", "date_out_of_range")

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
}


def arrow_schema(ledger: Ledger) -> pa.Schema:
    """The Arrow (and so Parquet) schema of a ledger; every column nullable (dirt)."""
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in ledger.columns])


def ledgers_markdown() -> str:
    """The column tables of docs/LEDGERS.md, generated from the definitions above."""
    lines: list[str] = []
    for ledger in (*LEDGERS.values(), DIRT_LEDGER):
        feeds = ", ".join(ledger.feeds) or "—"
        lines += [
            f"### `{ledger.name}` — {ledger.title}",
            "",
            ledger.purpose,
            "",
            f"Key: `{ledger.key}`. Feeds plan indicators: {feeds}.",
            "",
            "| column | type | meaning |",
            "| --- | --- | --- |",
        ]
        lines += [f"| `{c.name}` | {c.type} | {c.description} |" for c in ledger.columns]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(ledgers_markdown(), end="")
