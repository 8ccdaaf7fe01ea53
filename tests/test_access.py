"""Access matrix: every route × every role × own/other org unit, allowed or denied.

EXPECTATIONS holds one entry per (method, path template) of the app, exactly as the
routes are registered; `test_every_route_has_an_expectation` fails when a route has none
(or an expectation names a route that no longer exists). The matrix test then signs in
as each principal and sends every request, for routes naming an org unit once for 沛县
(the district operator's own unit) and once for 丰县 (another unit).

Outcomes, judged from the answer:
- "ok": passed the access check: 2xx or 3xx that is not a sign-in redirect, or a 4xx the
  case lists in `accept` (validation that runs after the access check);
- "login": 401 (API) or 303 to /login?next=… (pages);
- "denied": 403 with the access message ("not allowed"), so a CSRF refusal (also 403)
  never passes for a denial.
- "mfa" (the half-signed-in walk only): 401 asking for the second factor (API) or 303 to
  /account/mfa?next=… (pages).

The privileged principals sign in with their second factor (web_helpers.sign_in enrols
them at the first sign-in). `test_a_half_signed_in_session_opens_nothing_but_the_second_factor`
walks the same matrix with each privileged account after its password only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from httpx2 import Response
from starlette.routing import Mount

from hrss.audit.service import Origin
from hrss.auth.roles import MFA_ROLES
from hrss.auth.service import create_api_token, create_user, get_user, list_api_tokens
from hrss.db import make_engine, transaction
from hrss.monitoring import workflow as wf
from hrss.monitoring.demo import build_demo, load_demo
from hrss.monitoring.ledger_tables import NOTE_STATUSES
from hrss.monitoring.rules import load_rules
from hrss.monitoring.tables import Submission
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from hrss.web.tracking import report_dir, report_files
from web_helpers import PASSWORD, csrf_token
from web_helpers import sign_in as sign_in_as

OWN, OTHER = "沛县", "丰县"  # the district operator's unit, and another unit

ANONYMOUS, CITY_ADMIN, CITY_STATISTICIAN = "anonymous", "city_admin", "city_statistician"
DISTRICT_OPERATOR, LEADER, AUDITOR = "district_operator", "leader", "auditor"
SECURITY_ADMIN = "security_admin"
PRINCIPALS = (ANONYMOUS, CITY_ADMIN, CITY_STATISTICIAN, DISTRICT_OPERATOR, LEADER, AUDITOR, SECURITY_ADMIN)
USERS = {  # principal → user name, org unit
    CITY_ADMIN: ("admin", None),
    CITY_STATISTICIAN: ("tongji", None),
    DISTRICT_OPERATOR: ("peixian", OWN),
    LEADER: ("lingdao", None),
    AUDITOR: ("shenji", None),
    SECURITY_ADMIN: ("anquan", None),
}
PRIVILEGED = tuple(p for p in PRINCIPALS if p in {r.value for r in MFA_ROLES})
TARGET = "mubiao"  # the account the user-administration requests act on

OK, LOGIN, DENIED, MFA = "ok", "login", "denied", "mfa"

# One outcome per principal, in PRINCIPALS order:
#   anonymous  city_admin  city_statistician  district_operator  leader  auditor  security_admin
# "a/b" gives the outcome for the own unit (沛县) / another unit (丰县) of a route naming one.
PUBLIC = "ok ok ok ok ok ok ok"  # no sign-in needed
SIGNED_IN = "login ok ok ok ok ok ok"  # view: everyone signed in
ENTER = "login ok ok ok/denied denied denied denied"  # enter: the city for every unit, a district its own
SUBMIT = "login denied denied ok/denied denied denied denied"  # submit: the district, its own unit only
REVIEW = "login ok ok denied denied denied denied"  # review and reopen: the city roles
EXPORT = "login ok ok ok ok denied denied"  # export: all but the auditor and the security administrator
GENERATE = "login ok ok denied denied denied denied"  # generate_reports: the city roles (it replaces everyone's files)
AUDIT = "login denied denied denied denied ok denied"  # read_audit: the auditor alone (三权分立)
VIEW_USERS = "login ok denied denied denied denied ok"  # view_users: the system administrator reads, the security administrator
MANAGE_USERS = "login denied denied denied denied denied ok"  # manage_users: the security administrator alone
# POST /login: anonymous signs in as the leader (password only); a privileged account signing
# in again is sent on to its second factor
SIGN_IN = "ok mfa mfa ok ok mfa mfa"

Request = dict[str, Any]  # keyword arguments of TestClient.request, "url" included


@dataclass
class Ctx:
    """What a request builder may use: the signed-in principal and the test's objects."""

    client: TestClient
    app: FastAPI
    principal: str = ANONYMOUS
    csrf: str = "no-session"  # anonymous: any non-empty value (the field is required)
    review_subs: dict[str, int] = field(default_factory=dict)  # unit → a submitted submission
    decision_subs: dict[tuple[str, str], int] = field(default_factory=dict)  # (principal, unit) → its own
    templates: dict[str, bytes] = field(default_factory=dict)  # unit → an entry template for 2024-05
    report_name: str = ""
    commitment: str = ""

    @property
    def username(self) -> str:
        return USERS[self.principal][0] if self.principal in USERS else USERS[LEADER][0]

    def version(self, sub_id: int) -> int:
        with self.app.state.sessions() as s:
            return s.get(Submission, sub_id).version


