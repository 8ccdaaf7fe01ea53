"""Units as the seed states them (万人, 人, 万人次, %, 场次, 万元) and conversion between them."""

from __future__ import annotations

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "人": ("persons", 1.0),
    "万人": ("persons", 10_000.0),
    "人次": ("person_times", 1.0),
    "万人次": ("person_times", 10_000.0),
    "元": ("money", 1.0),
    "万元": ("money", 10_000.0),
    "亿元": ("money", 100_000_000.0),
    "场次": ("events", 1.0),
    "场": ("events", 1.0),
    "家": ("organisations", 1.0),
    "个": ("items", 1.0),
    "%": ("percent", 1.0),
}

# how English pages and messages name each unit
UNIT_EN: dict[str, str] = {
    "万人": "10k persons", "人": "persons", "万人次": "10k person-times", "人次": "person-times",
    "万元": "10k yuan", "亿元": "100m yuan", "元": "yuan", "场次": "events", "场": "events", "家": "organisations",
    "个": "items", "%": "%",
}

# units that count whole things: a figure in one of them is a whole number
WHOLE_UNITS = frozenset({"人", "人次", "场次", "场", "家", "个"})


def decimals(unit: str) -> int:
    """Digits after the point a figure in unit is typed and shown with: none for a count,
    two for a percentage, four for 万/亿 units (1 人 of 万人), two otherwise."""
    if unit in WHOLE_UNITS:
        return 0
    if unit.startswith(("万", "亿")):
        return 4
    return 2


def tidy(value: float, unit: str) -> float:
    """value rounded to the digits of unit: 293.0000000000001 人 → 293, 1.01040000001 万人 → 1.0104."""
    return round(value, decimals(unit)) + 0.0  # + 0.0: no "-0"


def number_text(value: float, unit: str) -> str:
    """value's digits in unit, no trailing zeros: 293.0000000000001 人 → '293'."""
    text = f"{tidy(value, unit):.{decimals(unit)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# Digits beyond a unit's own that a stored figure keeps when it is written back as text:
# enough for any figure typed or imported, few enough to drop float noise (0.1 + 0.2).
EXTRA_DIGITS = 6


def exact_text(value: float, unit: str) -> str:
    """Every digit value holds in unit, float noise trimmed, for text that is read back
    (a form's prefilled input, the audit log): 95.456 % → '95.456', where number_text
    gives '95.46'; 1.01039999999 万人 in 人 → '10104'."""
    places = decimals(unit) + EXTRA_DIGITS
    text = f"{round(value, places) + 0.0:.{places}f}"
    return text.rstrip("0").rstrip(".")


def shown(value: float, unit: str) -> str:
    """value as an operator reads it in unit: '3100 人', '1.0104 万人', '95.5%'."""
    return _with_unit(number_text(value, unit), unit)


def exact_shown(value: float, unit: str) -> str:
    """value with every digit it holds and its unit: '95.456%', '3100 人'."""
    return _with_unit(exact_text(value, unit), unit)


def shown_en(value: float, unit: str) -> str:
    """shown, with the unit in English: '3100 persons', '95.5%'."""
    return _with_unit(number_text(value, unit), unit, UNIT_EN.get(unit, unit))


def _with_unit(text: str, unit: str, word: str | None = None) -> str:
    return f"{text}{unit}" if unit == "%" else f"{text} {word or unit}"


class UnitError(ValueError):
    pass


def factor(from_unit: str, to_unit: str) -> float:
    """Multiply a value in from_unit by this to express it in to_unit."""
    if from_unit == to_unit:
        return 1.0
    try:
        dim_a, fa = UNITS[from_unit]
        dim_b, fb = UNITS[to_unit]
    except KeyError as exc:
        raise UnitError(f"未知单位 (unknown unit): {exc.args[0]}") from exc
    if dim_a != dim_b:
        raise UnitError(f"单位不可换算 (units not convertible): {from_unit} → {to_unit}")
    return fa / fb


def convert(value: float, from_unit: str, to_unit: str) -> float:
    return value * factor(from_unit, to_unit)
