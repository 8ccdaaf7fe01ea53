"""Tracking: reporting completeness and timeliness, the commitments ledger, reports on the web."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrss.audit.service import Origin
from hrss.audit.tables import AuditEvent
from hrss.auth.service import create_user
from hrss.db import make_engine, transaction
from hrss.monitoring import workflow as wf
from hrss.monitoring.completeness import CellFact, build_grid, deadline, judge
from hrss.monitoring.demo import build_demo, load_demo
from hrss.monitoring.ledger_tables import notes_for
from hrss.monitoring.periods import month_index
from hrss.monitoring.rules import load_rules
from hrss.plan.model import Plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token, sign_in

USERS = {
    "tongji": ("city_statistician", None),
    "lingdao": ("leader", None),
    "shenji": ("auditor", None),
}
JAN, FEB, MAR = (month_index(2024, m) for m in (1, 2, 3))


# --- the pure part: hand-made cases ------------------------------------------------------


def test_deadline_is_the_tenth_of_the_following_month() -> None:
    assert deadline(JAN) == date(2024, 2, 10)
    assert deadline(month_index(2024, 12)) == date(2025, 1, 10)
    assert deadline(JAN, day=15) == date(2024, 2, 15)
    # on the deadline day itself nothing is overdue yet; the day after it is
    assert judge(CellFact("A", JAN), today=date(2024, 2, 10)).state == "not_due"
    late = judge(CellFact("A", JAN), today=date(2024, 2, 11))
    assert (late.state, late.due, late.late) == ("missing", True, True)


def test_grid_of_two_units_and_three_months() -> None:
    today = date(2024, 3, 20)  # deadlines: Jan → 02-10, Feb → 03-10 (passed); Mar → 04-10 (not yet)
    facts = [
        CellFact("A", JAN, "approved", date(2024, 2, 10)),  # on the deadline day: on time
        CellFact("A", FEB, "submitted", date(2024, 3, 12)),  # two days late
        # A, Mar: nothing yet, not due → 未到期, not counted
        CellFact("B", JAN, imported=True),  # imported: received, never late
        CellFact("B", FEB, "returned", date(2024, 3, 1)),  # returned: still owed, overdue
        CellFact("B", MAR, "draft"),  # a draft before its deadline: not counted
    ]
    grid = build_grid({"A": [JAN, FEB, MAR], "B": [JAN, FEB, MAR]}, facts, today)
    states = {(c.unit, c.month): (c.state, c.late) for c in grid.cells.values()}
    assert states == {
        ("A", JAN): ("approved", False), ("A", FEB): ("submitted", True), ("A", MAR): ("not_due", False),
        ("B", JAN): ("imported", False), ("B", FEB): ("returned", True), ("B", MAR): ("draft", False),
    }
    # A: due Jan+Feb = 2, received 2, on time 1 (Jan) → completeness 2/2 = 100%, timeliness 1/2 = 50%
    assert (grid.by_unit["A"].completeness, grid.by_unit["A"].timeliness) == (1.0, 0.5)
    # B: due Jan+Feb = 2, received 1 (Jan, imported), on time 1 → 1/2 = 50%, 1/2 = 50%
    assert (grid.by_unit["B"].completeness, grid.by_unit["B"].timeliness) == (0.5, 0.5)
    # Jan: 2 due, 2 received, 2 on time → 100%, 100%; Feb: 2 due, 1 received (A, late) → 50%, 0/2 = 0%
    assert (grid.by_month[JAN].completeness, grid.by_month[JAN].timeliness) == (1.0, 1.0)
    assert (grid.by_month[FEB].completeness, grid.by_month[FEB].timeliness) == (0.5, 0.0)
    assert grid.by_month[MAR].due == 0 and grid.by_month[MAR].completeness is None  # nothing due yet
    # all: 4 due, 3 received, 2 on time → 3/4 = 75%, 2/4 = 50%
    assert (grid.total.due, grid.total.received, grid.total.on_time) == (4, 3, 2)
    assert (grid.total.completeness, grid.total.timeliness) == (0.75, 0.5)
    # 催报: only B's returned February is owed and overdue (by 10 days since 03-10)
    assert [(r.unit, r.month, r.state, r.days_overdue) for r in grid.reminders] == [("B", FEB, "returned", 10)]


def test_reminders_newest_first_and_only_scheduled_months() -> None:
    today = date(2024, 6, 1)  # Jan–Apr overdue
    grid = build_grid({"A": [JAN, FEB, MAR], "B": [MAR]}, [CellFact("A", FEB, "approved", date(2024, 3, 1))], today)
    assert grid.cell("B", JAN) is None  # B has nothing to report in January: not a cell, not counted
    assert [(r.unit, r.month) for r in grid.reminders] == [("A", MAR), ("B", MAR), ("A", JAN)]
    assert (grid.total.due, grid.total.received) == (4, 1)


# --- the web -------------------------------------------------------------------------------


_token = csrf_token


def _settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, report_dir=tmp_path / "reports")


def _store(settings: Settings, *, demo: bool) -> None:
    engine = make_engine(settings.database_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        if demo:
            load_demo(s, plan, build_demo(plan))
        for name, (role, unit) in USERS.items():
            create_user(s, username=name, display_name=name, role=role, org_unit=unit, plan=plan,
                        settings=settings, password=PASSWORD)
    engine.dispose()


def _app(settings: Settings) -> FastAPI:
    return create_app(settings)


class Clients:
    """Signed-in test clients of one app, one per user, closed at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.open: list[TestClient] = []

    def __call__(self, username: str) -> TestClient:
        c = TestClient(_app(self.settings))
        c.__enter__()
        self.open.append(c)
        sign_in(c, username, PASSWORD)  # with the second factor for the privileged roles
        return c

    def close(self) -> None:
        for c in self.open:
            c.__exit__(None, None, None)


