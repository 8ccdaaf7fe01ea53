"""The cached dashboard, API, 任务台账 (/ledger) and 数据会审 (/reconcile): never stale,
never personal, cheap per request.

Two apps on one store stand for two worker processes: a change written by one (or by the
CLI) must show on the other's very next request, because every request reads the data
version from the store; nothing is invalidated in-process only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from hrss.audit.service import Origin, utcnow
from hrss.auth.service import create_api_token, create_user, start_session
from hrss.auth.tables import User, WebSession
from hrss.db import make_engine, session_factory, transaction
from hrss.monitoring import workflow as wf
from hrss.monitoring.demo import build_demo, load_demo
from hrss.monitoring.periods import parse_period
from hrss.monitoring.rules import load_rules
from hrss.monitoring.service import data_version, load_values
from hrss.monitoring.tables import ValueRecord
from hrss.monitoring.values import NewValue, store_values
from hrss.plan.model import Plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.stats.compute import ComputeResult
from hrss.stats.service import store_computed
from hrss.web import reconcile as reconcile_view
from hrss.web import tracking
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token

CARD = re.compile(r'data-indicator="I01">\s*<div class="name">[^<]*</div>\s*<div class="value">([^<]*)<')


@dataclass
class World:
    engine: Engine
    plan: Plan
    settings: Settings
    cookies: dict[str, str]  # username → session cookie
    token: str

    def cookie(self, username: str) -> dict[str, str]:
        return {"Cookie": f"hrss_session={self.cookies[username]}"}

    def app(self) -> TestClient:
        """One more "worker": its own app, engines and cache over the same store."""
        client = TestClient(create_app(self.settings))
        client.__enter__()
        return client


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    cookies = {}
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        for username, name, role, unit in (("tongji", "统计员甲", "city_statistician", None),
                                           ("xinyi", "新沂填报员", "district_operator", "新沂市"),
                                           ("admin", "管理员乙", "city_admin", None)):
            user, _ = create_user(s, username=username, display_name=name, role=role, org_unit=unit, plan=plan,
                                  settings=settings, password=PASSWORD)
            cookies[username] = start_session(s, user, client_addr="127.0.0.1", now=utcnow(), second_factor=True)
        token = create_api_token(s, user, "cache test")
    yield World(engine, plan, settings, cookies, token)
    engine.dispose()


def dashboard(client: TestClient, world: World, username: str = "tongji", as_of: str = "2025-11") -> str:
    page = client.get("/", params={"as_of": as_of}, headers=world.cookie(username))
    assert page.status_code == 200, page.text[:300]
    return page.text


def city_i01(client: TestClient, world: World, as_of: str = "2025-11") -> float:
    data = client.get("/api/v1/evaluation", params={"as_of": as_of, "org": "徐州市", "indicator": "I01"},
                      headers={"Authorization": f"Bearer {world.token}"}).json()
    [row] = data["results"]
    return float(row["actual"])


def test_an_approval_shows_on_the_next_request_in_every_worker(world: World) -> None:
    """新沂市 never sent 2025-11 (demo data): once it submits, the dashboard's reporting
    panel no longer lists it; once approved, its figure counts in the city's 城镇新增就业人数."""
    one, two = world.app(), world.app()
    try:
        for client in (one, two):  # warm both caches
            first = dashboard(client, world)
            assert "新沂市（未报送）" in first and dashboard(client, world) == first
        card = CARD.search(first)
        assert card and card.group(1).strip() == "37.4714"  # 万人 at its precision: one person is 0.0001
        before = city_i01(one, world)
        unit, period = world.plan.org_unit("新沂市"), wf.monthly_period("2025-11")
        operator = Origin(user_name="xinyi")
        with transaction(world.engine) as s:  # another process: the CLI, or the other worker
            wf.save(s, world.plan, unit, period, {"I01": "900"}, version=None, origin=operator)
        with transaction(world.engine) as s:
            wf.submit(s, world.plan, unit, period, version=None, comment="补报", rules=load_rules(), origin=operator)
        for client in (one, two):
            page = dashboard(client, world)
            assert "新沂市（未报送）" not in page and "100.0%" in page
            assert CARD.search(page).group(1).strip() == "37.4714"  # type: ignore[union-attr]  # not approved: not counted
            assert city_i01(client, world) == pytest.approx(before)
        with transaction(world.engine) as s:
            sub = wf.get_submission(s, world.plan, "新沂市", "2025-11")
            assert sub is not None
            wf.decide(s, world.plan, sub, "approve", version=None, comment="", origin=Origin(user_name="tongji"))
        for client in (one, two):
            assert CARD.search(dashboard(client, world)).group(1).strip() == "37.5614"  # type: ignore[union-attr]
            assert city_i01(client, world) == pytest.approx(before + 0.09)
            api = client.get("/api/v1/indicators/I01", params={"as_of": "2025-11"},
                             headers={"Authorization": f"Bearer {world.token}"}).json()
            city = next(e for e in api["by_org_unit"] if e["org_unit"] == "徐州市")
            assert city["actual"] == pytest.approx(before + 0.09) and api["trend"][-1]["actual"] == pytest.approx(before + 0.09)
    finally:
        one.__exit__(None, None, None)
        two.__exit__(None, None, None)


