"""What the synthetic city looks like (`hrss.ledgers.synth`): names and their frequencies,
regions, industries, seasonal profiles, the rates behind each ledger and the scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The most common surnames with their share of the population in per cent (2020 census,
# rounded); the rest of the population is spread over these in proportion.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12), ("李", 7.00), ("张", 6.74), ("刘", 5.10), ("陈", 4.61), ("杨", 3.22),
    ("黄", 2.45), ("赵", 2.19), ("吴", 2.05), ("周", 1.94), ("徐", 1.65), ("孙", 1.54),
    ("马", 1.47), ("朱", 1.39), ("胡", 1.31), ("郭", 1.20), ("何", 1.19), ("林", 1.11),
    ("高", 1.08), ("罗", 1.07), ("郑", 0.98), ("梁", 0.96), ("谢", 0.86), ("宋", 0.81),
    ("唐", 0.80), ("许", 0.78), ("韩", 0.74), ("邓", 0.73), ("冯", 0.72), ("曹", 0.68),
    ("彭", 0.66), ("曾", 0.64), ("肖", 0.62), ("田", 0.60), ("董", 0.59), ("潘", 0.56),
    ("袁", 0.55), ("蔡", 0.53), ("蒋", 0.53), ("余", 0.50),
)  # fmt: skip
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆亮峰建国志海东文博晨阳"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧莹倩琳颖洁梅萍红琴云兰凤欣悦佳雨婧怡晶"
GIVEN_COMMON = "子思嘉一梓宏德永春秋金玉新天安家"

# Region codes (地址码) for ID numbers: Xuzhou's counties and districts.
XUZHOU_REGIONS = (
    "320321", "320322", "320324", "320381", "320382",
    "320302", "320303", "320305", "320311", "320312",
)  # fmt: skip
# Other provinces' (prefecture-level) codes, for the ~10% of people from elsewhere.
OTHER_REGIONS = (
    "371302", "341302", "410102", "370102", "340104", "411402", "341602", "130102",
    "420102", "510104", "330102", "320102", "320506", "320812", "321302",
)  # fmt: skip
OTHER_PROVINCE_SHARE = 0.10
EDUCATION = (("初中及以下", 0.35), ("高中/中专", 0.28), ("大专", 0.18), ("本科", 0.16), ("研究生", 0.03))
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                  "152", "155", "157", "158", "159", "166", "177", "180", "181", "185", "187",
                  "188", "189", "199")  # fmt: skip
INDUSTRIES = (
    ("制造业", 0.30), ("批发和零售业", 0.22), ("建筑业", 0.10), ("交通运输、仓储和邮政业", 0.06),
    ("住宿和餐饮业", 0.07), ("信息传输、软件和信息技术服务业", 0.05), ("租赁和商务服务业", 0.07),
    ("居民服务、修理和其他服务业", 0.06), ("农、林、牧、渔业", 0.04), ("科学研究和技术服务业", 0.03),
)  # fmt: skip
INDUSTRY_WORDS = {"制造业": "机械制造", "批发和零售业": "商贸", "建筑业": "建设工程",
                  "交通运输、仓储和邮政业": "物流", "住宿和餐饮业": "餐饮管理",
                  "信息传输、软件和信息技术服务业": "信息科技", "租赁和商务服务业": "企业管理咨询",
                  "居民服务、修理和其他服务业": "家政服务", "农、林、牧、渔业": "农业发展",
                  "科学研究和技术服务业": "技术研究"}  # fmt: skip
SIZES = (("大型", 0.01), ("中型", 0.06), ("小型", 0.28), ("微型", 0.65))
FIRM_WORDS = "恒泰华盛鑫源宏达汇通金鼎瑞丰新锐佳禾荣昌永安彭城淮海汉韵云龙"

PERIOD_START, PERIOD_END = date(2021, 1, 1), date(2025, 12, 31)
YEAR_ENDS = {year: date(year, 12, 31) for year in range(2021, 2026)}
BIRTH_FIRST, BIRTH_LAST = date(1950, 1, 1), date(2005, 12, 31)

UNEMPLOYMENT_RATIO = 0.25  # unemployment registrations per employment registration
UNEMPLOYMENT_ENDED = 0.85  # unemployment registrations ended 1–12 months on (skewed short)
SUBSIDISED_SHARE = 0.8  # of training attendances: the rest are not subsidised (not counted by I05)
LOAN_SHARE = 0.7  # entrepreneurs who draw a guaranteed loan
OUT_OF_RANGE_DATES = (date(2030, 1, 1), date(2099, 12, 31), date(1970, 1, 1))

# Certificate levels. Skill certificates at 高级工 or above (HIGH_SKILL_SHARE of them) go to
# persons not counted before, timed so that I11 follows the city's path.
LEVELS = {
    "skill": (("初级工", 0.40), ("中级工", 0.35), ("高级工", 0.17), ("技师", 0.06), ("高级技师", 0.02)),
    "professional": (("初级", 0.50), ("中级", 0.38), ("高级", 0.12)),
}
HIGH_SKILL = frozenset(("高级工", "技师", "高级技师"))
HIGH_SKILL_SHARE = 0.25

# Postdoc stations (设站单位, illustrative) with their org unit and share of the intake (I14):
# mostly 主城区, the zones and 市直. Postdocs are postgraduates born in SCHOLARS_BORN.
SCHOLARS_BORN = ("1960", "1996")
POSTDOC_STATIONS = (
    ("徐州工程机械集团博士后科研工作站", "XZ-JKQ", 0.25),
    ("徐州经济技术开发区博士后创新实践基地", "XZ-JKQ", 0.05),
    ("徐州高新技术产业开发区博士后科研工作站", "XZ-GXQ", 0.12),
    ("徐州市中心医院博士后科研工作站", "XZ-SZ", 0.08),
    ("徐州市第一人民医院博士后科研工作站", "XZ-SZ", 0.05),
    ("鼓楼区博士后创新实践基地", "320302", 0.05),
    ("云龙区博士后创新实践基地", "320303", 0.05),
    ("泉山区博士后创新实践基地", "320311", 0.06),
    ("中国矿业大学博士后科研流动站", "320312", 0.18),
    ("江苏师范大学博士后科研流动站", "320312", 0.07),
    ("邳州市博士后创新实践基地", "320382", 0.04),
)  # fmt: skip

# Electronic social security cards (I18): the share of residents holding one at end-2020; the
# applications after it follow the city's coverage month by month.
ECARD_HOLDERS_2020 = 0.17

# Service ratings (I19 好评率 = (非常满意 + 满意) / all): good and other ratings as the city's figures
# say, each drawn among its kind by these weights.
CHANNELS = (("窗口", 0.45), ("网上", 0.35), ("电话", 0.10), ("自助", 0.10))
GOOD_RATINGS = (("非常满意", 0.72), ("满意", 0.245))
OTHER_RATINGS = (("基本满意", 0.025), ("不满意", 0.007), ("非常不满意", 0.003))


@dataclass(frozen=True)
class CaseKind:
    """One kind of case: its deadline (按期) and how closed cases end. How many cases there are,
    and how many close by due_date (I15, I17) or succeed (I16), follows the city's monthly
    figures; a mediation closes in the month it is filed, by its due date."""

    indicator: str  # the rate it feeds: counted by due month (I15, I17) or closing month (I16)
    days_due: int  # due_date = event_date + days_due
    outcomes: tuple[tuple[str, float], ...]  # of closed cases (mediation: success as the city's I16)


CASES = {
    "inspection": CaseKind("I15", 60, (("closed", 1.0),)),  # I15 按期结案率
    "mediation": CaseKind("I16", 15, (("success", 0.72), ("failed", 0.28))),  # I16 调解成功率
    "arbitration": CaseKind("I17", 60, (("award", 0.50), ("settled", 0.35), ("withdrawn", 0.15))),  # I17
}


@dataclass(frozen=True)
class Cover:
    """One insurance: how many are enrolled follows the city's figures unit by unit and month by
    month; besides, `leave` of the end-2020 enrolees' number leave over 2021–2025 (replaced by
    joiners, who enrol paying), and the paying share goes from `paying[0]` to `paying[1]`
    (pension: the city's I09 instead)."""

    insurance: str
    indicator: str
    paying: tuple[float, float]  # paying share of enrolees at end-2020, end-2025
    leave: float


COVERS = (
    Cover("pension", "I06", (0.835, 0.91), leave=0.03),
    Cover("unemployment", "I07", (0.92, 0.94), leave=0.08),
    Cover("work_injury", "I08", (0.93, 0.95), leave=0.08),
)
ENROLLED_FROM = date(1995, 1, 1)  # earliest start of a spell (and never before age 16)
EARLIER_CHANGE = 0.2  # end-2020 enrolees whose status had changed once before 2021
STATUS = ("paying", "suspended")

# The city the person register samples: its residents (常住人口, ~900万; 表2 I06 375万 is 41.7%
# of them). The register's persons live in each org unit in proportion to its pension enrolees.
CITY_RESIDENTS = 9_000_000

# Sampling fraction of each event ledger, relative to the scale's event_factor: ledgers of
# rarer records are sampled more densely, so that at `small` every unit's year holds tens of
# records at least (postdocs: all of them). The register, spells and e-card applications are
# sampled at persons / CITY_RESIDENTS.
SAMPLING = {
    "employment_registrations": 1.0,
    "rural_transfers": 2.5,
    "entrepreneurship": 2.0,
    "training": 0.25,
    "graduates_attracted": 1.0,
    "certificates": 0.625,
    "postdocs": 12.5,
    "cases": 3.0,
    "service_ratings": 0.0625,
}
REGISTER_SAMPLED = ("persons", "insurance_enrollments", "ecard_applications")


@dataclass(frozen=True)
class Scale:
    persons: int
    enterprises: int
    event_factor: float  # event ledgers hold the city's records × this (× SAMPLING)

    def fractions(self) -> dict[str, float]:
        """Ledger → the share of the city's records it holds (written to `_sample.json`)."""
        out = {name: self.event_factor * weight for name, weight in SAMPLING.items()}
        out.update(dict.fromkeys(REGISTER_SAMPLED, self.persons / CITY_RESIDENTS))
        return out


SCALES: dict[str, Scale] = {
    "small": Scale(persons=40_000, enterprises=1_000, event_factor=0.08),
    "city": Scale(persons=10_000_000, enterprises=500_000, event_factor=51.0),  # ~120M event rows
    "province": Scale(persons=85_000_000, enterprises=4_000_000, event_factor=700.0),
}