@pytest.fixture
def empty(db_url: str, tmp_path: Path) -> Iterator[Clients]:
    settings = _settings(db_url, tmp_path)
    _store(settings, demo=False)
    clients = Clients(settings)
    yield clients
    clients.close()


@pytest.fixture
def demo(db_url: str, tmp_path: Path) -> Iterator[Clients]:
    settings = _settings(db_url, tmp_path)
    _store(settings, demo=True)
    clients = Clients(settings)
    yield clients
    clients.close()


def _actions(settings: Settings) -> list[str]:
    engine = make_engine(settings.database_url)
    with transaction(engine) as s:
        found = [a for (a,) in s.execute(select(AuditEvent.action).order_by(AuditEvent.id))]
    engine.dispose()
    return found


def _cell(html: str, unit: str, month: str) -> re.Match[str]:
    found = re.search(rf'data-unit="{unit}" data-month="{month}" data-state="(\w+)" data-late="(\w+)"', html)
    assert found, (unit, month)
    return found


def test_completeness_after_a_real_approval(empty: Clients, plan: Plan) -> None:
    engine = make_engine(empty.settings.database_url)
    origin, reviewer = Origin(user_name="peixian"), Origin(user_name="tongji")
    with transaction(engine) as s:  # 沛县 enters, submits and the city approves March 2024
        unit, period = plan.org_unit("沛县"), wf.monthly_period("2024-03")
        result = wf.save(s, plan, unit, period, {"I01": "300", "I04": "120"}, version=None, origin=origin)
        assert not result.errors
        wf.submit(s, plan, unit, period, version=None, comment="", rules=load_rules(None), origin=origin)
        wf.decide(s, plan, result.submission, "approve", version=None, comment="", origin=reviewer)
    engine.dispose()
    leader = empty("lingdao")
    page = leader.get("/completeness", params={"year": 2024})
    assert page.status_code == 200 and "已审核" in page.text and "未报送" in page.text
    # approved, but submitted today — long after its deadline (2024-04-10): late
    assert _cell(page.text, "沛县", "2024-03").groups() == ("approved", "true")
    assert _cell(page.text, "丰县", "2024-03").groups() == ("missing", "true")
    assert _cell(page.text, "徐州市", "2024-01").groups() == ("missing", "true")  # the city, for its own indicators
    assert 'data-unit="主城区"' not in page.text  # groups do not report
    data = leader.get("/api/v1/completeness", params={"year": 2024}).json()
    units = {u["org_unit"]: u for u in data["org_units"]}
    assert len(units) == 15 and units["沛县"]["received"] == 1 and units["沛县"]["on_time"] == 0
    assert units["沛县"]["completeness"] == pytest.approx(1 / 12)
    assert data["total"]["due"] == 15 * 12 and data["total"]["received"] == 1
    assert data["reminders"][0]["month"] == "2024-12" and len(data["reminders"]) == 15 * 12 - 1
    assert empty("shenji").get("/completeness").status_code == 200  # every role may view it
    assert leader.get("/completeness", params={"year": 2030}).status_code == 404  # no grid outside the plan
    with TestClient(_app(empty.settings)) as anonymous:
        assert anonymous.get("/api/v1/completeness").status_code == 401


