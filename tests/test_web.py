"""The web platform: pages render real figures; the API answers JSON, errors included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hrss.auth.service import create_api_token, create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.demo import build_demo, load_demo
from hrss.plan.planfile import load_plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token, sign_in

login = sign_in


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        create_user(s, username="tongji", display_name="统计员", role="city_statistician", org_unit=None,
                    plan=plan, settings=settings, password=PASSWORD)
    engine.dispose()
    with TestClient(create_app(settings)) as c:
        login(c, "tongji")
        yield c


def test_pages_and_api_need_a_signed_in_user(db_url: str) -> None:
    with TestClient(create_app(Settings(database_url=db_url))) as anonymous:
        page = anonymous.get("/indicators/I01", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Findicators%2FI01"
        api = anonymous.get("/api/v1/evaluation")
        assert api.status_code == 401 and api.json()["message_en"].startswith("sign in")
        assert anonymous.get("/login").status_code == 200


def test_dashboard_shows_the_19_indicators_with_real_figures(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    plan = load_plan()
    for ind in plan.key_indicators:
        assert f'data-indicator="{ind.code}"' in html and ind.name in html
    assert "模拟数据" in html and "2025-12" in html
    # the value on the 新招收博士后人数 card is the one the API reports
    api = client.get("/api/v1/evaluation", params={"org": "徐州市", "indicator": "I14"}).json()
    [i14] = api["results"]
    assert f"{i14['actual']:,.2f}".rstrip("0").rstrip(".") in html
    assert i14["escalate"] and "约束性指标预警" in html
    # reporting completeness of the month: the demo data leaves out 新沂市's 2025-11
    november = client.get("/", params={"as_of": "2025-11"}).text
    panel = november[november.index('id="reporting"'):november.index('</section>', november.index('id="reporting"'))]
    assert "报送完整率" in panel and "新沂市（未报送）" in panel


def test_indicator_and_org_unit_pages(client: TestClient) -> None:
    page = client.get("/indicators/I01", params={"as_of": "2023-06"})
    assert page.status_code == 200
    assert "城镇新增就业人数" in page.text and "附件表1" in page.text and "id=\"trend\"" in page.text
    assert "邳州市" in page.text and "新口径" in page.text
    page = client.get("/org-units/沛县", params={"as_of": "2023-06"})
    assert page.status_code == 200 and "320322" in page.text and "失业保险参保人数" in page.text
    assert client.get("/?lang=en").text.count("Overview") >= 1


def test_after_the_plan_the_pages_show_the_final_results(client: TestClient) -> None:
    import re
    import time

    # a month after the plan: the page is titled with the month the data is from, with a notice
    page = client.get("/", params={"as_of": "2026-11"})
    assert page.status_code == 200
    assert re.search(r"<h1>[^<]*<small>2025-12</small>", page.text) and "<small>2026-11</small>" not in page.text
    assert "规划期已结束（2021–2025），以下为终期结果" in page.text
    assert client.get("/api/v1/evaluation", params={"as_of": "2026-11"}).json()["as_of"] == "2025-12"
    # verdicts, not 序时 words; a ceiling shows 达标 and its margin, never a completion share
    for url in ("/", "/org-units/徐州市", "/indicators/I02"):
        html = client.get(url, params={"as_of": "2025-12"}).text
        for word in ("超序时", "符合序时", "严重滞后"):
            assert word not in html, (url, word)
    city = client.get("/api/v1/evaluation", params={"as_of": "2025-12", "org": "徐州市", "indicator": "I02"}).json()
    [i02] = city["results"]
    assert i02["status"] == "达标" and i02["completion"] is None
    margin = f"{4 - i02['actual']:.2f}".rstrip("0").rstrip(".")  # 城镇登记失业率 4 % 以内: 4 − actual
    assert f"达标，低于上限 {margin} 个百分点" in client.get("/indicators/I02", params={"as_of": "2025-12"}).text
    card = re.search(r'data-indicator="I02">(.*?)</a>', client.get("/", params={"as_of": "2025-12"}).text, re.S).group(1)
    assert f"达标，低于上限 {margin} 个百分点" in card and "完成进度" not in card
    # outside the plan years: refused at once, on pages and API
    for url in ("/", "/api/v1/evaluation", "/indicators/I01", "/org-units/丰县"):
        started = time.perf_counter()
        far = client.get(url, params={"as_of": "9999-12"})
        assert far.status_code == 422 and time.perf_counter() - started < 2, url
        assert "截至月份须在 2021-01 至" in far.text
    assert client.get("/", params={"as_of": "2020-12"}).status_code == 422


def test_api_and_errors(client: TestClient) -> None:
    data = client.get("/api/v1/indicators/I06", params={"as_of": "2024-06"}).json()
    assert data["indicator"]["name"] == "城乡基本养老保险参保人数"
    assert data["trend"][-1]["month"] == "2024-06" and len(data["trend"]) == 42
    assert {e["org_unit"] for e in data["by_org_unit"]} >= {"徐州市", "丰县", "市区(含贾汪)"}
    csv = client.get("/api/v1/indicators/I01/evaluation.csv")
    assert csv.status_code == 200 and csv.text.startswith("\ufeffindicator_code,")
    bad = client.get("/indicators/NOPE")
    assert bad.status_code == 404 and bad.json()["message"].startswith("未知指标")
    bad = client.get("/api/v1/evaluation", params={"as_of": "2023-13"})
    assert bad.status_code == 422 and "请求参数无效" in bad.json()["message"] and "as_of" in bad.json()["message"]
    bad = client.get("/api/v1/evaluation", params={"org": "x" * 500})
    assert bad.status_code == 422 and "message_en" in bad.json()
    assert client.get("/openapi.json").json()["info"]["title"].startswith("HRSS")


_token = csrf_token


def test_sign_in_failures_lock_out_and_sign_out(client: TestClient) -> None:
    client.cookies.clear()
    form = client.get("/login")
    bad = client.post("/login", data={"username": "tongji", "password": "wrong", "csrf_token": _token(form.text)})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    unknown = client.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": _token(bad.text)})
    assert unknown.status_code == 401 and "用户名或密码错误" in unknown.text  # same answer for an unknown user
    forged = client.post("/login", data={"username": "tongji", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403  # login CSRF: the token must match the cookie
    page = forged  # each answer carries a fresh login-form token
    for _ in range(4):  # failures 2–5 of this account: the fifth locks it
        page = client.post("/login", data={"username": "tongji", "password": "wrong", "csrf_token": _token(page.text)})
    assert "锁定" in page.text
    locked = client.post("/login", data={"username": "tongji", "password": PASSWORD, "csrf_token": _token(page.text)})
    assert locked.status_code == 401 and "锁定" in locked.text


def test_sign_out_needs_the_csrf_token(client: TestClient) -> None:
    home = client.get("/")
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in
    out = client.post("/logout", data={"csrf_token": _token(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_one_time_password_must_be_changed_first(db_url: str) -> None:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        _, one_time = create_user(s, username="peixian", display_name="沛县填报员", role="district_operator",
                                  org_unit="沛县", plan=plan, settings=settings)
    engine.dispose()
    with TestClient(create_app(settings)) as c:
        login(c, "peixian", one_time)
        home = c.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/account/password"
        form = c.get("/account/password")
        weak = c.post("/account/password", data={"current_password": one_time, "new_password": "short", "confirm_password": "short", "csrf_token": _token(form.text)})
        assert weak.status_code == 400 and "12" in weak.text
        done = c.post("/account/password", data={"current_password": one_time, "new_password": PASSWORD, "confirm_password": PASSWORD, "csrf_token": _token(form.text)}, follow_redirects=False)
        assert done.status_code == 303
        assert c.get("/", follow_redirects=False).status_code == 200


def test_api_token_for_machine_clients(db_url: str) -> None:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        user, _ = create_user(s, username="robot", display_name="数据接口", role="leader", org_unit=None,
                              plan=plan, settings=settings, password=PASSWORD)
        token = create_api_token(s, user, "报表系统")
    engine.dispose()
    with TestClient(create_app(settings)) as c:
        ok = c.get("/api/v1/evaluation", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json()["results"]
        assert c.get("/api/v1/evaluation", headers={"Authorization": "Bearer hrss_wrong"}).status_code == 401