Builder = Callable[[Ctx, str], Request]  # (ctx, org unit) → request


@dataclass(frozen=True)
class Case:
    expect: str  # see PUBLIC … MANAGE_USERS above
    build: Builder
    scoped: bool = False  # the request names an org unit: sent for OWN and for OTHER
    accept: tuple[int, ...] = ()  # 4xx answers that still mean "passed the access check"
    name: str = ""

    def outcomes(self) -> dict[str, tuple[str, str]]:
        """principal → (outcome for OWN, outcome for OTHER)."""
        cells = self.expect.split()
        assert len(cells) == len(PRINCIPALS), self.expect
        out = {}
        for who, cell in zip(PRINCIPALS, cells, strict=True):
            own, _, other = cell.partition("/")
            assert self.scoped or not other, f"{self.expect}: own/other for a route without an org unit"
            assert {own, other or own} <= {OK, LOGIN, DENIED, MFA}, self.expect
            out[who] = (own, other or own)
        return out


def _form(ctx: Ctx, **data: Any) -> dict[str, Any]:
    return {"csrf_token": ctx.csrf, **data}


def _login_form(ctx: Ctx, _: str) -> Request:
    page = ctx.client.get("/login")
    return {"url": "/login", "data": {"username": ctx.username, "password": PASSWORD, "csrf_token": csrf_of(page),
                                      "next": "/"}}


def _decision(action: str, comment: str) -> Builder:
    def build(ctx: Ctx, unit: str) -> Request:
        sub = ctx.decision_subs[ctx.principal, unit]
        return {"url": f"/review/{sub}", "data": _form(ctx, action=action, version=ctx.version(sub), comment=comment)}
    return build


def _revoke(ctx: Ctx, _: str) -> Request:
    with ctx.app.state.sessions.begin() as s:  # a fresh token for every attempt
        target = get_user(s, TARGET)
        create_api_token(s, target, f"撤销测试 {ctx.principal}")
        token_id = max(t.id for t in list_api_tokens(s, target))
    return {"url": f"/admin/users/{TARGET}/tokens/{token_id}/revoke", "data": _form(ctx)}


def _entry(action: str) -> Builder:
    def build(ctx: Ctx, unit: str) -> Request:
        return {"url": "/entry", "data": _form(ctx, org=unit, period="2024-04", version="", action=action,
                                               comment="已核实", value__I01="300", value__I04="120")}
    return build


def _upload(ctx: Ctx, unit: str) -> Request:
    return {"url": "/entry/upload", "data": _form(ctx, org=unit, period="2024-05", version=""),
            "files": {"file": (f"{unit}.xlsx", ctx.templates[unit], "application/octet-stream")}}


