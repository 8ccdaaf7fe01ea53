"""SQL text shared by the pipeline (`hrss.stats.compute`) and the rejects table: the checks
every ledger row goes through, and dates and months as SQL. Plain ANSI SQL that DuckDB and
Spark both run (docs/ARCHITECTURE.md lists the portable spellings)."""

from __future__ import annotations

import calendar
from datetime import date

from hrss.ledgers.identifiers import REGION_PREFIXES, RESIDENT_CHECK_CHARS, RESIDENT_WEIGHTS
from hrss.ledgers.quality import LATER_DATES, OPTIONAL, SPELL_FLOOR
from hrss.ledgers.schema import LEDGERS

# Full-width digits, x and spaces → ASCII; the two spaces have no counterpart and are dropped.
_NORMAL_FROM = "０１２３４５６７８９ｘＸx　 "
_NORMAL_TO = "0123456789XXX"


def normalised(col: str) -> str:
    return f"upper(translate({col}, '{_NORMAL_FROM}', '{_NORMAL_TO}'))"


def id_valid_sql(col: str, today: date) -> str:
    """SQL that is true when the (normalised) text in col is a valid resident ID number.

    Digits are read with instr('0123456789', c) - 1 rather than CAST, so that a stray
    character makes the row invalid instead of failing the query on either engine."""

    def dig(i: int) -> str:  # the digit at 1-based position i, or -1
        return f"(instr('0123456789', substr({col}, {i}, 1)) - 1)"

    digits = " AND ".join(f"{dig(i)} >= 0" for i in range(1, 18))
    total = " + ".join(f"{dig(i + 1)} * {w}" for i, w in enumerate(RESIDENT_WEIGHTS))
    year = f"({dig(7)} * 1000 + {dig(8)} * 100 + {dig(9)} * 10 + {dig(10)})"
    mon = f"({dig(11)} * 10 + {dig(12)})"
    day = f"({dig(13)} * 10 + {dig(14)})"
    leap = f"(({year} % 4 = 0 AND {year} % 100 <> 0) OR {year} % 400 = 0)"
    month_days = f"CASE WHEN {mon} IN (4, 6, 9, 11) THEN 30 WHEN {mon} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END ELSE 31 END"
    prefixes = ", ".join(f"'{p}'" for p in sorted(REGION_PREFIXES))
    return (
        f"length({col}) = 18 AND {digits} AND substr({col}, 1, 2) IN ({prefixes}) "
        f"AND substr('{RESIDENT_CHECK_CHARS}', ({total}) % 11 + 1, 1) = substr({col}, 18, 1) "
        f"AND {year} >= 1900 AND {mon} BETWEEN 1 AND 12 AND {day} >= 1 AND {day} <= {month_days} "
        f"AND {year} * 10000 + {mon} * 100 + {day} <= {today.year * 10000 + today.month * 100 + today.day}"
    )


def id_key(col: str) -> str:
    """The text in col as `persons_ok` holds ID numbers: col itself when it is plain ASCII
    without spaces or a lower-case x, else normalised(col).

    For every text whose normalised form is a valid ID number this equals normalised(col)
    (plain ASCII without x or spaces normalises only by upper-casing, which changes nothing
    in digits and X), so looking it up in `persons_ok` gives the same answer; but translate()
    — by far the slowest step of cleaning — runs only for the few rows that need it."""
    return (
        f"CASE WHEN bit_length({col}) = 8 * length({col}) AND instr({col}, ' ') = 0 AND instr({col}, 'x') = 0 "
        f"THEN {col} ELSE {normalised(col)} END"
    )


def _digits(n: str, a: int, b: int) -> str:
    """Digits a..b (1-based) of the 17-digit BIGINT n, as an exact DOUBLE: `/` divides in
    DOUBLE on both engines, and dividend (digits × 10^k) and divisor are exact in DOUBLE."""
    low = 10 ** (17 - b)
    return f"(({n} % {10 ** (18 - a)} - {n} % {low}) / {low})"


