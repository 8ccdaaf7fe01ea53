"""The web platform: pages render real figures; the API answers JSON, errors included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hrss.db import make_engine, transaction
from hrss.monitoring.demo import build_demo, load_demo
from hrss.plan.planfile import load_plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=db_url))) as c:
        yield c


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


def test_indicator_and_org_unit_pages(client: TestClient) -> None:
    page = client.get("/indicators/I01", params={"as_of": "2023-06"})
    assert page.status_code == 200
    assert "城镇新增就业人数" in page.text and "附件表1" in page.text and "id=\"trend\"" in page.text
    assert "邳州市" in page.text and "新口径" in page.text
    page = client.get("/org-units/沛县", params={"as_of": "2023-06"})
    assert page.status_code == 200 and "320322" in page.text and "失业保险参保人数" in page.text
    assert client.get("/?lang=en").text.count("Overview") >= 1


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
    assert bad.status_code == 422 and "月份无效" in bad.json()["message"]
    bad = client.get("/api/v1/evaluation", params={"org": "x" * 500})
    assert bad.status_code == 422 and "message_en" in bad.json()
    assert client.get("/openapi.json").json()["info"]["title"].startswith("HRSS")