# (method, path template) → the cases sent for it. Requests run in this order for each
# principal: the last three end or replace the session, so they come last.
EXPECTATIONS: dict[tuple[str, str], list[Case]] = {
    # pages (pages.py)
    ("GET", "/"): [Case(SIGNED_IN, lambda c, u: {"url": "/"})],
    ("GET", "/indicators/{code}"): [Case(SIGNED_IN, lambda c, u: {"url": "/indicators/I01"})],
    ("GET", "/org-units/{name}"): [Case(SIGNED_IN, lambda c, u: {"url": f"/org-units/{u}"}, scoped=True)],
    # data entry and review (entry.py)
    ("GET", "/entry"): [Case(ENTER, lambda c, u: {"url": "/entry", "params": {"org": u, "period": "2024-04"}},
                             scoped=True)],
    ("POST", "/entry"): [Case(ENTER, _entry("save"), scoped=True, name="save"),
                         Case(SUBMIT, _entry("submit"), scoped=True, name="submit")],
    ("GET", "/entry/template.xlsx"): [Case(ENTER, lambda c, u: {"url": "/entry/template.xlsx",
                                                                "params": {"org": u, "period": "2024-05"}},
                                           scoped=True)],
    ("POST", "/entry/upload"): [Case(ENTER, _upload, scoped=True)],
    ("GET", "/review"): [Case(REVIEW, lambda c, u: {"url": "/review"})],
    ("GET", "/review/{sub_id}"): [Case(REVIEW, lambda c, u: {"url": f"/review/{c.review_subs[u]}"}, scoped=True)],
    ("POST", "/review/{sub_id}"): [Case(REVIEW, _decision("approve", ""), scoped=True, name="approve"),
                                   Case(REVIEW, _decision("reopen", "请重新核实"), scoped=True, name="reopen")],
    # administration (admin.py)
    ("GET", "/admin/audit"): [Case(AUDIT, lambda c, u: {"url": "/admin/audit"})],
    ("GET", "/api/v1/audit"): [Case(AUDIT, lambda c, u: {"url": "/api/v1/audit"})],
    ("GET", "/admin/users"): [Case(VIEW_USERS, lambda c, u: {"url": "/admin/users"})],
    ("POST", "/admin/users"): [Case(MANAGE_USERS, lambda c, u: {"url": "/admin/users", "data": _form(
        c, username=f"new-{c.principal.replace('_', '-')}", role="leader", display_name="新用户", org_unit="")})],
    ("GET", "/admin/users/{username}"): [Case(VIEW_USERS, lambda c, u: {"url": f"/admin/users/{TARGET}"})],
    ("POST", "/admin/users/{username}/role"): [Case(MANAGE_USERS, lambda c, u: {
        "url": f"/admin/users/{TARGET}/role", "data": _form(c, role="leader", org_unit="")})],
    ("POST", "/admin/users/{username}/active"): [Case(MANAGE_USERS, lambda c, u: {
        "url": f"/admin/users/{TARGET}/active", "data": _form(c, active="1")})],
    ("POST", "/admin/users/{username}/password"): [Case(MANAGE_USERS, lambda c, u: {
        "url": f"/admin/users/{TARGET}/password", "data": _form(c)})],
    ("POST", "/admin/users/{username}/mfa/reset"): [Case(MANAGE_USERS, lambda c, u: {
        "url": f"/admin/users/{TARGET}/mfa/reset", "data": _form(c)})],
    ("POST", "/admin/users/{username}/tokens"): [Case(MANAGE_USERS, lambda c, u: {
        "url": f"/admin/users/{TARGET}/tokens", "data": _form(c, name="报表接口")})],
    ("POST", "/admin/users/{username}/tokens/{token_id}/revoke"): [Case(MANAGE_USERS, _revoke)],
    # tracking (tracking.py)
    ("GET", "/completeness"): [Case(SIGNED_IN, lambda c, u: {"url": "/completeness", "params": {"year": 2024}})],
    ("GET", "/api/v1/completeness"): [Case(SIGNED_IN, lambda c, u: {"url": "/api/v1/completeness",
                                                                    "params": {"year": 2024}})],
    ("GET", "/ledger"): [Case(SIGNED_IN, lambda c, u: {"url": "/ledger"})],
    # 数据会审 (reconcile.py)
    ("GET", "/reconcile"): [Case(SIGNED_IN, lambda c, u: {"url": "/reconcile", "params": {"as_of": "2024-03"}})],
    ("GET", "/api/v1/reconcile"): [Case(SIGNED_IN, lambda c, u: {"url": "/api/v1/reconcile",
                                                                 "params": {"as_of": "2024-03"}})],
    ("POST", "/ledger/{commitment_id}"): [Case(REVIEW, lambda c, u: {
        "url": f"/ledger/{c.commitment}", "data": _form(c, status=NOTE_STATUSES[0], note="按月跟进")})],
    ("GET", "/reports"): [Case(EXPORT, lambda c, u: {"url": "/reports"})],
    ("POST", "/reports/generate"): [Case(GENERATE, lambda c, u: {
        "url": "/reports/generate", "data": _form(c, kind="monthly", as_of="2024-03")})],
    ("GET", "/reports/files/{name}"): [Case(EXPORT, lambda c, u: {"url": f"/reports/files/{quote(c.report_name)}"})],
    # JSON API (api.py)
    ("GET", "/api/v1/plan"): [Case(SIGNED_IN, lambda c, u: {"url": "/api/v1/plan"})],
    ("GET", "/api/v1/evaluation"): [Case(SIGNED_IN, lambda c, u: {"url": "/api/v1/evaluation", "params": {"org": u}},
                                         scoped=True)],
    ("GET", "/api/v1/indicators/{code}"): [Case(SIGNED_IN, lambda c, u: {"url": "/api/v1/indicators/I01"})],
    ("GET", "/api/v1/indicators/{code}/evaluation.csv"): [Case(EXPORT, lambda c, u: {
        "url": "/api/v1/indicators/I01/evaluation.csv"})],
    # the API documentation (api.docs_router): everyone signed in; static files: public
    ("GET", "/openapi.json"): [Case(SIGNED_IN, lambda c, u: {"url": "/openapi.json"})],
    ("GET", "/api/docs"): [Case(SIGNED_IN, lambda c, u: {"url": "/api/docs"})],
    ("GET", "/static/{path}"): [Case(PUBLIC, lambda c, u: {"url": "/static/app.css"})],
    # account (account.py): the sign-in page is public, the password form needs a session
    ("GET", "/login"): [Case(PUBLIC, lambda c, u: {"url": "/login"})],
    ("GET", "/account/password"): [Case(SIGNED_IN, lambda c, u: {"url": "/account/password"})],
    ("POST", "/account/password"): [Case(SIGNED_IN, lambda c, u: {"url": "/account/password", "data": _form(
        c, current_password=PASSWORD, new_password="Another-2025-plan!", confirm_password="Differs-2025-plan!")},
        accept=(400,))],  # the new passwords differ: refused after the access check, nothing changes
    # the second factor (account.py): a signed-in session's own; a half-signed-in one's too
    ("GET", "/account/mfa"): [Case(SIGNED_IN, lambda c, u: {"url": "/account/mfa"})],
    ("POST", "/account/mfa/enrol"): [Case(SIGNED_IN, lambda c, u: {"url": "/account/mfa/enrol", "data": _form(
        c, code="x")}, accept=(400,))],  # nothing to enrol: refused after the access check
    ("POST", "/account/mfa/verify"): [Case(SIGNED_IN, lambda c, u: {"url": "/account/mfa/verify", "data": _form(
        c, code="x")}, accept=(400,))],  # fully signed in: back to the page; half: a wrong code
    ("POST", "/account/mfa/recovery-codes"): [Case(SIGNED_IN, lambda c, u: {"url": "/account/mfa/recovery-codes",
                                                                           "data": _form(c, code="x")},
                                                   accept=(400,))],  # a wrong code, or a role without one
    ("POST", "/logout"): [Case(PUBLIC, lambda c, u: {"url": "/logout", "data": _form(c)})],  # → /login: signed out
    ("POST", "/login"): [Case(SIGN_IN, _login_form)],  # anonymous signs in as the leader
}