def person_ids_sql(today: date, among: str | None = None) -> str:
    """`persons_ok`: (id_number, pk) of the register's valid ID numbers — with `among` (a
    query of one column of ID numbers as `id_key` gives them), only of those numbers.

    The same rules as id_valid_sql (normalised, GB 11643: 17 digits, a known province
    prefix, a real birth date not after today, the MOD 11-2 check character), laid out in
    steps so that each is computed once per row: the first 17 characters are read as one
    number with TRY_CAST — kept only if it prints back as exactly those characters, so
    signs, spaces, exponents and the like never pass — and digits, birth date and the
    weighted sum are arithmetic on it. pk, that number, identifies a valid ID number (its
    check character follows from it), so grouping by person later is on an integer."""
    weighted = " + ".join(f"{_digits('n', i + 1, i + 1)} * {w}" for i, w in enumerate(RESIDENT_WEIGHTS))
    keyed = f"SELECT {id_key('id_number')} AS p FROM persons WHERE id_number IS NOT NULL"
    if among is not None:
        keyed = f"SELECT p FROM ({keyed}) r WHERE p IN ({among})"
    first17 = f"SELECT p, substr(p, 1, 17) AS f FROM ({keyed}) a"  # once: a 17-byte string is not inlined
    cast = f"SELECT p, f, TRY_CAST(f AS BIGINT) AS t FROM ({first17}) b"
    number = f"SELECT p, CASE WHEN length(p) = 18 AND CAST(t AS STRING) = f THEN t END AS n, substr(p, 18, 1) AS c FROM ({cast}) c"
    # (so a kept p is exactly the 17 digits of n and its check character)
    fields = ", ".join(
        f"CAST({expr} AS INTEGER) AS {name}"
        for name, expr in (("pre", _digits("n", 1, 2)), ("y", _digits("n", 7, 10)), ("mo", _digits("n", 11, 12)),
                           ("dy", _digits("n", 13, 14)), ("s", f"({weighted})"))
    )  # fmt: skip
    parts = f"SELECT p, n, c, {fields} FROM ({number}) e"
    prefixes = ", ".join(str(int(p)) for p in sorted(REGION_PREFIXES))
    leap = "((y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0)"
    month_days = f"CASE WHEN mo IN (4, 6, 9, 11) THEN 30 WHEN mo = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END ELSE 31 END"
    valid = (
        f"SELECT p, n FROM ({parts}) d WHERE pre IN ({prefixes}) "
        f"AND substr('{RESIDENT_CHECK_CHARS}', s % 11 + 1, 1) = c "
        f"AND y >= 1900 AND mo BETWEEN 1 AND 12 AND dy >= 1 AND dy <= {month_days} "
        f"AND y * 10000 + mo * 100 + dy <= {today.year * 10000 + today.month * 100 + today.day}"
    )
    # A number the register holds
    # twice is kept twice, on purpose: every measure counts each ledger key once (COUNT DISTINCT,
    # MAX or MIN per key), so the repeated event rows the join makes for it change nothing, and
    # de-duplicating 10M numbers would cost more than it saves.
    return f"SELECT p AS id_number, n AS pk FROM ({valid}) v"


def complete_sql(ledger: str) -> str:
    """True when no required field of the ledger's row is empty (as the quality report counts)."""
    conds = []
    for col in LEDGERS[ledger].columns:
        when = OPTIONAL.get((ledger, col.name))
        conds.append(f"NOT ({col.name} IS NULL AND ({when}))" if when else f"{col.name} IS NOT NULL")
    return " AND ".join(conds)


def dates_ok_sql(ledger: str, start: date, end: date) -> str:
    """True when the row's own dates are possible (as the quality report checks them),
    whatever date a measure counts by: an event inside the plan period [start, end], a
    second date (end_date, closed_date) not before the event nor after the period; a
    spell starting from SPELL_FLOOR and ending after it starts."""
    spec = LEDGERS[ledger]
    last = date_literal(end)
    if spec.kind == "spells":
        return (f"start_date >= {date_literal(SPELL_FLOOR)} AND start_date <= {last} "
                f"AND (end_date IS NULL OR (end_date > start_date AND end_date <= {last}))")  # fmt: skip
    out = f"event_date >= {date_literal(start)} AND event_date <= {last}"
    if later := LATER_DATES.get(ledger):
        column = later.split()[0]
        out += f" AND ({column} IS NULL OR (NOT ({later}) AND {column} <= {last}))"
    return out


def month_key(col: str) -> str:
    return f"(year({col}) * 12 + month({col}) - 1)"


def date_literal(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def month_end(index: int) -> date:
    y, m = divmod(index, 12)
    return date(y, m + 1, calendar.monthrange(y, m + 1)[1])


def month_start(index: int) -> date:
    y, m = divmod(index, 12)
    return date(y, m + 1, 1)
