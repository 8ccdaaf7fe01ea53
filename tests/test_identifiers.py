"""Resident ID numbers and credit codes: check characters computed here, by hand and by an
independent implementation, against real Xuzhou region codes (320382 邳州市)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrss.ledgers.identifiers import (
    CREDIT_ALPHABET,
    CREDIT_WEIGHTS,
    PROVINCE_PREFIXES,
    RESIDENT_WEIGHTS,
    check_credit_code,
    check_resident_id,
    credit_code_check_char,
    make_credit_code,
    make_resident_id,
    normalise,
    resident_id_check_char,
)
from hrss.ledgers.masking import mask_id, mask_name, mask_phone

TODAY = date(2025, 12, 31)

# --- an independent implementation, written from the standards -------------------------
# GB 11643 / ISO 7064 MOD 11-2: weights W(i) = 2^(17-i) mod 11, written out as printed in
# the standard; check value = (12 - S mod 11) mod 11, where 10 is written X. (The module
# looks the check character up in "10X98765432" instead: the same map, another form.)
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_check(first17: str) -> str:
    s = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    v = (12 - s % 11) % 11
    return "X" if v == 10 else str(v)


# GB 32100: weights 3^i mod 31; check = (31 - S mod 31) mod 31, written as the character
# at that index of the 31-character alphabet (digits, then letters without I O S V Z).
USCC_ALPHABET = "0123456789" + "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IOSVZ")
USCC_WEIGHTS = [3**i % 31 for i in range(17)]


def uscc_check(first17: str) -> str:
    s = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[-s % 31]


def test_independent_tables_match_the_module() -> None:
    assert list(RESIDENT_WEIGHTS) == ID_WEIGHTS == [2 ** (17 - i) % 11 for i in range(17)]
    assert CREDIT_ALPHABET == USCC_ALPHABET == "0123456789ABCDEFGHJKLMNPQRTUWXY"
    assert list(CREDIT_WEIGHTS) == USCC_WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert len(PROVINCE_PREFIXES) == 34


# --- resident ID numbers of 邳州市 (320382), people born 1930 … 2005 --------------------
#
# 320382 19800101 001 (born 1980-01-01, sequence 001):
#   digits   3  2  0  3  8  2  1  9  8  0  0  1  0  1  0  0  1
#   weights  7  9 10  5  8  4  2  1  6  3  7  9 10  5  8  4  2
#   products 21 18  0 15 64  8  2  9 48  0  0  9  0  5  0  0  2
#   S = 21+18+0+15+64+8+2+9+48+0+0+9+0+5+0+0+2 = 201
#   201 mod 11 = 201 - 18*11 = 3;  (12 - 3) mod 11 = 9  →  320382198001010019
#
# 320382 19300315 012 (born 1930-03-15):
#   products 21 18  0 15 64  8  2  9 18  0  0 27 10 25  0  4  4
#   S = 225;  225 mod 11 = 225 - 20*11 = 5;  (12 - 5) mod 11 = 7  →  320382193003150127
#
# 320382 19550701 023 (born 1955-07-01):
#   products 21 18  0 15 64  8  2  9 30 15  0 63  0  5  0  8  6
#   S = 264;  264 mod 11 = 264 - 24*11 = 0;  (12 - 0) mod 11 = 1  →  320382195507010231
#
# 320382 20051231 046 (born 2005-12-31):
#   products 21 18  0 15 64  8  4  0  0 15  7 18 30  5  0 16 12
#   S = 233;  233 mod 11 = 233 - 21*11 = 2;  (12 - 2) mod 11 = 10 = X  →  32038220051231046X
PIZHOU = [
    ("32038219300315012", "7", date(1930, 3, 15), 12),
    ("32038219550701023", "1", date(1955, 7, 1), 23),
    ("32038219800101001", "9", date(1980, 1, 1), 1),
    ("32038220051231046", "X", date(2005, 12, 31), 46),
]


@pytest.mark.parametrize(("first17", "check", "birth", "seq"), PIZHOU)
def test_pizhou_numbers_of_any_birth_year_are_valid(first17: str, check: str, birth: date, seq: int) -> None:
    # python-stdnum 2.2 rejects the 1930, 1955 and 1980 ones: 320382 "did not exist" then.
    assert id_check(first17) == check  # the hand arithmetic above, by the independent code
    number = first17 + check
    result = check_resident_id(number, today=TODAY)
    assert result.ok, result.reason
    assert (result.value, result.code, result.reason) == (number, None, None)
    assert result.birth_date == birth
    assert result.region == "320382"
    assert result.sex == ("M" if seq % 2 else "F")  # the 17th digit: odd men, even women
    assert make_resident_id("320382", birth, seq) == number
    assert resident_id_check_char(first17) == check


def test_the_example_printed_in_gb_11643() -> None:
    assert id_check("11010519491231002") == "X"
    result = check_resident_id("11010519491231002X", today=TODAY)
    assert (result.ok, result.sex, result.birth_date) == (True, "F", date(1949, 12, 31))


def test_wrong_check_character_rejected() -> None:
    result = check_resident_id("320382198001010018", today=TODAY)  # should end in 9
    assert (result.ok, result.code) == (False, "check_digit")
    assert result.reason is not None and "9" in result.reason and "(" in result.reason
    assert result.birth_date is None and result.sex is None


@pytest.mark.parametrize("birth", ["19800230", "20251301", "19800000", "19810229"])
def test_impossible_birth_dates_rejected(birth: str) -> None:
    first17 = f"320382{birth}001"
    number = first17 + id_check(first17)  # a correct check character: only the date is wrong
    result = check_resident_id(number, today=TODAY)
    assert (result.ok, result.code) == (False, "birth_date")
    assert birth in (result.reason or "")


def test_future_and_pre_1900_birth_dates_rejected() -> None:
    first17 = "32038220260101001"
    number = first17 + id_check(first17)
    assert check_resident_id(number, today=date(2025, 12, 31)).code == "future"
    assert check_resident_id(number, today=date(2026, 1, 1)).ok  # born today is fine
    first17 = "32038218991231001"
    assert check_resident_id(first17 + id_check(first17), today=TODAY).code == "too_old"


def test_full_width_lower_case_and_spaces_normalised() -> None:
    assert normalise("３２０３８２\u3000２００５ １２３１ ０４６ｘ\n") == "32038220051231046X"
    for raw in (
        "３２０３８２２００５１２３１０４６Ｘ",  # full-width digits and letter
        "32038220051231046x",  # lower-case x
        " 320382 20051231 046X ",  # spaces a clerk typed to read it
        "320382\u300020051231\t046x",  # ideographic space and tab
        "\ufeff32038220051231046\u200bX",  # BOM and zero-width space from a web page
    ):
        result = check_resident_id(raw, today=TODAY)
        assert result.ok, (raw, result.reason)
        assert result.value == "32038220051231046X"


@pytest.mark.parametrize("cell", [3.20382198001011e17, "3.20382198001011E+17", "3.20382198001011e+17", "320382198001010000.0"])
def test_number_stored_as_float_reported(cell: object) -> None:
    result = check_resident_id(cell, today=TODAY)
    assert (result.ok, result.code) == (False, "float")
    assert result.reason == "身份证号被存为数字，后几位已丢失 (stored as a number: trailing digits lost)"


def test_legacy_15_digit_number_reported_as_length() -> None:
    result = check_resident_id("320382800101001", today=TODAY)
    assert (result.ok, result.code) == (False, "length")
    assert "15" in (result.reason or "") and "upgrade" in (result.reason or "")
    assert check_resident_id(320382800101001, today=TODAY).code == "length"  # an exact int too


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "length"),
        (None, "length"),
        (float("nan"), "length"),  # an empty pandas cell
        ("3203821980010100199", "length"),
        ("32038219800101001A", "chars"),
        ("3203821980O101001X", "chars"),
        (True, "length"),
        ("000382198001010019", "region"),
        ("990382198001010019", "region"),
    ],
)
def test_malformed_numbers_never_raise(raw: object, code: str) -> None:
    result = check_resident_id(raw, today=TODAY)
    assert (result.ok, result.code) == (False, code)
    assert result.reason and "(" in result.reason  # Chinese first, English in brackets


def test_region_checks_only_the_province_prefix() -> None:
    # City-level (320300 徐州市) and Taiwan residence-permit (830000) codes are accepted.
    for region in ("320300", "320382", "830000", "810000"):
        assert check_resident_id(make_resident_id(region, date(1980, 1, 1), 1), today=TODAY).ok


def test_make_resident_id_refuses_bad_arguments() -> None:
    for args in (("990382", date(1980, 1, 1), 1), ("32038", date(1980, 1, 1), 1),
                 ("320382", date(1899, 12, 31), 1), ("320382", date(1980, 1, 1), 1000),
                 ("320382", date(1980, 1, 1), -1)):  # fmt: skip
        with pytest.raises(ValueError):
            make_resident_id(*args)


DIGIT_POSITIONS = st.integers(min_value=0, max_value=16)


@given(
    prefix=st.sampled_from(sorted(PROVINCE_PREFIXES)),
    rest=st.integers(min_value=0, max_value=9999),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    seq=st.integers(min_value=0, max_value=999),
    position=DIGIT_POSITIONS,
    shift=st.integers(min_value=1, max_value=9),
)
def test_made_numbers_validate_and_any_single_digit_error_is_caught(
    prefix: str, rest: int, birth: date, seq: int, position: int, shift: int
) -> None:
    number = make_resident_id(f"{prefix}{rest:04d}", birth, seq)
    assert check_resident_id(number, today=TODAY).ok
    assert number[17] == id_check(number[:17])
    # Change one digit of the first 17: the sum changes by W(i)·d with 0 < |d| ≤ 9 < 11 and
    # W(i) ≢ 0 (mod 11), so S mod 11 always changes and with it the check character.
    digit = (int(number[position]) + shift) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    assert resident_id_check_char(changed[:17]) != number[17]
    assert not check_resident_id(changed, today=TODAY).ok


# --- unified social credit codes ---------------------------------------------------------
#
# 91320382MA1WXY7K (9 市场监管, 1 企业, 320382 邳州市, then an organisation code):
#   chars    9  1  3  2  0  3  8  2  M  A  1  W  X  Y  7  K  3
#   values   9  1  3  2  0  3  8  2 21 10  1 28 29 30  7 19  3   (index in the alphabet)
#   weights  1  3  9 27 19 26 16 17 20 29 25 13  8 24 10 30 28
#   products 9  3 27 54  0 78 128 34 420 290 25 364 232 720 70 570 84
#   S = 3108;  3108 mod 31 = 3108 - 100*31 = 8;  (31 - 8) mod 31 = 23 → alphabet[23] = P
#   → 91320382MA1WXY7K3P
#
# A, N and Y registration authorities (GB 32100 allows them; python-stdnum rejects them):
#   A1100000MB1952785: S = 1441, 1441 mod 31 = 15, (31 - 15) mod 31 = 16 → G
#   N2320382MF4Q8H1L0: S = 2698, 2698 mod 31 = 1,  (31 - 1) mod 31 = 30  → Y
#   Y1320382MC7D9E2P5: S = 2724, 2724 mod 31 = 27, (31 - 27) mod 31 = 4  → 4
CREDIT_CODES = [
    ("91320382MA1WXY7K3", "P"),
    ("A1100000MB1952785", "G"),
    ("N2320382MF4Q8H1L0", "Y"),
    ("Y1320382MC7D9E2P5", "4"),
]


@pytest.mark.parametrize(("first17", "check"), CREDIT_CODES)
def test_valid_credit_codes(first17: str, check: str) -> None:
    assert uscc_check(first17) == check
    code = first17 + check
    result = check_credit_code(code)
    assert (result.ok, result.value, result.code, result.legacy) == (True, code, None, False)
    assert make_credit_code(first17) == code
    assert make_credit_code(first17.lower()) == code
    assert credit_code_check_char(first17) == check
    assert check_credit_code(f" {code.lower()[:9]}\u3000{code[9:]}").ok


def test_a_published_credit_code_validates() -> None:
    assert check_credit_code("91350100M000100Y43").ok  # the example used in GB 32100 guidance


@pytest.mark.parametrize("bad", ["I", "O"])
def test_credit_code_with_i_or_o_rejected(bad: str) -> None:
    code = "91320382MA1WXY7K3P".replace("X", bad)
    result = check_credit_code(code)
    assert (result.ok, result.code, result.legacy) == (False, "chars", False)
    assert bad in (result.reason or "")


def test_wrong_credit_check_character_is_flagged_as_legacy() -> None:
    result = check_credit_code("91320382MA1WXY7K3Q")  # should end in P
    assert (result.ok, result.code, result.legacy) == (False, "check_digit", True)
    assert result.reason == "统一社会信用代码校验位不符，疑为历史代码，需人工确认 (check character fails: possibly a legacy code, confirm by hand)"
    assert result.value == "91320382MA1WXY7K3Q"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "length"),
        (None, "length"),
        ("91320382MA1WXY7K3", "length"),
        ("01320382MA1WXY7K3P", "authority"),
        ("B1320382MA1WXY7K3P", "authority"),
        (9.13203821e17, "float"),
    ],
)
def test_malformed_credit_codes(raw: object, code: str) -> None:
    result = check_credit_code(raw)
    assert (result.ok, result.code, result.legacy) == (False, code, False)


def test_make_credit_code_refuses_bad_input() -> None:
    for first17 in ("91320382MA1WXY7K", "91320382MA1WXY7KI", "01320382MA1WXY7K3"):
        with pytest.raises(ValueError):
            make_credit_code(first17)


# --- masking (脱敏) ------------------------------------------------------------------


def test_masking_examples() -> None:
    assert mask_id("320382198001010019") == "320382********0019"
    assert mask_id("32038220051231046x") == "320382********046X"
    assert mask_id("320382800101001") == "32***********01"  # other lengths: 2 + stars + 2
    assert mask_phone("13812341234") == "138****1234"
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳 娜娜") == "欧***"


@pytest.mark.parametrize("mask", [mask_id, mask_phone, mask_name])
def test_masking_never_raises(mask: Callable[[object], str]) -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError

    assert mask(None) == ""
    assert mask("") == ""
    assert set(mask("张")) == {"*"}  # too short to keep anything
    for odd in (3.20382198001011e17, 13812341234, b"\xff\xfe", Broken(), [1, 2], "\u3000"):
        assert isinstance(mask(odd), str)