csrf_of = csrf_token


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers (HEAD and OPTIONS aside)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            assert isinstance(route.original_route.app, StaticFiles), f"a mounted app, not static files: {route!r}"
            found.add(("GET", route.path_format))
            continue
        assert route.methods, f"a route of an unknown kind: {route!r}"
        found |= {(method, route.path_format) for method in route.methods - {"HEAD", "OPTIONS"}}
    return found


def outcome(response: Response, accept: tuple[int, ...]) -> str:
    status = response.status_code
    location = response.headers.get("location", "")
    if (status == 401 and "second sign-in factor" in response.text) or (
            300 <= status < 400 and location.startswith("/account/mfa?next=")):
        return MFA
    if status == 401 or (300 <= status < 400 and location.startswith("/login?next=")):
        return LOGIN
    if status == 403:
        try:
            message = response.json().get("message_en")
        except ValueError:
            message = response.text[:80]
        return DENIED if message.startswith("not allowed: ") else f"403 {message!r}"
    if status < 400 or status in accept:
        return OK
    if response.headers.get("content-type", "").startswith("application/json"):
        return f"{status} {response.json()}"
    return f"{status} {response.headers.get('content-type', '')}"


def test_every_route_has_an_expectation(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'hrss.sqlite3'}", report_dir=tmp_path / "reports"))
    routes, expected = app_routes(app), set(EXPECTATIONS)
    missing, stale = sorted(routes - expected), sorted(expected - routes)
    assert not missing, f"routes without an access expectation (add them to EXPECTATIONS): {missing}"
    assert not stale, f"expectations for routes the app does not have: {stale}"
    for key, cases in EXPECTATIONS.items():
        assert cases, key
        for case in cases:
            case.outcomes()  # well formed


