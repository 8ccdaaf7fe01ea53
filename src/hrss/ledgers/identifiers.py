"""Identifiers in real-name ledgers (实名制台账): resident ID numbers and credit codes.

- Resident ID number (公民身份号码, GB 11643-1999): a 6-digit region code (地址码), an
  8-digit birth date, a 3-digit sequence number (顺序码, odd for men, even for women)
  and an ISO 7064 MOD 11-2 check character (校验码, 0-9 or X).
- Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters over a
  31-character alphabet, the last one a MOD 31 check character.

Both algorithms are implemented here rather than taken from python-stdnum: its
`cn.ric` checks the region code against the birth year and so rejects valid numbers
(every Xuzhou 3203xx number of anyone born before 1983), and its `cn.uscc` rejects
codes whose first character is A, N or Y (see docs "Known pitfalls"). The region code
records where a number was *issued*, not where the person was born, so only its
province prefix is checked.

Nothing here raises on bad input: the `check_*` functions return a result whose
`reason` is shown to operators (Chinese first, English in brackets) and whose `code`
is for programs. Only the `make_*` builders raise `ValueError` on bad arguments.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hrss.audit.service import LOCAL_ZONE

# --- normalising cell text ---------------------------------------------------------

# Invisible format characters that come along when numbers are copied from web pages
# or Word: zero-width space/joiners, word joiner, BOM. NFKC keeps them, so drop them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalise(raw: str) -> str:
    """NFKC (full-width ３２０Ｘ → 320X), drop all whitespace (incl. U+3000), upper-case."""
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    return "".join(text.split()).upper()


# A number printed by a spreadsheet or float(): 3.20382198001011E+17, 320382198001010000.0
# (an explicit sign or point is required, so a credit code like 12345678901234E567 is not one).
_NUMBER_TEXT = re.compile(r"\d+\.\d*(E[+-]?\d+)?|\d+E[+-]\d+")


def _as_text(raw: object) -> tuple[str, bool]:
    """(normalised text, whether the cell held a number with a fractional or exponent form)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):  # NaN: pandas' empty cell
        return "", False
    if isinstance(raw, bool):
        return str(raw), False
    try:
        # An int is exact, so its digits are checked; a float has lost digits beyond 15-17.
        text = normalise(raw if isinstance(raw, str) else str(raw))
    except Exception:  # an object whose str() fails: nothing to check
        return "", False
    return text, isinstance(raw, float | Decimal) or bool(_NUMBER_TEXT.fullmatch(text))


# --- resident ID number (公民身份号码) ---------------------------------------------

DIGITS = "0123456789"
# Weights 2^(17-i) mod 11 for positions i = 0..16 (ISO 7064 MOD 11-2).
RESIDENT_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
RESIDENT_CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11
# The 34 province-level divisions of GB/T 2260 (省级行政区划代码), by their 2-digit prefix.
PROVINCE_PREFIXES = frozenset({
    "11", "12", "13", "14", "15",  # 北京 天津 河北 山西 内蒙古
    "21", "22", "23",  # 辽宁 吉林 黑龙江
    "31", "32", "33", "34", "35", "36", "37",  # 上海 江苏 浙江 安徽 福建 江西 山东
    "41", "42", "43", "44", "45", "46",  # 河南 湖北 湖南 广东 广西 海南
    "50", "51", "52", "53", "54",  # 重庆 四川 贵州 云南 西藏
    "61", "62", "63", "64", "65",  # 陕西 甘肃 青海 宁夏 新疆
    "71", "81", "82",  # 台湾 香港 澳门
})  # fmt: skip
# Region prefixes accepted in ID numbers: the provinces, plus 83 for the residence
# permits of Taiwan residents (台湾居民居住证, numbered 830000…, as those of Hong Kong
# and Macao residents are 810000… and 820000…). Only the prefix is checked: the full
# code is where the number was issued, and old codes (e.g. city-level 320300) stay valid.
REGION_PREFIXES = PROVINCE_PREFIXES | {"83"}
MIN_BIRTH_YEAR = 1900

FLOAT_REASON = "身份证号被存为数字，后几位已丢失 (stored as a number: trailing digits lost)"


@dataclass(frozen=True)
class IdResult:
    """The outcome of checking a resident ID number.

    `value` is always the normalised text (a number as printed: 3.20382198001011E+17).
    `code` is one of 'length', 'chars', 'region', 'birth_date', 'future', 'too_old',
    'check_digit', 'float'. `birth_date`, `sex` ('M'/'F') and `region` (the 6-digit
    issuing region code) are filled only for a valid number.
    """

    ok: bool
    value: str
    reason: str | None = None
    code: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    region: str | None = None


def resident_id_check_char(first17: str) -> str:
    """The MOD 11-2 check character for 17 ASCII digits."""
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    return RESIDENT_CHECK_CHARS[total % 11]


def _today() -> date:
    return datetime.now(ZoneInfo(LOCAL_ZONE)).date()


def _id_error(value: str, code: str, reason: str) -> IdResult:
    return IdResult(ok=False, value=value, reason=reason, code=code)


