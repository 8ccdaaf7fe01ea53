"""Collection workflow through the web: enter, validate, submit, return, approve, lock, 409."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrss.audit.service import Origin
from hrss.audit.tables import AuditEvent
from hrss.auth.service import create_user, get_user
from hrss.db import make_engine, transaction
from hrss.monitoring import workflow as wf
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token, sign_in

USERS = {
    "peixian": ("district_operator", "沛县"),
    "fengxian": ("district_operator", "丰县"),
    "tongji": ("city_statistician", None),
    "tongji2": ("city_statistician", None),
    "shiji": ("district_operator", "徐州市"),
    "lingdao": ("leader", None),
}


_token = csrf_token


def _version(html: str) -> str:
    return re.search(r'name="version" value="([^"]*)"', html).group(1)


@pytest.fixture
def app_url(db_url: str) -> Iterator[str]:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        for name, (role, unit) in USERS.items():
            create_user(s, username=name, display_name=name, role=role, org_unit=unit, plan=plan,
                        settings=settings, password=PASSWORD)
    engine.dispose()
    yield db_url


def _client(db_url: str, username: str) -> TestClient:
    c = TestClient(create_app(Settings(database_url=db_url)))
    c.__enter__()
    sign_in(c, username)
    return c


def _post_entry(c: TestClient, values: dict[str, str], action: str = "save", comment: str = "", org: str = "沛县", period: str = "2024-03"):
    page = c.get("/entry", params={"org": org, "period": period})
    data = {"csrf_token": _token(page.text), "org": org, "period": period, "version": _version(page.text),
            "action": action, "comment": comment, **{f"value__{k}": v for k, v in values.items()}}
    return c.post("/entry", data=data, follow_redirects=False)


def _actual(c: TestClient, code: str, org: str, as_of: str) -> float | None:
    data = c.get("/api/v1/evaluation", params={"as_of": as_of, "org": org, "indicator": code}).json()
    return data["results"][0]["actual"]


def test_enter_submit_return_approve_and_lock(app_url: str) -> None:
    op, stat = _client(app_url, "peixian"), _client(app_url, "tongji")
    form = op.get("/entry")
    assert form.status_code == 200 and "沛县" in form.text and "城镇新增就业人数" in form.text and "未填报" in form.text
    # a bad cell: refused with the row and reason, nothing stored
    bad = _post_entry(op, {"I01": "三百", "I04": "120"})
    assert bad.status_code == 400 and "不是有效数字" in bad.text and "三百" in bad.text
    assert "未填报" in op.get("/entry", params={"org": "沛县", "period": "2024-03"}).text
    # a draft does not count yet
    assert _post_entry(op, {"I01": "2000", "I04": "120"}).status_code == 303
    assert "草稿" in op.get("/entry", params={"org": "沛县", "period": "2024-03"}).text
    assert _actual(stat, "I01", "沛县", "2024-03") is None
    # rule R01: a month's flow at most half the annual target (沛县 2024: 3500 人 → 1750)
    refused = _post_entry(op, {}, action="submit")
    assert refused.status_code == 422 and "月度流量不得超过本单位年度目标的一半" in refused.text
    assert _post_entry(op, {"I01": "300", "I04": "120"}, action="submit").status_code == 303
    assert "待审核" in op.get("/entry", params={"org": "沛县", "period": "2024-03"}).text
    # the statistician returns it once with a comment, then approves the corrected figures
    sub_id = re.search(r'href="/review/(\d+)"', stat.get("/review").text).group(1)
    page = stat.get(f"/review/{sub_id}")
    returned = stat.post(f"/review/{sub_id}", data={"csrf_token": _token(page.text), "version": _version(page.text), "action": "return", "comment": "创业人数请核实"}, follow_redirects=False)
    assert returned.status_code == 303
    again = op.get("/entry", params={"org": "沛县", "period": "2024-03"})
    assert "已退回" in again.text and "创业人数请核实" in again.text
    assert _post_entry(op, {"I01": "300", "I04": "150"}, action="submit", comment="已核实").status_code == 303
    page = stat.get(f"/review/{sub_id}")
    ok = stat.post(f"/review/{sub_id}", data={"csrf_token": _token(page.text), "version": _version(page.text), "action": "approve"}, follow_redirects=False)
    assert ok.status_code == 303
    # approved: counts at once (300 人 = 0.03 万人), and is locked for the district
    assert _actual(stat, "I01", "沛县", "2024-03") == pytest.approx(0.03)
    assert _actual(stat, "I04", "沛县", "2024-03") == pytest.approx(0.015)
    locked = _post_entry(op, {"I01": "400"})
    assert locked.status_code == 409 and "不能修改" in locked.text
    engine = make_engine(app_url)
    with transaction(engine) as s:
        actions = [a for (a,) in s.execute(select(AuditEvent.action).order_by(AuditEvent.id))]
    engine.dispose()
    assert [a for a in actions if a.startswith("submission.")] == [
        "submission.submitted", "submission.return", "submission.submitted", "submission.approve"]
    assert actions.count("value.saved") == 3
    for c in (op, stat):
        c.__exit__(None, None, None)


def test_stale_page_gets_409_with_both_values(app_url: str) -> None:
    a, b = _client(app_url, "peixian"), _client(app_url, "peixian")
    assert _post_entry(a, {"I01": "300"}).status_code == 303
    stale = b.get("/entry", params={"org": "沛县", "period": "2024-03"})
    assert _post_entry(a, {"I01": "320"}).status_code == 303  # a saves again: version moves on
    data = {"csrf_token": _token(stale.text), "org": "沛县", "period": "2024-03", "version": _version(stale.text),
            "action": "save", "value__I01": "350"}
    clash = b.post("/entry", data=data, follow_redirects=False)
    assert clash.status_code == 409
    table = re.search(r'<table class="grid" id="clashes">(.*?)</table>', clash.text, re.S).group(1)
    assert "350" in table and "320" in table  # yours and theirs, side by side
    assert "320" in a.get("/entry", params={"org": "沛县", "period": "2024-03"}).text  # nothing overwritten
    for c in (a, b):
        c.__exit__(None, None, None)


def test_units_and_roles_are_enforced_on_write(app_url: str) -> None:
    other, leader = _client(app_url, "fengxian"), _client(app_url, "lingdao")
    page = other.get("/entry")
    assert "丰县" in page.text
    forged = other.post("/entry", data={"csrf_token": _token(page.text), "org": "沛县", "period": "2024-03", "version": "", "action": "save", "value__I01": "1"})
    assert forged.status_code == 403
    assert other.get("/entry", params={"org": "沛县"}).status_code == 403  # may not even read 沛县's drafts
    assert leader.get("/entry").status_code == 403
    assert leader.get("/review").status_code == 403
    for c in (other, leader):
        c.__exit__(None, None, None)


def test_excel_template_round_trip_with_a_bad_cell(app_url: str, tmp_path) -> None:
    import io

    import openpyxl

    op = _client(app_url, "peixian")
    page = op.get("/entry", params={"org": "沛县", "period": "2024-05"})
    got = op.get("/entry/template.xlsx", params={"org": "沛县", "period": "2024-05"})
    assert got.status_code == 200 and got.content[:2] == b"PK"
    wb = openpyxl.load_workbook(io.BytesIO(got.content))
    ws = wb["填报"]
    assert ws.protection.sheet and [c.value for c in ws[1]][:6] == ["指标", "指标名称", "地区", "期间", "计量单位", "数值"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    assert ws.cell(rows["I01"], 5).value == "人" and ws.cell(rows["I01"], 3).value == "沛县"
    assert ws.cell(rows["I01"], 6).protection.locked is False and ws.cell(rows["I01"], 2).protection.locked is True
    ws.cell(rows["I01"], 6).value = "二百"  # the bad cell
    ws.cell(rows["I04"], 6).value = 110

    def upload(workbook: openpyxl.Workbook):
        buf = io.BytesIO()
        workbook.save(buf)
        form = op.get("/entry", params={"org": "沛县", "period": "2024-05"})
        return op.post("/entry/upload", data={"csrf_token": _token(form.text), "org": "沛县", "period": "2024-05", "version": _version(form.text)},
                       files={"file": ("沛县.xlsx", buf.getvalue(), "application/octet-stream")}, follow_redirects=False)

    bad = upload(wb)
    assert bad.status_code == 400
    cell = f"F{rows['I01']}"
    assert f'data-cell="{cell}"' in bad.text and "不是有效数字" in bad.text
    assert "未填报" in op.get("/entry", params={"org": "沛县", "period": "2024-05"}).text  # nothing stored
    ws.cell(rows["I01"], 6).value = 280
    fixed = upload(wb)
    assert fixed.status_code == 303, re.findall(r'<li data-row[^>]*>(.*?)</li>', fixed.text)
    after = op.get("/entry", params={"org": "沛县", "period": "2024-05"}).text
    assert "草稿" in after and 'value="280"' in after and 'value="110"' in after
    # a macro workbook, a formula and an oversized file are refused
    fake = op.post("/entry/upload", data={"csrf_token": _token(page.text), "org": "沛县", "period": "2024-05"},
                   files={"file": ("x.xlsm", b"PK\x03\x04", "application/octet-stream")})
    assert fake.status_code == 400 and "只接受 .xlsx" in fake.text
    ws.cell(rows["I04"], 6).value = "=100+20"
    formula = upload(wb)
    assert formula.status_code == 400 and f'data-cell="F{rows["I04"]}"' in formula.text
    op.__exit__(None, None, None)


def test_nul_bytes_and_oversized_fields_answer_4xx(app_url: str) -> None:
    op = _client(app_url, "peixian")
    nul = _post_entry(op, {"I01": "3\x0000"}, comment="\x00")
    assert nul.status_code == 303  # NUL is stripped at the edge: "300" is stored, PostgreSQL never sees it
    assert 'value="300"' in op.get("/entry", params={"org": "沛县", "period": "2024-03"}).text
    page = op.get("/login")
    login = op.post("/login", data={"username": "pei\x00xian", "password": "x", "csrf_token": _token(page.text)})
    assert login.status_code == 401
    big = _post_entry(op, {"I01": "1" * 5000})
    assert 400 <= big.status_code < 500
    page = op.get("/entry")
    huge = op.post("/entry/upload", data={"csrf_token": _token(page.text), "org": "沛县", "period": "2024-03"},
                   files={"file": ("big.xlsx", b"PK\x03\x04" + b"0" * (5 * 1024 * 1024), "application/octet-stream")})
    # just over the 5 MB limit: the entry page says so (far over it, BodyLimit's 413 answers first)
    assert huge.status_code == 400 and "文件超过 5 MB 上限" in huge.text
    op.__exit__(None, None, None)


def _import(db_url: str, rows: list[tuple[str, str, str, float]]) -> None:
    """Values imported as a bureau would (no submission): (indicator, unit, month, value in 表2 unit)."""
    from hrss.monitoring.periods import parse_period
    from hrss.monitoring.values import NewValue, store_values

    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        store_values(s, plan, [NewValue(code, unit, parse_period(month), value, None, None, 0) for code, unit, month, value in rows],
                     source="reported", source_name="导入.xlsx")
    engine.dispose()


def _cell(c: TestClient, org: str, month: str) -> dict:
    grid = c.get("/api/v1/completeness", params={"year": month[:4]}).json()
    unit = next(u for u in grid["org_units"] if u["org_unit"] == org)
    return next(cell for cell in unit["cells"] if cell["month"] == month)


def test_a_draft_or_pending_submission_never_changes_what_is_counted(app_url: str) -> None:
    # 沛县 2024-03 was imported: 城镇新增就业 0.0300 万人 (300 人), 创业 0.0120 万人 (120 人)
    _import(app_url, [("I01", "沛县", "2024-03", 0.03), ("I04", "沛县", "2024-03", 0.012)])
    op, stat = _client(app_url, "peixian"), _client(app_url, "tongji")
    assert _actual(stat, "I01", "沛县", "2024-03") == pytest.approx(0.03)
    city_before = _actual(stat, "I01", "徐州市", "2024-03")
    # the form opens on the counted figures
    form = op.get("/entry", params={"org": "沛县", "period": "2024-03"}).text
    assert re.search(r'name="value__I01"[^>]*value="300"', form)
    # a draft of other figures: nothing that counts moves, and the month is still received
    assert _post_entry(op, {"I01": "350", "I04": "120"}).status_code == 303
    assert _actual(stat, "I01", "沛县", "2024-03") == pytest.approx(0.03)
    assert _actual(stat, "I01", "徐州市", "2024-03") == pytest.approx(city_before)
    assert _cell(stat, "沛县", "2024-03")["state"] == "imported"
    # the form shows the draft beside what counts, the changed row marked
    form = op.get("/entry", params={"org": "沛县", "period": "2024-03"}).text
    row = re.search(r'<tr[^>]*>(?:(?!</tr>).)*value__I01(?:(?!</tr>).)*</tr>', form, re.S).group(0)
    assert 'class="changed"' in row and 'value="350"' in row and '<td class="counted">300</td>' in row
    # submitted, still not counted
    assert _post_entry(op, {"I01": "350", "I04": "120"}, action="submit").status_code == 303
    assert _actual(stat, "I01", "沛县", "2024-03") == pytest.approx(0.03)
    # approved: 350 人 = 0.035 万人 counts; the city total moves by the same 0.005 万人
    sub_id = re.search(r'href="/review/(\d+)"', stat.get("/review").text).group(1)
    page = stat.get(f"/review/{sub_id}")
    assert ">300<" in page.text and "350" in page.text  # counted and pending side by side
    ok = stat.post(f"/review/{sub_id}", data={"csrf_token": _token(page.text), "version": _version(page.text), "action": "approve"},
                   follow_redirects=False)
    assert ok.status_code == 303
    assert _actual(stat, "I01", "沛县", "2024-03") == pytest.approx(0.035)
    assert _actual(stat, "I01", "徐州市", "2024-03") == pytest.approx(city_before + 0.005)
    # reopened for correction: the approved figures keep counting until the next approval
    page = stat.get(f"/review/{sub_id}")
    stat.post(f"/review/{sub_id}", data={"csrf_token": _token(page.text), "version": _version(page.text), "action": "reopen",
                                         "comment": "请复核"}, follow_redirects=False)
    assert _post_entry(op, {"I01": "1", "I04": "1"}).status_code == 303
    assert _actual(stat, "I01", "沛县", "2024-03") == pytest.approx(0.035)
    for c in (op, stat):
        c.__exit__(None, None, None)


def _decide(c: TestClient, sub_id: str, action: str, comment: str = ""):
    page = c.get(f"/review/{sub_id}")
    return c.post(f"/review/{sub_id}", data={"csrf_token": _token(page.text), "version": _version(page.text),
                                            "action": action, "comment": comment}, follow_redirects=False)


def test_the_city_reports_its_own_indicators_and_never_approves_its_own_figures(app_url: str) -> None:
    city, stat, stat2 = _client(app_url, "shiji"), _client(app_url, "tongji"), _client(app_url, "tongji2")
    # the city's operator fills the 12 indicators only the city reports, not the districts' ones
    form = city.get("/entry", params={"org": "徐州市", "period": "2024-03"})
    assert form.status_code == 200 and "新招收博士后人数" in form.text and "城镇登记失业率" in form.text
    assert "value__I01" not in form.text and "value__I14" in form.text
    assert city.get("/entry", params={"org": "沛县"}).status_code == 403
    assert city.get("/entry", params={"org": "主城区"}).status_code == 404  # a group never reports
    # the statistician types the figures for the city (a draft): 新招收博士后 12 人
    assert _post_entry(stat, {"I14": "12"}, org="徐州市").status_code == 303
    assert _actual(stat, "I14", "徐州市", "2024-03") is None
    # the city's operator submits them; the statistician who typed them may not approve them
    assert _post_entry(city, {}, action="submit", comment="博士后工作站报表", org="徐州市").status_code == 303
    sub_id = re.search(r'href="/review/(\d+)"', stat.get("/review").text).group(1)
    refused = _decide(stat, sub_id, "approve")
    assert refused.status_code == 403 and "四眼原则" in refused.text
    assert refused.headers["content-type"].startswith("text/html") and "待审核" in refused.text
    assert _actual(stat, "I14", "徐州市", "2024-03") is None
    # a second statistician approves: 12 人 counts for the city at once
    assert _decide(stat2, sub_id, "approve").status_code == 303
    assert _actual(stat, "I14", "徐州市", "2024-03") == pytest.approx(12)
    # and the submitter themselves never approves: an operator has no review right at all
    assert city.get(f"/review/{sub_id}").status_code == 403
    for c in (city, stat, stat2):
        c.__exit__(None, None, None)


def test_a_statistician_who_submitted_cannot_approve(app_url: str) -> None:
    # The rule is on the account, whatever its role: a submission handed in by an account
    # (here recorded directly) is not approved by the same account.
    stat = _client(app_url, "tongji")
    assert _post_entry(stat, {"I14": "7"}, org="徐州市").status_code == 303
    engine = make_engine(app_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, "徐州市", "2024-03")
        assert sub.saved_by == "tongji" and sub.submitted_by is None
        wf.submit(s, plan, plan.city_unit, wf.monthly_period("2024-03"), version=None, comment="", rules=[],
                  origin=Origin(user=get_user(s, "tongji2")))
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, "徐州市", "2024-03")
        with pytest.raises(wf.WorkflowError, match="四眼原则") as refused:
            wf.decide(s, plan, sub, "approve", version=None, comment="", origin=Origin(user=get_user(s, "tongji2")))
        assert refused.value.status == 403
    engine.dispose()
    stat.__exit__(None, None, None)


def test_figures_typed_by_a_reviewer_and_saved_again_by_a_colleague_are_still_not_theirs_to_approve(
        app_url: str) -> None:
    # tongji types 12 for the city; the city's operator opens the form and saves it again
    # unchanged, then submits. The last saver is now shiji, but the figures are tongji's.
    city, stat, stat2 = _client(app_url, "shiji"), _client(app_url, "tongji"), _client(app_url, "tongji2")
    assert _post_entry(stat, {"I14": "12"}, org="徐州市").status_code == 303
    form = city.get("/entry", params={"org": "徐州市", "period": "2024-03"})
    assert re.search(r'name="value__I14"[^>]*value="12"', form.text)
    assert _post_entry(city, {"I14": "12"}, org="徐州市").status_code == 303
    assert _post_entry(city, {"I14": "12"}, action="submit", org="徐州市").status_code == 303
    sub_id = re.search(r'href="/review/(\d+)"', stat.get("/review").text).group(1)
    refused = _decide(stat, sub_id, "approve")
    assert refused.status_code == 403 and "四眼原则" in refused.text
    assert _actual(stat, "I14", "徐州市", "2024-03") is None
    assert _decide(stat2, sub_id, "approve").status_code == 303
    assert _actual(stat, "I14", "徐州市", "2024-03") == pytest.approx(12)
    for c in (city, stat, stat2):
        c.__exit__(None, None, None)


def test_the_operators_comment_and_the_reviewers_are_a_thread(app_url: str) -> None:
    op, stat = _client(app_url, "peixian"), _client(app_url, "tongji")
    # a refused submit (R02 wants a comment for a jump; R01 caps the month) keeps what was typed
    refused = _post_entry(op, {"I01": "3100", "I04": "120"}, action="submit", comment="春季招聘会集中签约")
    assert refused.status_code == 422
    assert re.search(r'name="comment"[^>]*value="春季招聘会集中签约"', refused.text)
    assert re.search(r'name="value__I01"[^>]*value="3100"', refused.text)
    assert _post_entry(op, {"I01": "300", "I04": "120"}, action="submit", comment="春季招聘会集中签约").status_code == 303
    sub_id = re.search(r'href="/review/(\d+)"', stat.get("/review").text).group(1)
    # returning without a comment is refused on a page, in Chinese, nothing changed
    bare = _decide(stat, sub_id, "return")
    assert bare.status_code == 422 and bare.headers["content-type"].startswith("text/html")
    assert "退回须填写意见" in bare.text and "待审核" in bare.text
    assert _decide(stat, sub_id, "return", "创业人数请核实").status_code == 303
    assert _post_entry(op, {"I01": "300", "I04": "150"}, action="submit", comment="已核实，补录2户").status_code == 303
    assert _decide(stat, sub_id, "approve", "同意").status_code == 303
    for c, path in ((op, "/entry?org=沛县&period=2024-03"), (stat, f"/review/{sub_id}")):
        thread = re.search(r'<section class="panel thread" id="thread">(.*?)</section>', c.get(path).text, re.S).group(1)
        steps = re.findall(r'<li class="step-(\w+)">', thread)
        assert steps == ["submitted", "returned", "submitted", "approved"]
        for text in ("春季招聘会集中签约", "创业人数请核实", "已核实，补录2户", "同意"):
            assert text in thread
    for c in (op, stat):
        c.__exit__(None, None, None)


def _audit_after(db_url: str, action: str) -> list[dict]:
    import json

    engine = make_engine(db_url)
    with transaction(engine) as s:
        found = [json.loads(a) for (a,) in s.execute(select(AuditEvent.after).where(AuditEvent.action == action)
                                                      .order_by(AuditEvent.id))]
    engine.dispose()
    return found


def test_the_form_accepts_what_the_indicator_allows_and_speaks_the_operators_unit(app_url: str) -> None:
    import csv
    import io

    import openpyxl

    # 沛县 2024-04 imported as 0.0029 万人: × 10000 is 28.999999999999996 人 in floating point
    _import(app_url, [("I01", "沛县", "2024-04", 0.0029)])
    op, stat = _client(app_url, "peixian"), _client(app_url, "tongji")
    # a count of 人 is a whole number
    half = _post_entry(op, {"I01": "1200.5"}, period="2024-05")
    assert half.status_code == 400 and "以「人」计，须填写整数：1200.5" in half.text
    assert "未填报" in op.get("/entry", params={"org": "沛县", "period": "2024-05"}).text  # nothing stored
    # the template and the form hold clean numbers in the operator's unit
    form = op.get("/entry", params={"org": "沛县", "period": "2024-04"}).text
    assert re.search(r'name="value__I01"[^>]*value="29"', form)
    wb = openpyxl.load_workbook(io.BytesIO(op.get("/entry/template.xlsx", params={"org": "沛县", "period": "2024-04"}).content))
    ws = wb["填报"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    assert ws.cell(rows["I01"], 6).value == 29 and repr(ws.cell(rows["I01"], 6).value) in ("29", "29.0")
    # the per-indicator CSV: 人, rounded, for the unit's row
    table = list(csv.DictReader(io.StringIO(stat.get("/api/v1/indicators/I01/evaluation.csv",
                                                     params={"as_of": "2024-04"}).text.lstrip("\ufeff"))))
    peixian = next(r for r in table if r["org_unit"] == "沛县")
    assert peixian["unit"] == "人" and re.fullmatch(r"\d+", peixian["actual"]) and re.fullmatch(r"\d+", peixian["target"])
    # a formula and a wrong month in an uploaded template: each blamed on its own cell
    ws.cell(rows["I01"], 6).value = "=100+200"
    ws.cell(rows["I04"], 6).value = 12
    ws.cell(rows["I04"], 4).value = "2024-03"
    buf = io.BytesIO()
    wb.save(buf)
    page = op.get("/entry", params={"org": "沛县", "period": "2024-04"})
    up = op.post("/entry/upload", data={"csrf_token": _token(page.text), "org": "沛县", "period": "2024-04", "version": _version(page.text)},
                 files={"file": ("沛县.xlsx", buf.getvalue(), "application/octet-stream")})
    assert up.status_code == 400
    assert f'data-cell="F{rows["I01"]}"' in up.text and "是公式「=100+200」，不是数值" in up.text and "不是有效数字" not in up.text
    assert f'data-cell="D{rows["I04"]}"' in up.text and "该行期间为「2024-03」" in up.text
    assert f'data-cell="C{rows["I04"]}"' not in up.text
    # the rule speaks 人: 沛县's 2024 target is 3500 人, so a month may hold at most 3500 × 0.5 = 1750 人
    assert _post_entry(op, {"I01": "3100", "I04": "12"}, period="2024-05").status_code == 303
    refused = _post_entry(op, {}, action="submit", comment="年中招聘会集中签约", period="2024-05")
    assert refused.status_code == 422
    assert "月度流量不得超过本单位年度目标的一半：本月 3100 人，上限 1750 人" in refused.text
    assert 'value="年中招聘会集中签约"' in refused.text  # the comment typed is kept
    # the audit log holds what the operator typed, in 人
    assert _audit_after(app_url, "value.saved")[-1]["values"] == {"I01": "3100 人", "I04": "12 人"}
    # 2024-05 against 2024-04's 29 人: 300 人 is a change of (300 − 29) ÷ 29 = 934.5 %, a comment is required;
    # I04 left blank is shown as 未报, never as an older figure
    assert _post_entry(op, {"I01": "300", "I04": ""}, period="2024-05").status_code == 303
    assert _post_entry(op, {}, action="submit", comment="春季招聘", period="2024-05").status_code == 303
    sub_id = re.search(r'href="/review/(\d+)"', stat.get("/review").text).group(1)
    review = stat.get(f"/review/{sub_id}").text
    i01 = re.search(r'<tr data-indicator="I01"[^>]*>.*?</tr>', review, re.S).group(0)
    assert "flagged" in i01 and "本月 300 人，上月 29 人，变动 934.5%" in i01
    i04 = re.search(r'<tr data-indicator="I04"[^>]*>.*?</tr>', review, re.S).group(0)
    assert "missing" in i04 and "未报" in i04 and "flagged" not in i04
    assert re.search(r'id="missing-note">本次报送有 \d+ 项指标未报', review)
    # the English page says the same in English, units included
    review_en = stat.get(f"/review/{sub_id}", params={"lang": "en"}).text
    i01 = re.search(r'<tr data-indicator="I01"[^>]*>.*?</tr>', review_en, re.S).group(0)
    assert "this month 300 persons, last month 29 persons, a change of 934.5%" in i01 and "本月" not in i01
    for c in (op, stat):
        c.__exit__(None, None, None)


def test_the_thread_migration_rebuilds_each_step_from_the_audit_trail(app_url: str) -> None:
    # A history made with today's code: tongji types, the operator saves again and submits,
    # tongji2 returns it, the operator submits again, tongji2 approves. Going back to the
    # schema before the thread (0005) and up again must give the same thread, authors and
    # roles included, and the same saved_by / submitted_by: migration 0006 reads them from
    # the audit trail instead of guessing from the submission's last actor.
    from alembic import command

    from hrss.db import alembic_config, upgrade

    engine = make_engine(app_url)
    plan = prepare_store(engine)
    period, peixian = wf.monthly_period("2024-03"), plan.org_unit("沛县")
    with transaction(engine) as s:
        who = {name: Origin(user=get_user(s, name)) for name in ("tongji", "peixian", "tongji2")}
        wf.save(s, plan, peixian, period, {"I01": "300", "I04": "120"}, version=None, origin=who["tongji"])
        wf.save(s, plan, peixian, period, {"I01": "300", "I04": "120"}, version=None, origin=who["peixian"])
        wf.submit(s, plan, peixian, period, version=None, comment="春季招聘会", rules=[], origin=who["peixian"])
        sub = wf.get_submission(s, plan, "沛县", "2024-03")
        wf.decide(s, plan, sub, "return", version=None, comment="请核实", origin=who["tongji2"])
        wf.submit(s, plan, peixian, period, version=None, comment="已核实", rules=[], origin=who["peixian"])
        wf.decide(s, plan, sub, "approve", version=None, comment="同意", origin=who["tongji2"])
    def state() -> tuple[list[tuple[str, str, str, str]], tuple[str | None, str | None]]:
        with transaction(engine) as s:
            sub = wf.get_submission(s, plan, "沛县", "2024-03")
            steps = [(c.action, c.author, c.author_role, c.text) for c in wf.thread(s, sub)]
            return steps, (sub.saved_by, sub.submitted_by)
    before = state()
    assert before == ([("submitted", "peixian", "district_operator", "春季招聘会"),
                       ("returned", "tongji2", "city_statistician", "请核实"),
                       ("submitted", "peixian", "district_operator", "已核实"),
                       ("approved", "tongji2", "city_statistician", "同意")], ("peixian", "peixian"))
    command.downgrade(alembic_config(engine), "0005")
    upgrade(engine)
    assert state() == before
    engine.dispose()


def test_a_form_saved_back_unchanged_keeps_every_digit_of_the_counted_figures(app_url: str) -> None:
    # Imported at full precision: 城镇登记失业率 1.8456 % (the form's % shows 2 places, 1.85)
    # and 新增取得职业资格证书 1.23456 万人次 (typed in 万人次, shown with 4 places: 1.2346).
    _import(app_url, [("I02", "徐州市", "2024-03", 1.8456), ("I12", "徐州市", "2024-03", 1.23456)])
    city = _client(app_url, "shiji")
    form = city.get("/entry", params={"org": "徐州市", "period": "2024-03"})
    assert re.search(r'name="value__I02"[^>]*value="1.8456"', form.text)
    assert re.search(r'name="value__I12"[^>]*value="1.23456"', form.text)
    # opened and saved again without a change: the draft holds the same figures, digit for digit
    values = dict(re.findall(r'name="value__(I\d+)"[^>]*value="([^"]*)"', form.text))
    assert _post_entry(city, values, org="徐州市").status_code == 303
    engine = make_engine(app_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, "徐州市", "2024-03")
        pending = wf.pending_values(s, sub)
        assert pending["I02"].value == pytest.approx(1.8456, abs=1e-12)
        assert pending["I12"].value == pytest.approx(1.23456, abs=1e-12)
        saved = s.execute(select(AuditEvent).where(AuditEvent.action == "value.saved")).scalars().one()
        assert '"I02": "1.8456%"' in saved.after and '"I12": "1.23456 万人次"' in saved.after
    engine.dispose()
    city.__exit__(None, None, None)


def test_an_upload_that_finds_every_upload_slot_busy_is_told_to_try_again(
        app_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio

    from hrss.web import entry

    monkeypatch.setattr(entry, "UPLOAD_WAIT_SECONDS", 0.2)
    op = _client(app_url, "peixian")
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(op.get("/entry/template.xlsx", params={"org": "沛县", "period": "2024-05"}).content))
    ws = wb["填报"]
    ws.cell(next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "I01"), 6).value = 280
    buf = io.BytesIO()
    wb.save(buf)
    template = buf.getvalue()

    def upload():
        form = op.get("/entry", params={"org": "沛县", "period": "2024-05"})
        return op.post("/entry/upload", data={"csrf_token": _token(form.text), "org": "沛县", "period": "2024-05",
                                              "version": _version(form.text)},
                       files={"file": ("沛县.xlsx", template, "application/octet-stream")}, follow_redirects=False)

    # both upload slots held (as two long uploads would hold them): the third waits 0.2 s, then 503
    slots = anyio.CapacityLimiter(entry.UPLOAD_WORKERS)
    op.app.state.upload_limiter = slots
    holders = [object() for _ in range(entry.UPLOAD_WORKERS)]
    for h in holders:
        op.portal.call(slots.acquire_on_behalf_of, h)
    busy = upload()
    assert busy.status_code == 503 and "正在处理其他上传" in busy.text
    assert "未填报" in op.get("/entry", params={"org": "沛县", "period": "2024-05"}).text  # nothing stored
    # a slot freed: the same file goes through
    op.portal.call(slots.release_on_behalf_of, holders[0])
    assert upload().status_code == 303
    assert slots.borrowed_tokens == entry.UPLOAD_WORKERS - 1  # its slot given back
    op.__exit__(None, None, None)
