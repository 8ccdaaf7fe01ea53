"""The web platform: pages render real figures; the API answers JSON, errors included."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hrss.auth import service as auth_service
from hrss.auth.passwords import Verified
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


def _part(html: str, start: str, end: str = "</section>") -> str:
    """The text of html from the first `start` to the next `end`, tags removed."""
    i = html.index(start)
    return re.sub(r"<[^>]+>", " ", html[i:html.index(end, i)])


def test_indicator_page_states_target_baseline_and_method_in_words(client: TestClient) -> None:
    page = client.get("/indicators/I01", params={"as_of": "2023-06", "lang": "zh"}).text
    facts = _part(page, 'class="facts"')
    assert "37.5（五年累计，新口径）" in facts and "[37.5]" not in facts
    method = _part(page, "<h2>评价方法</h2>")
    assert "\\u" not in method and "{" not in method and '"method"' not in method
    assert "实际值 = 2021年1月起各期数值之和（累计值）" in method
    assert "累计流量指标以序时进度和预测评价，不计算增长率。" in method
    # a level: its growth rates and both verdicts, in words
    api = client.get("/api/v1/evaluation", params={"as_of": "2023-06", "org": "徐州市", "indicator": "I06"}).json()
    [i06] = api["results"]
    method = _part(client.get("/indicators/I06", params={"as_of": "2023-06"}).text, "<h2>评价方法</h2>")
    measure = i06["progress_measure"]
    assert f"实际年均增速{measure['cagr_actual'] * 100:.2f}%" in method
    assert f"按Open SDG方法比值{measure['opensdg_ratio']:.2f}，评价为“{measure['opensdg_category_label']}”" in method
    assert "375（期末水平）" in _part(client.get("/indicators/I06").text, 'class="facts"')
    # no 基数: one dash, as everywhere else on the pages
    facts = _part(client.get("/indicators/I18", params={"as_of": "2023-06"}).text, 'class="facts"')
    assert re.search(r"基数\s+—", facts) and "---" not in facts and "70（下限）" in facts
    assert "4（上限）" in _part(client.get("/indicators/I02").text, 'class="facts"')
    # English
    en = client.get("/indicators/I01", params={"as_of": "2023-06", "lang": "en"}).text
    assert "37.5 (five-year total, new definition)" in _part(en, 'class="facts"')
    assert "<small>10k persons · five-year total · expected</small>" in en
    method = _part(en, "<h2>How it is measured</h2>")
    assert "Actual = sum of the periods since 2021-01 (running total)." in method
    assert "A cumulative flow is judged by time-elapsed progress and projection, not by a growth rate." in method
    assert not re.search(r"[\u4e00-\u9fff]", method.replace("新口径", ""))
    method = _part(client.get("/indicators/I06", params={"as_of": "2023-06", "lang": "en"}).text, "<h2>How it is measured</h2>")
    assert f"actual annual growth {measure['cagr_actual'] * 100:.2f}%" in method and "Open SDG ratio" in method


def _decimals(text: str) -> list[int]:
    """Decimal places of each figure in text (shares in %, dates and codes left out)."""
    return [len(m.group(1) or "") for m in re.finditer(r"(?<![\d.\-])\d[\d,]*(?:\.(\d+))?(?![\d%\-])", text)]


def test_each_indicator_shows_its_figures_at_one_precision(client: TestClient) -> None:
    # 万人: one person is 0.0001 万人; % and densities: 2; counts: whole numbers
    precision = {"I01": 4, "I02": 2, "I06": 4, "I11": 2, "I14": 0, "I18": 2}
    dashboard = client.get("/", params={"as_of": "2023-06", "lang": "zh"}).text
    city = client.get("/org-units/徐州市", params={"as_of": "2023-06"}).text
    for code, places in precision.items():
        page = client.get(f"/indicators/{code}", params={"as_of": "2023-06"}).text
        facts = _part(page, 'class="facts"')
        shown = facts + (_part(page, 'id="by-unit"', "</table>") if 'id="by-unit"' in page else "")
        assert max(_decimals(shown)) <= places, (code, shown)
        trend = json.loads(re.search(r"data-series='([^']*)'", page).group(1))
        for point in trend:
            for key in ("actual", "expected", "target"):
                assert point[key] is None or round(point[key], places) == point[key], (code, point)
        # the city's actual: the same figure on its page, on the dashboard and on the city's page
        [e] = client.get("/api/v1/evaluation", params={"as_of": "2023-06", "org": "徐州市", "indicator": code}).json()["results"]
        figure = f"{e['actual']:,.{places}f}"
        figure = figure.rstrip("0").rstrip(".") if "." in figure else figure
        assert re.search(rf"实际\s+{re.escape(figure)}\s", facts), (code, figure, facts)
        card = re.search(rf'data-indicator="{code}">(.*?)</a>', dashboard, re.S)
        if card:
            assert f'<div class="value">{figure} ' in card.group(1), (code, figure)
        row = _part(city, f'<a href="/indicators/{code}?', "</tr>")
        assert f" {figure} " in row and max(_decimals(row.split(" ", 2)[-1])) <= places, (code, row)
    # a bound's margin is in the indicator's precision too
    ceiling = _part(client.get("/indicators/I02", params={"as_of": "2023-06"}).text, 'class="facts"')
    assert max(_decimals(ceiling[ceiling.index("低于上限"):])) <= 2


def test_after_the_plan_the_pages_show_the_final_results(client: TestClient) -> None:
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


def test_sign_in_failures_are_throttled(client: TestClient) -> None:
    client.cookies.clear()
    form = client.get("/login")
    bad = client.post("/login", data={"username": "tongji", "password": "wrong", "csrf_token": _token(form.text)})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    unknown = client.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": _token(bad.text)})
    assert unknown.status_code == 401 and "用户名或密码错误" in unknown.text  # same answer for an unknown user
    forged = client.post("/login", data={"username": "tongji", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403  # login CSRF: the token must match the cookie
    page = forged  # each answer carries a fresh login-form token
    for _ in range(4):  # failures 2–5 of this name from this address: the fifth makes it wait
        page = client.post("/login", data={"username": "tongji", "password": "wrong", "csrf_token": _token(page.text)})
    assert "登录失败次数过多，请 15 分钟后再试" in page.text
    waiting = client.post("/login", data={"username": "tongji", "password": PASSWORD, "csrf_token": _token(page.text)})
    assert waiting.status_code == 401 and "登录失败次数过多" in waiting.text


def test_sign_out_needs_the_csrf_token(client: TestClient) -> None:
    home = client.get("/")
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in
    out = client.post("/logout", data={"csrf_token": _token(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_password_check_runs_in_the_thread_pool(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id takes a quarter of a second of CPU or more: signing in must not hold the
    event loop (every other request of the worker would wait) while it runs."""
    where: list[str] = []
    real = auth_service.verify_password

    def verify(*args: str) -> Verified:
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return real(*args)

    monkeypatch.setattr(auth_service, "verify_password", verify)
    login(client, "tongji")
    assert where == ["worker thread"]
    assert client.get("/", follow_redirects=False).status_code == 200


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


