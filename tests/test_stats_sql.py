"""The SQL side of 实名制自动统计: the ID number check in SQL agrees with the Python one,
and the definitions file is checked before anything runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hrss.ledgers.identifiers import check_resident_id, make_resident_id, resident_id_check_char
from hrss.stats.definitions import DefinitionError, check_condition, load_definitions
from hrss.stats.engines import DuckDBEngine
from hrss.stats.sql import id_valid_sql, normalised, person_ids_sql

TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def duck():
    engine = DuckDBEngine(threads=1)
    yield engine
    engine.close()


def sql_valid(engine: DuckDBEngine, ids: list[str]) -> list[bool]:
    engine.register_rows("ids", [("i", "BIGINT"), ("id_number", "VARCHAR")], list(enumerate(ids)))
    col = normalised("id_number")
    rows = engine.query(f"SELECT i, COALESCE({id_valid_sql(col, TODAY)}, FALSE) FROM ids ORDER BY i")
    return [bool(ok) for _, ok in rows]


def test_known_numbers(duck):
    # 320382 (邳州市) + 19800101 + 001: weighted sum of 3,2,0,3,8,2,1,9,8,0,0,1,0,1,0,0,1 with
    # weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 = 21+18+0+15+64+8+2+9+48+0+0+9+0+5+0+0+2 = 201;
    # 201 mod 11 = 3 → check character "10X98765432"[3] = "9".
    assert resident_id_check_char("32038219800101001") == "9"
    cases = {
        "320382198001010019": True,
        "320382198001010018": False,  # wrong check character
        "32038219800101001x": False,  # lower-case x is normalised, but 9 is the right character
        "３２０３８２１９８００１０１００１９": True,  # full-width digits are normalised
        "320382 19800101 0019": True,  # spaces are dropped
        "320382199902300013": False,  # 30 February
        "990382198001010019": False,  # no province 99
        "32038219800101001": False,  # 17 characters
        "3.20382198001011e+17": False,  # a number stored as a float
        "320382202701010010": False,  # born after today
    }
    assert sql_valid(duck, list(cases)) == list(cases.values())


def test_leap_days(duck):
    # 2000 is a leap year (divisible by 400), 1900 is not (divisible by 100 but not 400)
    ok = make_resident_id("320302", date(2000, 2, 29), 11)
    first17 = "32030219000229011"
    bad = first17 + resident_id_check_char(first17)
    assert sql_valid(duck, [ok, bad]) == [True, False]


# valid numbers from Xuzhou and elsewhere, born in any year since 1930
VALID_IDS = st.builds(
    make_resident_id,
    st.sampled_from(["320321", "320382", "320302", "371302", "110101", "830000"]),
    st.dates(date(1930, 1, 1), date(2025, 12, 31)),
    st.integers(0, 999),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            VALID_IDS,
            st.text(alphabet="0123456789Xx ", min_size=15, max_size=19),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_sql_check_agrees_with_python(ids):
    engine = DuckDBEngine(threads=1)
    try:
        expected = [check_resident_id(i, today=TODAY).ok for i in ids]
        assert sql_valid(engine, ids) == expected
    finally:
        engine.close()


TRICKY = ["32038219900101e+3X", "+3203821990010100X", " 320382199001010019", "3203821990.1010019",
          "32038219900101_000", "3.20382199001010E+17", "320382199001010019"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            VALID_IDS,
            st.text(alphabet="0123456789Xx e+._", min_size=15, max_size=19),
            st.sampled_from(TRICKY),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_register_check_agrees_with_python(ids):
    """person_ids_sql, the check the pipeline runs on the register (digits as arithmetic on one
    TRY_CAST number), keeps exactly the numbers the Python checker accepts, each as its
    normalised text with pk = its first 17 digits."""
    engine = DuckDBEngine(threads=1)
    try:
        engine.register_rows("persons", [("id_number", "VARCHAR")], [(i,) for i in ids])
        rows = engine.query(person_ids_sql(TODAY))
    finally:
        engine.close()
    checked = [check_resident_id(i, today=TODAY) for i in ids]
    assert sorted(r[0] for r in rows) == sorted(c.value for c in checked if c.ok)
    assert all(pk == int(text[:17]) for text, pk in rows)


def test_shipped_definitions_are_valid(plan):
    defs = load_definitions(plan)
    codes = [d.indicator for d in defs]
    # every 表2 indicator but none (all 19 are derivable), plus the annex's guaranteed loans
    assert codes == [f"I{n:02d}" for n in range(1, 20)] + ["A05"]
    for d in defs:
        assert d.caliber
        assert d.is_rate == next(i for i in plan.indicators if i.code == d.indicator).is_rate


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"indicator": "I99"}, "规划中没有指标"),
        ({"value": {"kind": "count", "ledger": "nope", "date": "event_date", "unit": "人"}}, "没有台账"),
        ({"value": {"kind": "count", "ledger": "training", "date": "birthday", "unit": "人"}}, "没有列"),
        ({"value": {"kind": "tally", "ledger": "training", "date": "event_date", "unit": "人"}}, "unknown kind"),
        ({"value": {"kind": "count", "ledger": "training", "date": "event_date", "unit": "斤"}}, "未知单位"),
        (
            {"value": {"kind": "count", "ledger": "training", "date": "event_date", "unit": "人", "where": "1=1; DROP TABLE x"}},
            "不允许的字符",
        ),
        (
            {"value": {"kind": "count", "ledger": "training", "date": "event_date", "unit": "人", "where": "pg_sleep(1)"}},
            "未知列或关键字",
        ),
        ({"caliber": ""}, "口径说明不能为空"),
    ],
)
def test_bad_definitions_are_refused(plan, tmp_path: Path, change, message):
    good = {
        "indicator": "I05",
        "caliber": "补贴性培训人次",
        "value": {"kind": "count", "ledger": "training", "where": "subsidised", "date": "event_date", "unit": "人次"},
    }
    path = tmp_path / "definitions.yaml"
    path.write_text(yaml.safe_dump({"definitions": [{**good, **change}]}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError, match=message) as info:
        load_definitions(plan, path)
    assert "definitions.yaml 第1项" in str(info.value)


def test_rate_needs_numerator_and_denominator(plan, tmp_path: Path):
    path = tmp_path / "d.yaml"
    path.write_text(
        yaml.safe_dump({"definitions": [{"indicator": "I19", "caliber": "好评率", "value": {"kind": "count", "ledger": "training", "date": "event_date", "unit": "个"}}]}),
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError, match="比率指标需要"):
        load_definitions(plan, path)


def test_condition_words():
    check_condition("kind = 'employment' AND loan_wan_yuan > 0 OR x IS NOT NULL", {"kind", "loan_wan_yuan", "x"}, "w")
    check_condition("rating IN ('非常满意', '满意')", {"rating"}, "w")
    with pytest.raises(DefinitionError):
        check_condition("kind = 'a' -- comment", {"kind"}, "w")
    with pytest.raises(DefinitionError):
        check_condition("kind = \"a\"", {"kind"}, "w")
