"""End to end in a real headless Chromium (Debian's chromium, driven by Playwright).

A district operator signs in, downloads the Excel template, uploads it with one bad cell,
sees the cell-level error, fixes it and submits; the city statistician returns it once with
a comment, then approves; the dashboard shows the new value and status at once.
Screenshots of the dashboard and the indicator page are saved under var/test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from hrss.auth.service import create_user
from hrss.db import make_engine, transaction
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "test-artifacts"
PASSWORD = "Xuzhou-2025-plan!"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium for the browser test (scripts/setup --test installs it)")
        pytest.skip("chromium not installed")
    url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    settings = Settings(database_url=url)
    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        create_user(s, username="peixian", display_name="沛县填报员", role="district_operator", org_unit="沛县",
                    plan=plan, settings=settings, password=PASSWORD)
        create_user(s, username="tongji", display_name="市统计审核员", role="city_statistician", org_unit=None,
                    plan=plan, settings=settings, password=PASSWORD)
    engine.dispose()
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _sign_in(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_operator_and_statistician_in_a_real_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
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

        # the dashboard is current the moment the figures are approved: 1500 人 = 0.15 万人
        stat.goto(f"{server}/")
        card = stat.locator('a.card[data-indicator="I01"]')
        assert "0.15" in card.inner_text() and "万人" in card.inner_text()
        assert card.get_attribute("class") != "card grey"
        stat.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        stat.goto(f"{server}/indicators/I01")
        stat.wait_for_selector("#trend canvas")
        assert "沛县" in stat.inner_text("#by-unit")
        stat.screenshot(path=str(ARTIFACTS / "indicator.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert (ARTIFACTS / "indicator.png").stat().st_size > 10_000