def test_english_pages_translate_status_names_units_and_footer(client: TestClient) -> None:
    en = client.get("/", params={"as_of": "2025-12", "lang": "en"}).text
    card = re.search(r'data-indicator="I07">(.*?)</a>', en, re.S).group(1)
    # 失业保险参保人数 99.64 of 100 万人, 约束性, at the plan's end: not completed, in English
    assert "Insured in unemployment insurance" in card and "10k persons" in card and "not completed" in card
    assert not re.search(r"[\u4e00-\u9fff]", card)
    assert "Xuzhou 14th Five-Year Plan" in en.split("<footer>")[1]
    page = client.get("/indicators/I01", params={"as_of": "2025-12", "lang": "en"}).text
    assert "<h1>New urban jobs" in page and "Annex table 1" in page
    ledger = client.get("/ledger", params={"as_of": "2025-12", "lang": "en"}).text
    c006 = re.search(r'<tr id="C006".*?</tr>', ledger, re.S).group(0)
    assert "Not achieved" in c006 and "By the end of 2025" in c006 and "Indicator data" in c006
    # where the plan gives no English name, the Chinese one is shown; Chinese pages stay Chinese
    zh = client.get("/", params={"as_of": "2025-12", "lang": "zh"}).text
    assert "失业保险参保人数" in zh and "未完成" in zh and "Insured in unemployment insurance" not in zh
