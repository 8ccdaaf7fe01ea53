"""End to end in a real headless Chromium (Debian's chromium, driven by Playwright).

A district operator signs in, downloads the Excel template, uploads it with one bad cell,
sees the cell-level error, fixes it and submits; the city statistician returns it once with
a comment, then approves; the dashboard shows the new value and status at once.
Screenshots of the dashboard and the indicator page are saved under var/test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from hrss.auth.service import create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.periods import parse_period
from hrss.monitoring.values import NewValue, store_values
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import CHROMIUM, CHROMIUM_ARGS, browser_sign_in, need_chromium, running

ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "test-artifacts"
PASSWORD = "Xuzhou-2025-plan!"

pytestmark = pytest.mark.slow
SETTINGS: dict[str, Settings] = {}  # base address → the server's settings (for the second factor's stored secret)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    need_chromium()
    url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    settings = Settings(database_url=url)
    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        create_user(s, username="peixian", display_name="沛县填报员", role="district_operator", org_unit="沛县",
                    plan=plan, settings=settings, password=PASSWORD)
        create_user(s, username="tongji", display_name="市统计审核员", role="city_statistician", org_unit=None,
                    plan=plan, settings=settings, password=PASSWORD)
        create_user(s, username="shiji", display_name="市级填报员", role="district_operator", org_unit="徐州市",
                    plan=plan, settings=settings, password=PASSWORD)
        # 沛县 2023-07 was imported: 城镇新增就业 0.03 万人 (300 人) counts before anyone types anything
        store_values(s, plan, [NewValue("I01", "沛县", parse_period("2023-07"), 0.03, None, None, 0)],
                     source="reported", source_name="导入.xlsx")
    engine.dispose()
    with running(create_app(settings)) as base:
        SETTINGS[base] = settings
        yield base


def _sign_in(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    browser_sign_in(page, base, username, SETTINGS[base], PASSWORD)  # the statistician: with the second factor
    page.wait_for_url(f"{base}/")
    return page


def test_operator_and_statistician_in_a_real_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        op = _sign_in(browser, server, "peixian")
        op.goto(f"{server}/entry?org=沛县&period=2024-03")
        assert "未填报" in op.inner_text("#sub-status")
        with op.expect_download() as info:
            op.click("#template-link")
        template = tmp_path / "template.xlsx"
        info.value.save_as(template)

        wb = openpyxl.load_workbook(template)
        ws = wb["填报"]
        rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
        ws.cell(rows["I01"], 6).value = "一千五"  # one bad cell
        ws.cell(rows["I04"], 6).value = 150
        wb.save(template)
        op.set_input_files("#excel input[type=file]", str(template))
        op.click("#upload-button")
        error = op.locator(f'#problems li[data-cell="F{rows["I01"]}"]')
        assert "不是有效数字" in error.inner_text()

        ws.cell(rows["I01"], 6).value = 1500
        wb.save(template)
        op.set_input_files("#excel input[type=file]", str(template))
        op.click("#upload-button")
        assert "草稿" in op.inner_text("#sub-status")
        op.click("button[value=submit]")
        assert "待审核" in op.inner_text("#sub-status")

        stat = _sign_in(browser, server, "tongji")
        stat.goto(f"{server}/review")
        stat.click("#submissions a")
        stat.fill("#decide input[name=comment]", "创业人数请与台账核对")
        stat.click("#decide button[value=return]")
        assert "已退回" in stat.inner_text("#sub-status")

        op.goto(f"{server}/entry?org=沛县&period=2024-03")
        assert "创业人数请与台账核对" in op.content()
        op.fill("input[name=value__I04]", "160")
        op.fill("#entry-form input[name=comment]", "已与台账核对")
        op.click("button[value=submit]")
        assert "待审核" in op.inner_text("#sub-status")

        stat.goto(f"{server}/review")
        stat.click("#submissions a")
        stat.click("#decide button[value=approve]")
        assert "已审核" in stat.inner_text("#sub-status")

        # the dashboard is current the moment the figures are approved: five-year total
        # 300 人 imported for 2023-07 + 1500 人 approved for 2024-03 = 1800 人 = 0.18 万人
        stat.goto(f"{server}/")
        card = stat.locator('a.card[data-indicator="I01"]')
        assert "0.18" in card.inner_text() and "万人" in card.inner_text()
        assert card.get_attribute("class") != "card grey"
        stat.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        stat.goto(f"{server}/indicators/I01")
        stat.wait_for_selector("#trend canvas")
        assert "沛县" in stat.inner_text("#by-unit")
        stat.screenshot(path=str(ARTIFACTS / "indicator.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert (ARTIFACTS / "indicator.png").stat().st_size > 10_000


def _card(page, base: str, code: str, as_of: str) -> str:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/?as_of={as_of}")
    return page.locator(f'a.card[data-indicator="{code}"]').inner_text()


def test_a_draft_never_moves_the_dashboard_and_the_city_reports_its_own(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        op, stat = _sign_in(browser, server, "peixian"), _sign_in(browser, server, "tongji")
        before = _card(stat, server, "I01", "2023-07")
        assert "0.03" in before  # the imported 300 人
        # the operator opens the counted month, types a new figure and saves a draft: nothing moves
        op.goto(f"{server}/entry?org=沛县&period=2023-07")
        assert op.input_value("input[name=value__I01]") == "300"
        op.fill("input[name=value__I01]", "500")
        op.click("button[value=save]")
        assert "草稿" in op.inner_text("#sub-status")
        assert _card(stat, server, "I01", "2023-07") == before
        op.screenshot(path=str(ARTIFACTS / "entry-draft.png"), full_page=True)
        # submitted: still not counted
        op.fill("#entry-form input[name=comment]", "补录7月数据")
        op.click("button[value=submit]")
        assert "待审核" in op.inner_text("#sub-status")
        assert _card(stat, server, "I01", "2023-07") == before
        # returned with a comment, fixed, submitted again: the review shows both comments as a thread
        stat.goto(f"{server}/review")
        stat.click("#submissions a")
        stat.fill("#decide input[name=comment]", "请核对7月台账")
        stat.click("#decide button[value=return]")
        assert "已退回" in stat.inner_text("#sub-status")
        op.goto(f"{server}/entry?org=沛县&period=2023-07")
        op.fill("input[name=value__I01]", "450")
        op.fill("#entry-form input[name=comment]", "已核对，450人")
        op.click("button[value=submit]")
        assert "待审核" in op.inner_text("#sub-status")
        assert _card(stat, server, "I01", "2023-07") == before
        stat.goto(f"{server}/review")
        stat.click("#submissions a")
        thread = stat.inner_text("#thread")
        assert "补录7月数据" in thread and "请核对7月台账" in thread and "已核对，450人" in thread
        stat.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
        stat.click("#decide button[value=approve]")
        assert "已审核" in stat.inner_text("#sub-status")
        # approved: 450 人 = 0.045 万人 counts
        after = _card(stat, server, "I01", "2023-07")
        assert after != before and "0.045" in after

        # the city reports its own indicator (城镇登记失业率) and the statistician approves it
        city = _sign_in(browser, server, "shiji")
        city.goto(f"{server}/entry?period=2024-06")
        assert "徐州市" in city.inner_text("h1")
        city.fill("input[name=value__I02]", "1.85")
        city.fill("#entry-form input[name=comment]", "市级月报")
        city.click("button[value=submit]")
        assert "待审核" in city.inner_text("#sub-status")
        stat.goto(f"{server}/review")
        stat.click("#submissions a")
        assert "徐州市" in stat.inner_text("h1")
        stat.click("#decide button[value=approve]")
        assert "已审核" in stat.inner_text("#sub-status")
        city.goto(f"{server}/entry?period=2024-06")
        assert "已审核" in city.inner_text("#sub-status")
        assert "1.85" in _card(stat, server, "I02", "2024-06")
        stat.screenshot(path=str(ARTIFACTS / "dashboard-city.png"), full_page=True)
        browser.close()


def test_the_nav_holds_one_line_and_the_ledger_and_review_fit_at_1400_px(server: str) -> None:
    from playwright.sync_api import sync_playwright

    # a submission whose row carries a long rule finding (300 人 after 29 人: +934.5 %), for /review
    from hrss.audit.service import Origin
    from hrss.auth.service import get_user
    from hrss.monitoring import workflow as wf
    from hrss.monitoring.rules import load_rules

    engine = make_engine(SETTINGS[server].database_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        store_values(s, plan, [NewValue("I01", "沛县", parse_period("2024-04"), 0.0029, None, None, 0)],
                     source="reported", source_name="导入.xlsx")
        op, unit, month = Origin(user=get_user(s, "peixian")), plan.org_unit("沛县"), wf.monthly_period("2024-05")
        wf.save(s, plan, unit, month, {"I01": "300"}, version=None, origin=op)
        wf.submit(s, plan, unit, month, version=None, comment="春季招聘会集中签约", rules=load_rules(), origin=op)
        review = f"/review/{wf.get_submission(s, plan, '沛县', '2024-05').id}"
    engine.dispose()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _sign_in(browser, server, "tongji")
        page.set_viewport_size({"width": 1400, "height": 900})
        for lang in ("en", "zh"):
            for path in ("/", "/ledger", review):
                page.goto(f"{server}{path}?lang={lang}")
                nav, link = page.evaluate("""() => {
                    const nav = document.querySelector('header nav');
                    return [nav.getBoundingClientRect().height, nav.querySelector('a').getBoundingClientRect().height];
                }""")
                assert nav < 2 * link, (lang, path, nav, link)  # one line of links, not two
                wide = page.evaluate("() => [...document.querySelectorAll('.panel')]"
                                     ".filter(p => p.scrollWidth > p.clientWidth + 1).length")
                assert wide == 0, (lang, path)
        page.screenshot(path=str(ARTIFACTS / "ledger-1400.png"))
        browser.close()