def check_resident_id(raw: object, *, today: date | None = None) -> IdResult:
    """Check a resident ID number as found in a ledger cell; never raises.

    `raw` is normally text; a float (or text such as '3.20382198001011E+17') means the
    number went through a numeric spreadsheet cell and lost its last digits. `today`
    (default: today in Asia/Shanghai) bounds the birth date.
    """
    text, was_number = _as_text(raw)
    if was_number:
        return _id_error(text, "float", FLOAT_REASON)
    if not text:
        return _id_error(text, "length", "身份证号为空 (empty)")
    if len(text) == 15 and all(c in DIGITS for c in text):
        return _id_error(
            text,
            "length",
            "15 位旧身份证号，须升级为 18 位后再录入 (15-digit legacy number: upgrade it to 18 digits)",
        )
    if len(text) != 18:
        return _id_error(text, "length", f"身份证号应为 18 位，实为 {len(text)} 位 (must be 18 characters, got {len(text)})")
    if any(c not in DIGITS for c in text[:17]) or text[17] not in DIGITS + "X":
        return _id_error(
            text, "chars", "身份证号应为 17 位数字加 1 位数字或 X (must be 17 digits then a digit or X)"
        )
    region = text[:6]
    if region[:2] not in REGION_PREFIXES:
        return _id_error(
            text, "region", f"地址码 {region} 的省级代码无效 (region code {region}: unknown province)"
        )
    birth_text = text[6:14]
    try:
        birth = date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:]))
    except ValueError:
        return _id_error(
            text, "birth_date", f"出生日期 {birth_text} 不存在 (birth date {birth_text} is not a real date)"
        )
    if birth.year < MIN_BIRTH_YEAR:
        return _id_error(
            text, "too_old", f"出生日期 {birth_text} 早于 1900 年 (birth date {birth_text} before 1900)"
        )
    if birth > (today or _today()):
        return _id_error(
            text, "future", f"出生日期 {birth_text} 晚于今天 (birth date {birth_text} is in the future)"
        )
    expected = resident_id_check_char(text[:17])
    if text[17] != expected:
        return _id_error(
            text,
            "check_digit",
            f"身份证号校验码不符：末位应为 {expected} (check character should be {expected})",
        )
    sex = "M" if int(text[16]) % 2 else "F"
    return IdResult(ok=True, value=text, birth_date=birth, sex=sex, region=region)


def make_resident_id(region: str, birth: date, seq: int) -> str:
    """Build a valid resident ID number: region + YYYYMMDD + 3-digit seq + check character.

    Used by the synthetic data generator. Raises ValueError for an invalid region,
    a birth year before 1900 or a sequence number outside 0..999.
    """
    if len(region) != 6 or any(c not in DIGITS for c in region) or region[:2] not in REGION_PREFIXES:
        raise ValueError(f"地址码无效 (invalid region code): {region!r}")
    if birth.year < MIN_BIRTH_YEAR:
        raise ValueError(f"出生日期早于 1900 年 (birth date before 1900): {birth}")
    if isinstance(seq, bool) or not 0 <= seq <= 999:
        raise ValueError(f"顺序码应在 0..999 (sequence number must be 0..999): {seq!r}")
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_char(first17)


# --- unified social credit code (统一社会信用代码) --------------------------------

# 31 characters: digits and upper-case letters without I, O, Z, S, V.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^i mod 31
# Registration authority (登记管理部门) codes of GB 32100 and its amendments:
# 1 编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 市场监管,
# A 中央军委改革和编制办公室, N 农业农村, Y 其他.
CREDIT_AUTHORITIES = frozenset("123456789ANY")

LEGACY_REASON = "统一社会信用代码校验位不符，疑为历史代码，需人工确认 (check character fails: possibly a legacy code, confirm by hand)"


@dataclass(frozen=True)
class CodeResult:
    """The outcome of checking a unified social credit code.

    `code` is one of 'length', 'chars', 'authority', 'check_digit', 'float'. A code
    that is well formed but whose check character fails is `legacy`: not ok, but to be
    confirmed by hand rather than dropped (some codes issued early do not verify).
    """

    ok: bool
    value: str
    reason: str | None = None
    code: str | None = None
    legacy: bool = False


def credit_code_check_char(first17: str) -> str:
    """The MOD 31 check character for 17 characters of CREDIT_ALPHABET."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(raw: object) -> CodeResult:
    """Check a unified social credit code as found in a ledger cell; never raises."""
    text, was_number = _as_text(raw)
    if was_number:
        return CodeResult(False, text, "信用代码被存为数字，内容已丢失 (stored as a number: characters lost)", "float")
    if not text:
        return CodeResult(False, text, "统一社会信用代码为空 (empty)", "length")
    if len(text) != 18:
        return CodeResult(
            False,
            text,
            f"统一社会信用代码应为 18 位，实为 {len(text)} 位 (must be 18 characters, got {len(text)})",
            "length",
        )
    bad = sorted({c for c in text if c not in CREDIT_ALPHABET})
    if bad:
        shown = "、".join(bad)
        return CodeResult(
            False,
            text,
            f"统一社会信用代码含无效字符 {shown}（不使用 I、O、Z、S、V）(invalid characters {shown}: I, O, Z, S, V are not used)",
            "chars",
        )
    if text[0] not in CREDIT_AUTHORITIES:
        return CodeResult(
            False,
            text,
            f"登记管理部门代码 {text[0]} 无效 (unknown registration authority {text[0]})",
            "authority",
        )
    if text[17] != credit_code_check_char(text[:17]):
        return CodeResult(False, text, LEGACY_REASON, "check_digit", legacy=True)
    return CodeResult(True, text)


def make_credit_code(first17: str) -> str:
    """Append the check character to 17 characters (normalised first); raises ValueError."""
    text = normalise(first17)
    if len(text) != 17 or any(c not in CREDIT_ALPHABET for c in text):
        raise ValueError(f"应为 17 位有效字符 (need 17 characters of the credit-code alphabet): {first17!r}")
    if text[0] not in CREDIT_AUTHORITIES:
        raise ValueError(f"登记管理部门代码无效 (unknown registration authority): {text[0]!r}")
    return text + credit_code_check_char(text)
