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

# Monthly profiles (January first): hiring peaks March–April, graduates June–September.
SEASONS: dict[str, tuple[float, ...]] = {
    "employment": (0.6, 0.8, 1.6, 1.5, 1.1, 1.0, 1.0, 0.9, 1.0, 0.9, 0.9, 0.7),
    "rural": (0.7, 1.4, 1.6, 1.2, 1.0, 0.9, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9),
    "entrepreneurship": (0.7, 0.8, 1.1, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1),
    "training": (0.5, 0.6, 1.1, 1.2, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1, 1.0, 0.9),
    "graduates": (0.4, 0.4, 0.5, 0.5, 0.8, 2.0, 2.3, 2.0, 1.5, 0.6, 0.5, 0.5),
    "cases": (1.3, 1.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.3),  # wage arrears before 春节
    "flat": (1.0,) * 12,
}
PERIOD_START, PERIOD_END = date(2021, 1, 1), date(2025, 12, 31)
YEAR_ENDS = {year: date(year, 12, 31) for year in range(2021, 2026)}
BIRTH_FIRST, BIRTH_LAST = date(1950, 1, 1), date(2005, 12, 31)
EMPLOYMENT_TOTAL = 375_000  # 附件表1 over 2021–2025: other ledgers split "like 附件表1" scale to it

UNEMPLOYMENT_RATIO = 0.25  # unemployment registrations per employment registration
UNEMPLOYMENT_ENDED = 0.85  # unemployment registrations ended 1–12 months on (skewed short)
TRAINING_RATIO = 0.6  # training attendances per employment registration (shares of 附件表1)
SUBSIDISED_SHARE = 0.8
LOAN_SHARE = 0.7  # entrepreneurs who draw a guaranteed loan
OUT_OF_RANGE_DATES = (date(2030, 1, 1), date(2099, 12, 31), date(1970, 1, 1))

# Certificates (表2 I12, I13: 30万 and 7.7万 over five years), split and timed like training.
CERTIFICATES = {"skill": 300_000, "professional": 77_000}
LEVELS = {
    "skill": (("初级工", 0.40), ("中级工", 0.35), ("高级工", 0.17), ("技师", 0.06), ("高级技师", 0.02)),
    "professional": (("初级", 0.50), ("中级", 0.38), ("高级", 0.12)),
}
HIGH_SKILL = frozenset(("高级工", "技师", "高级技师"))  # 25% of skill certificates

# Postdocs (I14: 600 over five years; at least MIN_POSTDOCS rows at any scale). Stations
# (设站单位, illustrative) with their org unit and share: mostly 主城区, the zones and 市直.
POSTDOCS, MIN_POSTDOCS = 600, 30
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

# Electronic social security cards (I18): 20% of residents held one at end-2020; this share
# of residents applies in each year, so coverage is 56% at end-2023 and 72% at end-2025.
ECARD_HOLDERS_2020 = 0.20
ECARD_APPLICANTS = {2021: 0.12, 2022: 0.12, 2023: 0.12, 2024: 0.08, 2025: 0.08}

# Service ratings (I19 好评率 = (非常满意 + 满意) / all = 96.5%), as many as employment registrations.
RATINGS_RATIO = 1.0
CHANNELS = (("窗口", 0.45), ("网上", 0.35), ("电话", 0.10), ("自助", 0.10))
RATINGS = (("非常满意", 0.72), ("满意", 0.245), ("基本满意", 0.025), ("不满意", 0.007), ("非常不满意", 0.003))


@dataclass(frozen=True)
class CaseKind:
    """One kind of case: volume, deadline (按期) and how cases end."""

    per_employment: float  # cases per employment registration (shares of 附件表1)
    days_due: int  # due_date = event_date + days_due
    on_time: float  # share closed by due_date (the rest 1–90 days late)
    outcomes: tuple[tuple[str, float], ...]


CASES = {
    "inspection": CaseKind(0.020, 60, 0.985, (("closed", 1.0),)),  # I15 按期结案率
    "mediation": CaseKind(0.020, 15, 0.97, (("success", 0.72), ("failed", 0.28))),  # I16 调解成功率
    "arbitration": CaseKind(0.012, 60, 0.955, (("award", 0.50), ("settled", 0.35), ("withdrawn", 0.15))),  # I17
}


@dataclass(frozen=True)
class Cover:
    """How enrolment in one insurance develops, as shares of the person register.

    End-2020 enrolees stay, or leave (their spell ends), or change status once; joiners
    enrol paying during 2021–2025 and stay so. `resume()` is solved so that the paying
    share reaches `paying[1]` by end-2025.
    """

    insurance: str
    enrolled: tuple[float, float]  # share of persons enrolled at end-2020, end-2025
    paying: tuple[float, float]  # paying share of enrolees at end-2020, end-2025
    leave: float  # end-2020 enrolees whose enrolment ends in 2021–2025
    suspend: float  # paying end-2020 enrolees (staying) who suspend payment in 2021–2025

    def resume(self) -> float:
        """Share of suspended end-2020 enrolees (staying) who resume paying in 2021–2025."""
        (s0, s1), (p0, p1) = self.enrolled, self.paying
        stayers = s0 * (1 - self.leave)
        joiners = s1 - stayers
        share = (p1 * s1 - joiners - stayers * p0 * (1 - self.suspend)) / (stayers * (1 - p0))
        if not 0 <= share <= 1 or joiners < 0:
            raise ValueError(f"{self.insurance}: no resume share reaches the paying target ({share:.3f})")
        return share


# 表2: I06 356.95→375万, I07 84.9→100万, I08 102.11→117万 of ~900万 residents; I09 83.5%→90%+.
COVERS = (
    Cover("pension", (0.397, 0.417), (0.835, 0.91), leave=0.03, suspend=0.03),
    Cover("unemployment", (0.094, 0.111), (0.92, 0.94), leave=0.08, suspend=0.05),
    Cover("work_injury", (0.113, 0.130), (0.93, 0.95), leave=0.08, suspend=0.05),
)
ENROLLED_FROM = date(1995, 1, 1)  # earliest start of a spell (and never before age 16)
EARLIER_CHANGE = 0.2  # end-2020 enrolees whose status had changed once before 2021
STATUS = ("paying", "suspended")

# Reference table (参考数据): denominators sized so the computed rates are the plan's.
HIGH_SKILL_PER_10K = (689, 800)  # I11 at end-2020 and (sized for) end-2025
UNEMPLOYMENT_RATE = {2021: 0.019, 2022: 0.020, 2023: 0.021, 2024: 0.022, 2025: 0.023}  # I02 at year end


@dataclass(frozen=True)
class Scale:
    persons: int
    enterprises: int
    event_factor: float  # events = annex target (persons) × this


SCALES: dict[str, Scale] = {
    "small": Scale(persons=20_000, enterprises=1_000, event_factor=0.08),
    "city": Scale(persons=10_000_000, enterprises=500_000, event_factor=51.0),  # ~100M event rows
    "province": Scale(persons=85_000_000, enterprises=4_000_000, event_factor=700.0),
}
