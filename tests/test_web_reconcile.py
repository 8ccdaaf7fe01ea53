"""数据会审 in the web platform: reported beside computed values, flagged beyond the tolerance."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hrss.audit.service import utcnow
from hrss.auth.service import create_api_token, create_user, start_session
from hrss.db import make_engine, transaction
from hrss.monitoring.demo import build_demo, load_demo
from hrss.monitoring.periods import month
from hrss.monitoring.service import load_values
from hrss.monitoring.values import NewValue, store_values
from hrss.plan.model import Plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.stats.compute import COMPUTED
from hrss.stats.service import SAMPLED
from hrss.web.app import create_app
from web_helpers import PASSWORD

MONTHS = [month(2024, m) for m in (1, 2, 3)]


def demo_store(db_url: str, extra: Callable[[Session, Plan], None] | None = None) -> tuple[Settings, dict[str, str]]:
    """A store with the demo reports, whatever `extra` adds, and a leader; the leader's
    session cookie and API token as request headers."""
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        if extra:
            extra(s, plan)
        user, _ = create_user(s, username="leader", display_name="领导", role="leader", org_unit=None, plan=plan,
                              settings=settings, password=PASSWORD)  # fmt: skip
        cookie = start_session(s, user, client_addr="127.0.0.1", now=utcnow())
        token = create_api_token(s, user, "会审")
    engine.dispose()
    return settings, {"Cookie": f"hrss_session={cookie}", "Authorization": f"Bearer {token}"}


@pytest.fixture
def client(db_url: str) -> Iterator[tuple[TestClient, dict[str, str], dict[str, float]]]:
    """Demo reports; computed I01 for 丰县 equal to its reports and for 沛县 1.2 times them."""
    ytd: dict[str, float] = {}

    def add_computed(s: Session, plan: Plan) -> None:
        reported = load_values(s, plan, "reported")
        i01 = next(i for i in plan.indicators if i.code == "I01")
        ytd.update({u: sum(reported.value(i01, u, p.first, p.last) or 0 for p in MONTHS) for u in ("丰县", "沛县")})
        computed = [NewValue("I01", u, p, (reported.value(i01, u, p.first, p.last) or 0) * (1.2 if u == "沛县" else 1),
                             None, None, 0) for u in ("丰县", "沛县") for p in MONTHS]  # fmt: skip
        store_values(s, plan, computed, source=COMPUTED, source_name="实名制自动统计 (test)")

    settings, headers = demo_store(db_url, add_computed)
    with TestClient(create_app(settings)) as c:
        yield c, headers, ytd


def test_reconcile_page_and_api(client) -> None:
    c, headers, ytd = client
    assert ytd["沛县"] > 0 and ytd["丰县"] > 0
    data = c.get("/api/v1/reconcile", params={"as_of": "2024-03"}, headers={"Authorization": headers["Authorization"]}).json()
    rows = {(r["indicator"], r["org_unit"]): r for r in data["rows"]}
    feng, pei = rows[("I01", "丰县")], rows[("I01", "沛县")]
    # 丰县: computed = reported month by month, so Jan–Mar totals agree
    assert feng["reported"] == pytest.approx(ytd["丰县"]) and feng["difference"] == pytest.approx(0) and not feng["flagged"]
    assert feng["basis"] == "1–3月累计"
    # 沛县: computed = 1.2 × reported, so difference = S − 1.2 S = −0.2 S and relative = −0.2 S / 1.2 S = −1/6
    assert pei["computed"] == pytest.approx(1.2 * ytd["沛县"])
    assert pei["difference"] == pytest.approx(-0.2 * ytd["沛县"])
    assert pei["relative"] == pytest.approx(-1 / 6) and pei["flagged"]  # |−16.7%| > 5%
    # the city's computed value is the sum of its units' (only two here): S丰 + 1.2 S沛, far below
    # the reported city total of all thirteen units, so flagged
    city = rows[("I01", "徐州市")]
    assert city["computed"] == pytest.approx(ytd["丰县"] + 1.2 * ytd["沛县"])
    assert city["reported"] > city["computed"] and city["flagged"]
    # a unit with reports and no computed value: one side only, flagged
    assert rows[("I01", "邳州市")]["computed"] is None and rows[("I01", "邳州市")]["flagged"]
    assert data["flagged"] == sum(r["flagged"] for r in data["rows"]) and data["compared"] == len(data["rows"])
    only = c.get("/api/v1/reconcile", params={"as_of": "2024-03", "flagged": "true"}, headers=headers).json()
    assert ("I01", "丰县") not in {(r["indicator"], r["org_unit"]) for r in only["rows"]}
    assert len(only["rows"]) == data["flagged"]
    page = c.get("/reconcile", params={"as_of": "2024-03"}, headers={"Cookie": headers["Cookie"]})
    assert page.status_code == 200 and "数据会审" in page.text
    row = re.search(r'<tr class="red" data-indicator="I01" data-unit="沛县"[^>]*>(.*?)</tr>', page.text, re.S)
    assert row and "-16.7%" in row.group(1)
    assert re.search(r'<tr class="green" data-indicator="I01" data-unit="丰县"', page.text)
    english = c.get("/reconcile", params={"as_of": "2024-03", "lang": "en"}, headers={"Cookie": headers["Cookie"]})
    assert "Reconciliation" in english.text and "Flagged" in english.text
    assert 'id="sampled"' not in page.text  # computed from full ledgers: no 样本推算 note


def test_reconcile_without_computed_values_says_what_to_run(db_url: str) -> None:
    settings, headers = demo_store(db_url)
    cookie = {"Cookie": headers["Cookie"]}
    with TestClient(create_app(settings)) as c:
        page = c.get("/reconcile", params={"as_of": "2024-03"}, headers=cookie)
        bad = c.get("/reconcile", params={"as_of": "2024-13"}, headers=cookie)
    assert page.status_code == 200 and 'id="no-computed"' in page.text and "hrss stats compute --as-of 2024-03" in page.text
    assert bad.status_code in (400, 422)


def test_reconcile_compares_only_units_that_answer_for_the_indicator(db_url: str) -> None:
    """Computed values exist for every unit (the ledgers cover them all), but a district has
    nothing to compare for an indicator only the city reports (I05), nor 市直 where it has no
    target (I01; it has one for I06, as a member of 市区(含贾汪))."""

    def add_computed(s: Session, plan: Plan) -> None:
        months = [month(2024, 3)]
        computed = [NewValue(code, unit, p, 1.0, None, None, 0) for p in months
                    for code in ("I01", "I05", "I06") for unit in ("徐州市", "丰县", "市直")]  # fmt: skip
        store_values(s, plan, computed, source=COMPUTED, source_name=f"实名制自动统计 (test, {SAMPLED})")

    settings, headers = demo_store(db_url, add_computed)
    with TestClient(create_app(settings)) as c:
        data = c.get("/api/v1/reconcile", params={"as_of": "2024-03"}, headers={"Authorization": headers["Authorization"]}).json()
        page = c.get("/reconcile", params={"as_of": "2024-03"}, headers={"Cookie": headers["Cookie"]}).text
        english = c.get("/reconcile", params={"as_of": "2024-03", "lang": "en"}, headers={"Cookie": headers["Cookie"]}).text
    pairs = {(r["indicator"], r["org_unit"]) for r in data["rows"]}
    assert ("I05", "徐州市") in pairs and not {p for p in pairs if p[0] == "I05" and p[1] != "徐州市"}
    assert {("I01", "徐州市"), ("I01", "丰县"), ("I06", "丰县"), ("I06", "市直")} <= pairs
    assert ("I01", "市直") not in pairs
    cities_only = {"I02", "I05", "I09", "I11", "I12", "I13", "I14", "I15", "I16", "I17", "I18", "I19"}
    assert not {p for p in pairs if p[0] in cities_only and p[1] != "徐州市"}
    assert not {p for p in pairs if p[1] == "市直" and p[0] not in ("I06", "I07", "I08")}
    # the latest computed values came from a sample of the ledgers: the page says how they were estimated
    assert 'id="sampled"' in page and "样本推算" in page and "estimates from a sample" in english


def test_reconcile_table_names_the_area_column(client) -> None:
    """The org-unit column is 地区 (Area): 单位 would read as the unit of measure."""
    c, headers, _ = client
    for lang, area in (("zh", "地区"), ("en", "Area")):
        page = c.get("/reconcile", params={"as_of": "2024-03", "lang": lang}, headers={"Cookie": headers["Cookie"]}).text
        head = re.search(r'<table class="grid" id="reconcile">\s*<thead>(.*?)</thead>', page, re.S)
        assert head and f"<th>{area}</th>" in head.group(1), lang
        assert "<th>单位</th>" not in head.group(1) and "<th>Org unit</th>" not in head.group(1)


def test_the_monthly_briefing_made_on_the_web_has_the_reconciliation(db_url: str, tmp_path) -> None:
    # The page's 生成报告 and `hrss report` make a report the same way (hrss.reports.service):
    # the web's monthly briefing, too, carries 数据会审 (沛县 I01 computed 1.2 × reported: flagged)
    # and says when the computed side is a sample estimate.
    from docx import Document
    from openpyxl import load_workbook

    from web_helpers import csrf_token, sign_in

    def add_computed(s: Session, plan: Plan) -> None:
        reported = load_values(s, plan, "reported")
        i01 = next(i for i in plan.indicators if i.code == "I01")
        computed = [NewValue("I01", "沛县", p, (reported.value(i01, "沛县", p.first, p.last) or 0) * 1.2, None, None, 0)
                    for p in MONTHS]
        store_values(s, plan, computed, source=COMPUTED, source_name=f"实名制自动统计 {SAMPLED} (test)")

    settings, _ = demo_store(db_url, add_computed)
    settings = settings.model_copy(update={"report_dir": tmp_path / "reports"})
    engine = make_engine(db_url)
    with transaction(engine) as s:
        create_user(s, username="tongji", display_name="统计", role="city_statistician", org_unit=None,
                    plan=prepare_store(engine), settings=settings, password=PASSWORD)
    engine.dispose()
    with TestClient(create_app(settings)) as c:
        sign_in(c, "tongji")
        form = c.get("/reports")
        made = c.post("/reports/generate", data={"csrf_token": csrf_token(form), "kind": "monthly", "as_of": "2024-03"})
        assert made.status_code == 200, made.text
    folder = tmp_path / "reports" / "web"
    text = "\n".join(p.text for p in Document(str(next(folder.glob("*.docx")))).paragraphs)
    assert "数据会审" in text and "样本推算" in text
    sheet = load_workbook(next(folder.glob("*.xlsx")))["数据会审"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert any("沛县" in [str(v) for v in row] for row in rows)