def test_an_import_replacing_as_many_values_shows_on_the_next_request(world: World) -> None:
    """A re-import that replaces values one for one leaves the number of values as it was;
    the version still moves (one import batch per import)."""
    client = world.app()
    try:
        before = city_i01(client, world, "2025-12")
        page = dashboard(client, world, as_of="2025-12")
        with transaction(world.engine) as s:
            [old] = s.execute(select(ValueRecord.value).where(
                ValueRecord.org_unit == "沛县", ValueRecord.indicator_code == "I01", ValueRecord.period == "2025-12",
            )).scalars()
            store_values(s, world.plan, [NewValue("I01", "沛县", parse_period("2025-12"), old + 0.5, None, None, 2)],
                         source="reported", source_name="更正.xlsx")
        assert city_i01(client, world, "2025-12") == pytest.approx(before + 0.5)
        assert dashboard(client, world, as_of="2025-12") != page
    finally:
        client.__exit__(None, None, None)


def test_the_version_moves_with_every_change_of_what_counts(world: World) -> None:
    plan, sessions = world.plan, session_factory(world.engine)
    with sessions() as s:
        start = data_version(s, plan)
    with transaction(world.engine) as s:  # a demo reload deletes every batch: the newest id still rises
        load_demo(s, plan, build_demo(plan, seed=7), force=True)
    with sessions() as s:
        reloaded = data_version(s, plan)
    assert reloaded != start and reloaded[0] > start[0]
    unit, period, origin = plan.org_unit("新沂市"), wf.monthly_period("2025-11"), Origin(user_name="xinyi")
    seen = [reloaded]
    for step in ("save", "submit", "approve", "reopen"):
        with transaction(world.engine) as s:
            if step == "save":
                wf.save(s, plan, unit, period, {"I01": "900"}, version=None, origin=origin)
            elif step == "submit":
                wf.submit(s, plan, unit, period, version=None, comment="补报", rules=load_rules(), origin=origin)
            else:
                sub = wf.get_submission(s, plan, "新沂市", "2025-11")
                assert sub is not None
                wf.decide(s, plan, sub, step, version=None, comment="重填", origin=Origin(user_name="tongji"))
        with sessions() as s:
            seen.append(data_version(s, plan))
    assert len(set(seen)) == len(seen), seen


def test_cached_sections_carry_nothing_personal(world: World) -> None:
    client = world.app()
    try:
        pages = {name: dashboard(client, world, name) for name in ("tongji", "xinyi", "admin")}
        for name, page in pages.items():
            assert csrf_token(page) == _csrf_of(world, name)
        assert "统计员甲" in pages["tongji"] and "新沂填报员" not in pages["tongji"] and "管理员乙" not in pages["tongji"]
        assert "新沂填报员" in pages["xinyi"] and "统计员甲" not in pages["xinyi"]
        assert 'href="/admin/users"' in pages["admin"] and 'href="/admin/users"' not in pages["xinyi"]
        assert 'href="/entry"' in pages["xinyi"] and 'href="/review"' not in pages["xinyi"]
        body = [re.sub(r"<header.*?</header>", "", p, flags=re.S) for p in pages.values()]
        assert body[0] == body[1] == body[2]  # the cached section is the same for everyone
    finally:
        client.__exit__(None, None, None)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()  # the store keeps only this