# --- the world the requests act on --------------------------------------------------------


def _submitted(s: Any, plan: Any, unit: str, period: str) -> int:
    origin = Origin(user_name="test")
    the_unit, the_period = plan.org_unit(unit), wf.monthly_period(period)
    result = wf.save(s, plan, the_unit, the_period, {"I01": "300", "I04": "120"}, version=None, origin=origin)
    assert not result.errors, result.problems
    wf.submit(s, plan, the_unit, the_period, version=None, comment="测试", rules=load_rules(None), origin=origin)
    return result.submission.id


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[Ctx]:
    settings = Settings(database_url=db_url, report_dir=tmp_path / "reports")
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    ids: dict[str, int] = {}
    decisions: dict[tuple[str, str], int] = {}
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        for principal, (username, unit) in USERS.items():
            create_user(s, username=username, display_name=username, role=principal, org_unit=unit, plan=plan,
                        settings=settings, password=PASSWORD)
        create_user(s, username=TARGET, display_name="目标账户", role="leader", org_unit=None, plan=plan,
                    settings=settings, password=PASSWORD)
        for unit in (OWN, OTHER):
            ids[unit] = _submitted(s, plan, unit, "2024-03")
            for n, principal in enumerate(PRINCIPALS, start=1):  # one to decide on per principal and unit
                decisions[principal, unit] = _submitted(s, plan, unit, f"2023-{n:02d}")
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        ctx = Ctx(client, app, review_subs=ids, decision_subs=decisions, commitment=plan.commitments[0].id)
        sign_in(ctx, CITY_ADMIN)
        for unit in (OWN, OTHER):
            got = client.get("/entry/template.xlsx", params={"org": unit, "period": "2024-05"})
            assert got.status_code == 200
            ctx.templates[unit] = got.content
        made = client.post("/reports/generate", data=_form(ctx, kind="monthly", as_of="2024-03"))
        assert made.status_code == 200, made.text
        ctx.report_name = report_files(report_dir(settings))[0].name
        client.cookies.clear()
        yield ctx


