"""Masking of free text (脱敏): ID numbers and mobile numbers inside comments, notes, names."""

from __future__ import annotations

import pytest

from hrss.ledgers.masking import mask_json, mask_json_text, mask_text


@pytest.mark.parametrize(("raw", "shown"), [
    # an ID number inside Chinese text, no spaces around it
    ("经核实身份证号320382198001010019的人员已就业", "经核实身份证号320382********0019的人员已就业"),
    ("身份证32038220051231046x，", "身份证320382********046X，"),  # lower-case x check character
    ("320382 19800101 0019", "320382********0019"),  # grouped 6-8-4
    ("旧证号320382800101001", "旧证号32***********01"),  # the old 15-digit number, as mask_id masks it
    # mainland mobile numbers
    ("联系人王小明，电话13812341234。", "联系人王小明，电话138****1234。"),
    ("手机：139-1234-5678", "手机：139****5678"),
    ("手机 139 1234 5678 转人事科", "手机 139****5678 转人事科"),
    ("+8613812341234", "+86138****1234"),
    ("0086 13812341234", "0086 138****1234"),
    ("手机１３８１２３４１２３４", "手机138****1234"),  # full-width digits from a Chinese input method
    ("ID:320382198001010019/13812341234", "ID:320382********0019/138****1234"),
    ("退回：请核对13812341234与320382198001010019两处", "退回：请核对138****1234与320382********0019两处"),
])
def test_ids_and_phones_in_free_text_are_masked(raw: str, shown: str) -> None:
    assert mask_text(raw) == shown
    assert mask_text(shown) == shown  # masking twice changes nothing


@pytest.mark.parametrize("kept", [
    "电话138123412345",  # a phone followed by a digit: 12 digits, not a phone
    "编号913812341234",  # a digit before it: not a phone either
    "12812341234",  # 1 then 2: no mainland mobile starts 12
    "完成率38.03%，较2025-12提高0.5个百分点，2021—2025年",  # indicator values, periods, years
    "城镇新增就业37.5万人，累计1381234人次",
    "银行卡6222021234567890123",  # 19 digits: not an ID number
    "3.14159265358979323",  # the decimals of a number
    "13812341234.5",  # a number with a fraction, not a phone
    "3203821980010100",  # 16 digits
    "",
])
def test_other_numbers_are_kept(kept: str) -> None:
    assert mask_text(kept) == kept


def test_mask_text_takes_anything() -> None:
    assert mask_text(None) == ""
    assert mask_text(13812341234) == "138****1234"
    assert mask_text(38.03) == "38.03"


def test_mask_json_masks_free_text_wherever_it_stands() -> None:
    after = {"status": "returned", "comment": "请联系13812341234核对", "counted": {"I01": 38.03},
             "display_name": "张三（320382198001010019）", "rows": [1, "身份证320382198001010019"], "n": 13812341234}
    assert mask_json(after) == {
        "status": "returned", "comment": "请联系138****1234核对", "counted": {"I01": 38.03},
        "display_name": "张三（320382********0019）", "rows": [1, "身份证320382********0019"],
        "n": 13812341234,  # a number under a key that names nothing personal stays a number
    }
    assert mask_json_text('{"note": "电话13812341234"}') == {"note": "电话138****1234"}
    assert mask_json_text("not json 13812341234") == "not json 138****1234"
    assert mask_json_text(None) is None