def _csrf_of(world: World, username: str) -> str:
    with session_factory(world.engine)() as s:
        ws = s.get(WebSession, _digest(world.cookies[username]))
        assert ws is not None
        return ws.csrf_token


def test_a_warm_request_costs_two_small_queries(world: World) -> None:
    """Who is asking (session and user in one query) and the data version; nothing else."""
    client = world.app()
    try:
        dashboard(client, world)
        city_i01(client, world)
        app = client.app
        statements: list[str] = []
        for engine in (app.state.engine, app.state.read_engine):  # type: ignore[attr-defined]
            event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        dashboard(client, world)
        assert len(statements) == 2, statements
        statements.clear()
        city_i01(client, world)
        assert len(statements) == 2, statements
    finally:
        client.__exit__(None, None, None)


def test_sessions_are_still_noted_and_ended_on_the_read_only_path(world: World) -> None:
    """The lookup made on the event loop writes nothing; a session last seen a while ago
    is noted as used, and an idle one is ended, in a transaction of their own."""
    client = world.app()
    try:
        digest = _digest(world.cookies["tongji"])
        with transaction(world.engine) as s:
            ws = s.get(WebSession, digest)
            assert ws is not None
            ws.last_seen_at -= timedelta(minutes=5)
            seen = ws.last_seen_at
        dashboard(client, world)
        with session_factory(world.engine)() as s:
            ws = s.get(WebSession, digest)
            assert ws is not None and ws.last_seen_at > seen
        with transaction(world.engine) as s:
            ws = s.get(WebSession, digest)
            assert ws is not None
            ws.last_seen_at -= timedelta(minutes=world.settings.session_idle_minutes + 1)
        gone = client.get("/", headers=world.cookie("tongji"), follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        with session_factory(world.engine)() as s:
            assert s.get(WebSession, digest) is None
    finally:
        client.__exit__(None, None, None)


def test_a_kept_page_follows_its_user_and_session(world: World) -> None:
    """The dashboard is kept whole per user (EvaluationCache.page): a change of the user's
    name, role or unit, a new session or a disabled account shows on the next request."""
    client = world.app()
    try:
        first = dashboard(client, world, "xinyi")
        assert dashboard(client, world, "xinyi") == first  # kept: the same page again
        assert 'href="/entry"' in first and 'href="/review"' not in first
        with transaction(world.engine) as s:
            user = s.execute(select(User).where(User.username == "xinyi")).scalar_one()
            user.display_name, user.role, user.org_unit = "新沂统计员", "city_statistician", None
        changed = dashboard(client, world, "xinyi")
        assert "新沂统计员" in changed and "新沂填报员" not in changed
        assert 'href="/review"' in changed
        with transaction(world.engine) as s:
            user = s.execute(select(User).where(User.username == "xinyi")).scalar_one()
            world.cookies["xinyi"] = start_session(s, user, client_addr="127.0.0.1", now=utcnow(), second_factor=True)
        assert csrf_token(dashboard(client, world, "xinyi")) == _csrf_of(world, "xinyi") != csrf_token(changed)
        english = client.get("/", params={"as_of": "2025-11", "lang": "en"}, headers=world.cookie("xinyi"))
        assert english.status_code == 200 and '<html lang="en">' in english.text and english.cookies.get("lang") == "en"
        with transaction(world.engine) as s:
            s.execute(select(User).where(User.username == "xinyi")).scalar_one().is_active = False
        gone = client.get("/", params={"as_of": "2025-11"}, headers=world.cookie("xinyi"), follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    finally:
        client.__exit__(None, None, None)


LEDGER_ROW = re.compile(r'<tr id="C001" data-commitment="C001" data-status="([a-z_]+)".*?</tr>', re.S)
RECONCILE_ROW = re.compile(r'<tr class="(red|green)" data-indicator="I01" data-unit="新沂市"[^>]*>(.*?)</tr>', re.S)


def page(client: TestClient, world: World, path: str, username: str = "tongji") -> str:
    found = client.get(path, params={"as_of": "2025-11"}, headers=world.cookie(username))
    assert found.status_code == 200, found.text[:300]
    return found.text


def test_ledger_and_reconcile_are_built_once_per_data_version_and_follow_every_change(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """任务台账 and 数据会审 are judged once per data version in each worker, not per request;
    an approval moves C001 (城镇累计新增就业人数 37.5万人) from 推进中 to 已达到 and 新沂市's
    reported figure on both workers' next request, a stats compute fills the computed side,
    and an evidence note shows at once (notes are read per request)."""
    builds: list[str] = []
    real_collect, real_reconcile = tracking.collect, reconcile_view.reconcile

    def collect(*args: Any, **kwargs: Any) -> Any:
        builds.append("ledger")
        return real_collect(*args, **kwargs)

    def reconcile(*args: Any, **kwargs: Any) -> Any:
        builds.append("reconcile")
        return real_reconcile(*args, **kwargs)

    monkeypatch.setattr(tracking, "collect", collect)
    monkeypatch.setattr(reconcile_view, "reconcile", reconcile)
    one, two = world.app(), world.app()
    try:
        for client in (one, two):
            ledger, compared = page(client, world, "/ledger"), page(client, world, "/reconcile")
            assert page(client, world, "/ledger") == ledger and page(client, world, "/reconcile") == compared
            page(client, world, "/ledger", "xinyi")  # another user, another role: the same judgement
            api = client.get("/api/v1/reconcile", params={"as_of": "2025-11"},
                             headers={"Authorization": f"Bearer {world.token}"})
            assert api.status_code == 200
        assert sorted(builds) == ["ledger", "ledger", "reconcile", "reconcile"]  # once per worker
        row, reported = LEDGER_ROW.search(ledger), RECONCILE_ROW.search(compared)
        assert row and row.group(1) == "in_progress" and "累计完成37.47万人" in row.group(0)
        assert reported and reported.group(1) == "red" and '<td class="num">0.28</td><td class="num">—</td>' in reported.group(2)

        unit, period, operator = world.plan.org_unit("新沂市"), wf.monthly_period("2025-11"), Origin(user_name="xinyi")
        with transaction(world.engine) as s:  # another process: the CLI, or the other worker
            wf.save(s, world.plan, unit, period, {"I01": "900"}, version=None, origin=operator)
            wf.submit(s, world.plan, unit, period, version=None, comment="补报", rules=load_rules(), origin=operator)
        with transaction(world.engine) as s:
            sub = wf.get_submission(s, world.plan, "新沂市", "2025-11")
            assert sub is not None
            wf.decide(s, world.plan, sub, "approve", version=None, comment="", origin=Origin(user_name="tongji"))
        for client in (one, two):
            row = LEDGER_ROW.search(page(client, world, "/ledger"))
            assert row and row.group(1) == "met" and "累计完成37.56万人" in row.group(0) and "已达到" in row.group(0)
            reported = RECONCILE_ROW.search(page(client, world, "/reconcile"))
            assert reported and '<td class="num">0.37</td><td class="num">—</td>' in reported.group(2)

        with transaction(world.engine) as s:  # hrss stats compute: the same figures from the real-name ledgers
            values = load_values(s, world.plan, "reported")
            i01 = world.plan.indicator("I01")
            months = [wf.monthly_period(f"2025-{m:02d}") for m in range(1, 12)]
            same = [NewValue("I01", "新沂市", p, values.value(i01, "新沂市", p.first, p.last), None, None, 0)
                    for p in months]  # fmt: skip
            store_computed(s, world.plan, ComputeResult("test", months[0].first, months[-1].last, values=same))
        for client in (one, two):
            reported = RECONCILE_ROW.search(page(client, world, "/reconcile"))
            assert reported and reported.group(1) == "green" and '<td class="num">0.37</td><td class="num">0.37</td>' in reported.group(2)
            flagged = client.get("/api/v1/reconcile", params={"as_of": "2025-11", "flagged": "true"},
                                 headers={"Authorization": f"Bearer {world.token}"}).json()
            assert ("I01", "新沂市") not in {(r["indicator"], r["org_unit"]) for r in flagged["rows"]}

        before = page(one, world, "/ledger")
        saved = one.post("/ledger/C001", data={"csrf_token": csrf_token(before), "status": "已完成", "note": "就业台账已核"},
                         headers=world.cookie("tongji"), follow_redirects=False)
        assert saved.status_code == 303
        for client in (one, two):
            row = LEDGER_ROW.search(page(client, world, "/ledger"))
            assert row and "就业台账已核" in row.group(0)
    finally:
        one.__exit__(None, None, None)
        two.__exit__(None, None, None)