def test_ledger_lists_every_commitment_and_takes_evidence_notes(demo: Clients, plan: Plan) -> None:
    stat, leader = demo("tongji"), demo("lingdao")
    page = stat.get("/ledger", params={"as_of": "2025-12"})
    assert page.status_code == 200
    assert len(re.findall(r'data-commitment="C\d+"', page.text)) == len(plan.commitments) == 109
    c001 = re.search(r'<tr id="C001".*?</tr>', page.text, re.S).group(0)
    assert re.search(r'data-status="(met|not_met)"', c001) and "截至2025年12月累计完成" in c001
    assert ("已达到" in c001) != ("未达到" in c001)
    assert "需业务处室提供佐证" in page.text and "就业" in c001
    employment = leader.get("/ledger", params={"area": "employment"})
    assert len(re.findall(r'data-commitment="', employment.text)) == sum(c.area == "employment" for c in plan.commitments)
    assert leader.get("/ledger", params={"status": "nonsense"}).status_code == 422
    assert "2025-12" in leader.get("/ledger", params={"as_of": "2026-03"}).text  # judged within the plan period
    # an evidence note: city statistician only, CSRF-checked, audited
    evidence = next(c.id for c in plan.commitments if c.indicator is None)
    note = {"csrf_token": _token(page.text), "status": "已完成", "note": "已开展培训3.2万人次，\r\n见人才处报告\x00"}
    assert stat.post(f"/ledger/{evidence}", data={**note, "csrf_token": "forged"}).status_code == 403
    assert leader.post(f"/ledger/{evidence}", data={**note, "csrf_token": _token(leader.get("/ledger").text)}).status_code == 403
    assert stat.post("/ledger/C999", data=note).status_code == 404
    assert stat.post(f"/ledger/{evidence}", data={**note, "status": "差不多"}).status_code == 422
    assert stat.post(f"/ledger/{evidence}", data={**note, "note": "长" * 2001}).status_code == 422
    done = stat.post(f"/ledger/{evidence}", data=note, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/ledger#{evidence}"
    noted = leader.get("/ledger", params={"status": "已完成"})
    assert re.findall(r'data-commitment="(C\d+)"', noted.text) == [evidence] and "见人才处报告" in noted.text
    assert _actions(demo.settings).count("commitment.noted") == 1
    engine = make_engine(demo.settings.database_url)
    with transaction(engine) as s:  # stored without NUL (PostgreSQL refuses it) and with plain newlines
        assert notes_for(s, plan.id)[evidence].note == "已开展培训3.2万人次，\n见人才处报告"
    engine.dispose()


def test_reports_generate_download_and_audit(demo: Clients) -> None:
    stat, leader, auditor = demo("tongji"), demo("lingdao"), demo("shenji")
    form = stat.get("/reports")
    assert form.status_code == 200 and "月度简报" in form.text
    data = {"csrf_token": _token(form.text), "kind": "monthly", "as_of": "2025-12"}
    assert stat.post("/reports/generate", data={**data, "csrf_token": "forged"}).status_code == 403
    bad = stat.post("/reports/generate", data={**data, "kind": "weekly"})
    assert bad.status_code == 422 and "未知报告类型" in bad.text
    outside = stat.post("/reports/generate", data={**data, "as_of": "2026-03"})
    assert outside.status_code == 422 and "不在规划期" in outside.text
    page = stat.post("/reports/generate", data=data)
    assert page.status_code == 200, page.text
    names = re.findall(r'data-file="([^"]+)"', page.text)
    assert sorted(Path(n).suffix for n in names) == [".docx", ".xlsx"]
    folder = demo.settings.report_dir / "web"
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # nothing half-written left over
    docx = next(n for n in names if n.endswith(".docx"))
    got = leader.get(f"/reports/files/{docx}")
    assert got.status_code == 200 and got.content.startswith(b"PK")
    assert got.content == (folder / docx).read_bytes()
    assert auditor.get("/reports").status_code == 403
    assert auditor.get(f"/reports/files/{docx}").status_code == 403
    assert leader.get("/reports/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert leader.get("/reports/files/passwd").status_code == 404
    # a leader reads reports and never rewrites them: no form, and the POST is refused with a page
    listing = leader.get("/reports")
    assert listing.status_code == 200 and docx in listing.text and 'id="generate"' not in listing.text
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    refused = leader.post("/reports/generate", data={**data, "csrf_token": _token(listing.text)},
                          headers={"accept": "text/html"})
    assert refused.status_code == 403 and "无权执行此操作：生成报告" in refused.text and "领导" in refused.text
    assert 'id="error"' in refused.text and 'href="/"' in refused.text  # a page with a way back
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert stat.post("/reports/generate", data=data).status_code == 200  # again: same files, replaced
    actions = _actions(demo.settings)
    assert actions.count("report.generated") == 2 and actions.count("report.downloaded") == 1


def test_free_text_is_masked_on_pages_and_a_status_change_keeps_the_note(empty: Clients, plan: Plan) -> None:
    """ID and mobile numbers in comments and evidence notes are masked for every role (no role
    has a right to them); saving a note as the form showed it keeps the full note."""
    raw_id, raw_phone = "320382198001010019", "13812341234"
    engine = make_engine(empty.settings.database_url)
    with transaction(engine) as s:
        unit, period = plan.org_unit("沛县"), wf.monthly_period("2024-03")
        result = wf.save(s, plan, unit, period, {"I01": "300", "I04": "120"}, version=None, origin=Origin(user_name="peixian"))
        wf.submit(s, plan, unit, period, version=None, comment=f"联系人手机{raw_phone}，完成率38.03%",
                  rules=load_rules(None), origin=Origin(user_name="peixian"))
        wf.decide(s, plan, result.submission, "return", version=None, comment=f"身份证{raw_id}有误，请核对",
                  origin=Origin(user_name="tongji"))
        sub_id = result.submission.id
    stat, auditor = empty("tongji"), empty("shenji")
    review = stat.get(f"/review/{sub_id}")
    assert review.status_code == 200, review.text
    assert "138****1234" in review.text and "320382********0019" in review.text and "38.03%" in review.text
    evidence = next(c.id for c in plan.commitments if c.indicator is None)
    page = stat.get("/ledger")
    note = f"培训名单见附件，联系人{raw_phone}（身份证{raw_id}），2025-12 完成"
    assert stat.post(f"/ledger/{evidence}", data={"csrf_token": _token(page.text), "status": "进行中",
                                                  "note": note}, follow_redirects=False).status_code == 303
    for client in (stat, auditor):
        shown = client.get("/ledger").text
        assert "联系人138****1234（身份证320382********0019），2025-12 完成" in shown
        assert raw_phone not in shown and raw_id not in shown
    # the form showed the masked note; sent back unchanged with a new status, the full note is kept
    textarea = re.search(rf'action="/ledger/{evidence}".*?<textarea[^>]*>([^<]*)</textarea>', stat.get("/ledger").text, re.S)
    assert textarea and "138****1234" in textarea.group(1)
    form = {"csrf_token": _token(page.text), "status": "已完成", "note": textarea.group(1).replace("&amp;", "&")}
    assert stat.post(f"/ledger/{evidence}", data=form, follow_redirects=False).status_code == 303
    with transaction(engine) as s:
        kept = notes_for(s, plan.id)[evidence]
        assert (kept.status, kept.note) == ("已完成", note)
    audit = auditor.get("/admin/audit", params={"action": "commitment.noted"}).text
    assert "138****1234" in audit and raw_phone not in audit and raw_id not in audit
    events = auditor.get("/api/v1/audit").json()["events"]
    assert raw_phone not in str(events) and raw_id not in str(events) and "320382********0019" in str(events)
    engine.dispose()
