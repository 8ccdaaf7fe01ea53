"""The real-name ledger (实名制台账) tables as data: name → columns (name, type, description).

One definition serves the generator (Arrow schemas for Parquet), the future importers
and quality report, and the documentation page docs/LEDGERS.md (the tables there are
the output of `python -m hrss.ledgers.schema`). Types are DuckDB type names.

Kinds of ledger: `register` (persons, employers), `event` (one row per event, in
`event_date` order) and `spells` (periods of constant status, in `start_date` order)
make up LEDGERS; REFERENCE_LEDGER (statistics by org unit and year, no real names) and
DIRT_LEDGER (the synthetic data's answer key) are files beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type name: VARCHAR, BIGINT, INTEGER, DATE, BOOLEAN, DOUBLE
    description: str


@dataclass(frozen=True)
class Ledger:
    name: str
    title: str  # Chinese name of the ledger
    purpose: str
    feeds: tuple[str, ...]  # plan indicator codes computed from it
    key: str  # the column identifying a row (in the dirt manifest)
    columns: tuple[Column, ...]
    kind: str = "event"  # register | event | spells | reference | manifest
    key_columns: tuple[str, ...] = ()  # when the key is several columns (key is the first)

    @property
    def keys(self) -> tuple[str, ...]:
        """The columns that together identify a row."""
        return self.key_columns or (self.key,)

    @property
    def date_column(self) -> str | None:
        """The date the file is ordered by (event ledgers and spells)."""
        return {"event": "event_date", "spells": "start_date"}.get(self.kind)


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
            kind="register",
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
            kind="register",
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
                Column(
                    "end_date", "DATE",
                    "失业登记注销日期 (unemployment registration ended by re-employment or "
                    "cancellation; NULL while still registered; always NULL for kind = employment)",
                ),
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
        Ledger(
            "certificates",
            "职业资格和技能等级证书台账",
            "Certificates obtained (新取得证书): skill certificates (职业资格证书或职业技能等级证书) "
            "and professional qualifications of specialised technical staff (专业技术人员职业资格证书).",
            ("I11", "I12", "I13"),
            "event_id",
            (
                _EVENT_ID,
                _ID_NUMBER,
                _ORG_UNIT,
                _EVENT_DATE,
                Column(
                    "cert_type", "VARCHAR",
                    "证书类别 skill (职业资格证书或职业技能等级证书) | professional (专业技术人员职业资格证书)",
                ),
                Column(
                    "level", "VARCHAR",
                    "等级 (skill: 初级工, 中级工, 高级工, 技师, 高级技师; professional: 初级, 中级, 高级)",
                ),
            ),
        ),
        Ledger(
            "postdocs",
            "博士后招收台账",
            "Postdoctoral researchers newly taken on (新招收博士后) by a station (设站单位).",
            ("I14",),
            "event_id",
            (
                _EVENT_ID,
                _ID_NUMBER,
                _ORG_UNIT,
                _EVENT_DATE,
                Column("station", "VARCHAR", "设站单位 (station, e.g. 徐州工程机械集团博士后科研工作站)"),
            ),
        ),
        Ledger(
            "insurance_enrollments",
            "社会保险参保登记",
            "Social insurance enrolment as spells of constant status (参保缴费状态区间): the lossless "
            "form of monthly enrolment snapshots. A status change ends one row (end_date = D) and "
            "starts the next (start_date = D); spells of one person and insurance never overlap.",
            ("I06", "I07", "I08", "I09"),
            "record_id",
            (
                Column("record_id", "BIGINT", "记录编号 (record number, unique in the ledger)"),
                _ID_NUMBER,
                Column("org_unit", "VARCHAR", "参保地 (org unit code: the person's residence unit)"),
                Column(
                    "insurance", "VARCHAR",
                    "险种 pension (城乡基本养老保险) | unemployment (失业保险) | work_injury (工伤保险)",
                ),
                Column("status", "VARCHAR", "缴费状态 paying (正常缴费) | suspended (暂停缴费)"),
                Column("start_date", "DATE", "起始日期 (first day of the spell; may be before 2021)"),
                Column("end_date", "DATE", "终止日期 (first day no longer in this spell; NULL = still in force)"),
            ),
            kind="spells",
        ),
        Ledger(
            "ecard_applications",
            "电子社保卡申领台账",
            "Electronic social security card applications (电子社保卡申领): one per person.",
            ("I18",),
            "event_id",
            (_EVENT_ID, _ID_NUMBER, _ORG_UNIT, _EVENT_DATE),
        ),
        Ledger(
            "service_ratings",
            "好差评台账",
            "Ratings of government services (政务服务好差评) by the person served.",
            ("I19",),
            "event_id",
            (
                _EVENT_ID,
                _ID_NUMBER,
                _ORG_UNIT,
                _EVENT_DATE,
                Column("channel", "VARCHAR", "评价渠道 (窗口, 网上, 电话, 自助)"),
                Column("rating", "VARCHAR", "评价 (非常满意, 满意, 基本满意, 不满意, 非常不满意)"),
            ),
        ),
        Ledger(
            "cases",
            "劳动保障监察和劳动人事争议案件台账",
            "Labour inspection complaints (劳动保障监察举报投诉) and labour dispute mediation and "
            "arbitration cases (劳动人事争议调解、仲裁).",
            ("I15", "I16", "I17"),
            "case_id",
            (
                Column("case_id", "BIGINT", "案件编号 (case number, unique in the ledger)"),
                Column(
                    "kind", "VARCHAR",
                    "案件类别 inspection (监察举报投诉) | mediation (争议调解) | arbitration (争议仲裁)",
                ),
                Column("id_number", "VARCHAR", "申请人/投诉人公民身份号码 (complainant's resident ID number)"),
                _ORG_UNIT,
                Column("event_date", "DATE", "受理日期 (date the case was accepted)"),
                Column(
                    "due_date", "DATE",
                    "按期结案期限 (deadline: event_date + 60 days inspection, + 15 mediation, + 60 arbitration)",
                ),
                Column("closed_date", "DATE", "结案日期 (date closed; NULL while open)"),
                Column(
                    "outcome", "VARCHAR",
                    "结案方式 (NULL while open; inspection: closed; mediation: success | failed; "
                    "arbitration: award | settled | withdrawn)",
                ),
            ),
        ),
    )
}

# Not a real-name ledger (no person, no dirt): the denominators of rates, by org unit and
# year, as `reference.parquet` beside the ledgers. Kept out of LEDGERS, whose entries are
# all person-level (registers, events, spells).
REFERENCE_LEDGER = Ledger(
    "reference",
    "参考数据",
    "Statistics from the statistics bureau (统计部门数据) by org unit and year, the "
    "denominators of rates: not real-name data, never dirty.",
    ("I02", "I11", "I18"),
    "org_unit",
    (
        Column("org_unit", "VARCHAR", "经办地 (org unit code)"),
        Column("year", "INTEGER", "年度 (year, 2021–2025)"),
        Column(
            "resident_population", "BIGINT",
            "常住人口 (resident population; in synthetic data the register's residents of the unit ÷ its sampling fraction)",
        ),
        Column("labour_force", "BIGINT", "劳动力人数 (labour force)"),
        Column(
            "urban_labour_force", "BIGINT",
            "城镇劳动力 (urban labour force: employed plus registered unemployed)",
        ),
        Column("high_skill_2020", "BIGINT", "高技能人才数 (high-skilled workers at end-2020)"),
        Column("ecard_holders_2020", "BIGINT", "电子社保卡持卡人数 (e-card holders at end-2020)"),
    ),
    kind="reference",
    key_columns=("org_unit", "year"),
)

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
    kind="manifest",
)

DIRT_KINDS = ("check_digit", "float", "missing", "duplicate", "orphan", "date_out_of_range")

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
}


def arrow_schema(ledger: Ledger) -> pa.Schema:
    """The Arrow (and so Parquet) schema of a ledger; every column nullable (dirt)."""
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in ledger.columns])


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a literal | is escaped."""
    return text.replace("|", "\\|")


def ledgers_markdown() -> str:
    """The column tables of docs/LEDGERS.md, generated from the definitions above."""
    lines: list[str] = []
    for ledger in (*LEDGERS.values(), REFERENCE_LEDGER, DIRT_LEDGER):
        feeds = ", ".join(ledger.feeds) or "—"
        keys = ", ".join(f"`{k}`" for k in ledger.keys)
        order = f" Rows are in `{ledger.date_column}` order." if ledger.date_column else ""
        lines += [
            f"### `{ledger.name}` — {ledger.title}",
            "",
            ledger.purpose,
            "",
            f"Key: {keys}. Feeds plan indicators: {feeds}.{order}",
            "",
            "| column | type | meaning |",
            "| --- | --- | --- |",
        ]
        lines += [f"| `{c.name}` | {c.type} | {_cell(c.description)} |" for c in ledger.columns]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(ledgers_markdown(), end="")