def sign_in(ctx: Ctx, principal: str, second_factor: bool = True) -> None:
    ctx.client.cookies.clear()
    ctx.principal, ctx.csrf = principal, "no-session"
    if principal == ANONYMOUS:
        return
    sign_in_as(ctx.client, ctx.username, second_factor=second_factor)
    ctx.csrf = csrf_of(ctx.client.get("/"))  # the logout form of every page carries the session's token


# --- the matrix -------------------------------------------------------------------------------


def test_every_route_every_role_own_and_other_unit(world: Ctx) -> None:
    assert app_routes(world.app) == set(EXPECTATIONS)  # nothing walked past (details: the test above)
    wrong: list[str] = []
    seen: dict[tuple[str, str, str, str, str], str] = {}  # (method, path, case, principal, unit) → outcome
    for principal in PRINCIPALS:
        sign_in(world, principal)
        for (method, path), cases in EXPECTATIONS.items():
            for case in cases:
                own, other = case.outcomes()[principal]
                for unit, expected in ((OWN, own), (OTHER, other)) if case.scoped else ((OWN, own),):
                    request = case.build(world, unit)
                    answer = world.client.request(method, follow_redirects=False, **request)
                    got = outcome(answer, case.accept)
                    seen[method, path, case.name, principal, unit] = got
                    where = f"{method} {path}{' ' + case.name if case.name else ''} as {principal}" + (
                        f" for {unit}" if case.scoped else "")
                    if got != expected:
                        wrong.append(f"{where}: expected {expected}, got {got} ({answer.status_code} "
                                     f"{answer.headers.get('location', '')})")
    assert not wrong, "access matrix mismatches:\n" + "\n".join(wrong)
    cases = [case for cases in EXPECTATIONS.values() for case in cases]
    assert len(seen) == len(PRINCIPALS) * sum(2 if case.scoped else 1 for case in cases)  # every cell walked


# What a half-signed-in session (a privileged account after its password only) may reach.
HALF_OPEN = {("GET", "/login"), ("GET", "/static/{path}"), ("POST", "/logout"),
             ("GET", "/account/mfa"), ("POST", "/account/mfa/enrol"), ("POST", "/account/mfa/verify")}


def test_a_half_signed_in_session_opens_nothing_but_the_second_factor(world: Ctx) -> None:
    wrong: list[str] = []
    walked = 0
    for principal in PRIVILEGED:
        sign_in(world, principal)  # enrolled (at the first sign-in)
        sign_in(world, principal, second_factor=False)
        for (method, path), cases in EXPECTATIONS.items():
            for case in cases:
                expected = OK if (method, path) in HALF_OPEN else MFA  # POST /login: to the second factor again
                for unit in (OWN, OTHER) if case.scoped else (OWN,):
                    answer = world.client.request(method, follow_redirects=False, **case.build(world, unit))
                    got = outcome(answer, case.accept)
                    walked += 1
                    if got != expected:
                        wrong.append(f"{method} {path}{' ' + case.name if case.name else ''} as half-signed-in "
                                     f"{principal}: expected {expected}, got {got} ({answer.status_code} "
                                     f"{answer.headers.get('location', '')})")
    assert not wrong, "half-signed-in mismatches:\n" + "\n".join(wrong)
    cases = [case for cases in EXPECTATIONS.values() for case in cases]
    assert walked == len(PRIVILEGED) * sum(2 if case.scoped else 1 for case in cases)
    assert len(PRIVILEGED) == 4  # the three administrators and the city statistician


def test_a_password_that_must_be_changed_opens_no_api(db_url: str) -> None:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        _, one_time = create_user(s, username="shenji", display_name="审计员", role="auditor", org_unit=None,
                                  plan=plan, settings=settings)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        form = client.get("/login")
        client.post("/login", data={"username": "shenji", "password": one_time, "csrf_token": csrf_of(form)})
        home = client.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/account/password"  # pages: change it first
        answer = client.get("/api/v1/audit")
        assert answer.status_code == 403 and answer.json()["message_en"] == "change your password first"
