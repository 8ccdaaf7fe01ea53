"""Security headers on every answer (等保三级 / OWASP ASVS L2 V14.4), and a browser that sees no
Content-Security-Policy violation on the main pages.

- HTML pages, API answers and error pages: CSP, X-Frame-Options DENY, nosniff, Referrer-Policy,
  Cache-Control no-store (they carry unit or personal data);
- static files: nosniff too, but cacheable;
- Strict-Transport-Security only over TLS (directly, or through a trusted proxy);
- the API documentation: signed-in users only, Swagger UI from the vendored copy, no CDN.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from hrss.auth.service import create_api_token, create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.demo import build_demo, load_demo
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    browser_sign_in,
    need_chromium,
    running,
    sign_in,
)

DIRECTIVES = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
              "form-action 'self'", "frame-ancestors 'none'")
HTML = {"accept": "text/html"}
TOKEN: dict[str, str] = {}


def _directives(csp: str) -> set[str]:
    return {" ".join(part.split()) for part in csp.split(";") if part.strip()}


def assert_protected(response: Any, *, cacheable: bool = False) -> None:
    """The headers every answer carries; no-store unless cacheable (static files)."""
    h = response.headers
    assert h.get("x-content-type-options") == "nosniff", dict(h)
    assert h.get("x-frame-options") == "DENY", dict(h)
    assert h.get("referrer-policy") == "same-origin", dict(h)
    csp = _directives(h.get("content-security-policy", ""))
    assert set(DIRECTIVES) <= csp, csp
    script = next(d for d in csp if d.startswith("script-src "))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, script
    assert not any(d.startswith(("default-src", "script-src", "connect-src")) and ("http" in d or "*" in d) for d in csp)
    if cacheable:
        assert "no-store" not in h.get("cache-control", ""), dict(h)
    else:
        assert h.get("cache-control") == "no-store", dict(h)


def _app(tmp_path: Path) -> FastAPI:
    url = f"sqlite:///{tmp_path / 'headers.sqlite3'}"
    settings = Settings(database_url=url)
    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        admin, _ = create_user(s, username="admin", display_name="市级管理员", role="city_admin", org_unit=None,
                               plan=plan, settings=settings, password=PASSWORD)
        create_user(s, username="lingdao", display_name="领导", role="leader", org_unit=None, plan=plan,
                    settings=settings, password=PASSWORD)
        TOKEN["value"] = create_api_token(s, admin, "headers")
    engine.dispose()
    return create_app(settings)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return _app(tmp_path)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c, "admin")
        yield c


def test_an_html_page_carries_every_header(client: TestClient) -> None:
    for path in ("/", "/admin/users"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_protected(page)
        assert "strict-transport-security" not in page.headers  # plain HTTP
    login = TestClient(client.app).get("/login")  # public, no session
    assert login.status_code == 200
    assert_protected(login)


def test_an_api_answer_carries_every_header(client: TestClient) -> None:
    for answer in (client.get("/api/v1/plan"),
                   client.get("/api/v1/indicators/I01/evaluation.csv"),
                   TestClient(client.app).get("/api/v1/plan")):  # 401, no session
        assert answer.status_code in (200, 401)
        assert_protected(answer)
    assert answer.status_code == 401


def test_error_pages_carry_every_header(client: TestClient) -> None:
    missing = client.get("/indicators/NOPE", headers=HTML)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert_protected(missing)
    assert_protected(client.get("/api/v1/indicators/NOPE"))
    sign_in(client, "lingdao")
    denied = client.get("/admin/users", headers=HTML)
    assert denied.status_code == 403 and "无权" in denied.text
    assert_protected(denied)
    sign_in(client, "admin")
    form = client.post("/logout", data={"csrf_token": "forged"}, headers=HTML)  # CSRF refusal
    assert form.status_code == 403
    assert_protected(form)


def test_an_unexpected_error_carries_every_header(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        crashed = c.get("/boom", headers=HTML)
    assert crashed.status_code == 500
    assert_protected(crashed)


def test_static_assets_are_cacheable_but_not_sniffed(client: TestClient) -> None:
    for path in ("/static/app.css", "/static/charts.js", "/static/vendor/echarts/echarts.min.js"):
        asset = client.get(path)
        assert asset.status_code == 200
        assert_protected(asset, cacheable=True)
        assert "cache-control" in asset.headers and "etag" in asset.headers  # revalidated, not refetched
    missing = client.get("/static/nope.js")
    assert missing.status_code == 404 and missing.headers.get("x-content-type-options") == "nosniff"


def test_a_route_that_sets_its_own_cache_control_keeps_it(app: FastAPI) -> None:
    from fastapi.responses import PlainTextResponse

    app.add_api_route("/private", lambda: PlainTextResponse("x", headers={"Cache-Control": "private, max-age=5"}))
    with TestClient(app) as c:
        answer = c.get("/private")
    assert answer.headers.get_list("cache-control") == ["private, max-age=5"]
    assert answer.headers.get("x-frame-options") == "DENY"


def test_hsts_only_over_tls(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as tls:
        for path in ("/login", "/static/app.css", "/api/v1/plan"):
            hsts = tls.get(path).headers.get("strict-transport-security", "")
            assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts), (path, hsts)
            assert int(hsts.split("=")[1].split(";")[0]) >= 31536000
    with TestClient(app) as plain:
        for path in ("/login", "/static/app.css", "/api/v1/plan"):
            assert "strict-transport-security" not in plain.get(path).headers


def test_hsts_behind_a_proxy_only_when_the_proxy_is_trusted(app: FastAPI) -> None:
    """uvicorn's ProxyHeadersMiddleware (what HRSS_TRUSTED_PROXIES configures) sets the scheme."""
    forwarded = {"x-forwarded-proto": "https"}
    with TestClient(ProxyHeadersMiddleware(app, trusted_hosts="testclient")) as trusted:  # type: ignore[arg-type]
        assert "strict-transport-security" in trusted.get("/login", headers=forwarded).headers
    with TestClient(ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.5")) as untrusted:  # type: ignore[arg-type]
        assert "strict-transport-security" not in untrusted.get("/login", headers=forwarded).headers


def test_an_oversized_body_is_refused_before_any_route_reads_it(app: FastAPI, tmp_path: Path) -> None:
    # 5 MB uploads + 64 KB of form: a 6 MB body, declared or chunked, signed in or not, is a
    # 413 (with the security headers), and the form parser never spools it to a temporary file
    import tempfile

    limit = app.state.settings.upload_max_bytes + 64 * 1024
    big = b"0" * (limit + 1)
    spool = Path(tempfile.gettempdir())
    before = set(spool.iterdir())
    anonymous = TestClient(app)
    declared = anonymous.post("/entry/upload", content=big, headers={"content-type": "multipart/form-data; boundary=x"})
    assert declared.status_code == 413 and "上限" in declared.text
    assert_protected(declared)
    chunked = anonymous.post("/login", content=iter([big[:limit], big[limit:]]),
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413 and "请求内容超过" in chunked.text
    assert anonymous.post("/login", content=b"x", headers={"content-length": "abc"}).status_code == 400
    assert set(spool.iterdir()) - before == set()
    # a body under the limit reaches its route: the same client signs in
    sign_in(anonymous, "lingdao")
    assert anonymous.get("/").status_code == 200


def test_framing_is_refused_everywhere(client: TestClient) -> None:
    for answer in (client.get("/"), client.get("/login"), client.get("/api/docs"), client.get("/api/v1/plan")):
        assert answer.headers.get("x-frame-options") == "DENY"
        assert "frame-ancestors 'none'" in _directives(answer.headers["content-security-policy"])


def test_the_api_docs_load_nothing_from_outside_and_need_a_sign_in(client: TestClient) -> None:
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert_protected(docs)
    html = docs.text
    assert "cdn" not in html.lower() and "http:" not in html and "https:" not in html and "//" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"  # CSP: scripts from files only
    assert not re.search(r"\son[a-z]+=", html) and "style=" not in html
    sources = [s for s in re.findall(r'(?:src|href)="([^"]+)"', html) if s != "data:,"]  # data:, no icon
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources
    for src in sources:
        assert src.startswith("/static/"), src
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 100, src
    schema = client.get("/openapi.json")  # the session cookie is enough for the docs page's own fetch
    assert schema.status_code == 200 and schema.json()["info"]["title"].startswith("HRSS")
    assert_protected(schema)
    assert not any(p in schema.json()["paths"] for p in ("/openapi.json", "/api/docs"))

    anonymous = TestClient(client.app)
    page = anonymous.get("/api/docs", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fapi%2Fdocs"
    assert anonymous.get("/openapi.json").status_code == 401
    assert anonymous.get("/docs/oauth2-redirect").status_code == 404  # no OAuth2 here: no redirect page
    token = anonymous.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN['value']}"})
    assert token.status_code == 200 and token.json()["paths"]


# --- in a real browser: no Content-Security-Policy violation on the main pages ---------------

PAGES = ("/", "/indicators/I01", "/indicators/I06", "/org-units/徐州市", "/entry", "/review", "/ledger",
         "/reconcile", "/completeness", "/reports", "/admin/users", "/admin/users/admin", "/admin/audit",
         "/account/password", "/api/docs", "/indicators/NOPE")
SERVER_SETTINGS: dict[str, Settings] = {}  # base address → the demo server's settings (second factors)
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    need_chromium()
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    settings = Settings(database_url=url)
    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        create_user(s, username="admin", display_name="市级管理员", role="city_admin", org_unit=None, plan=plan,
                    settings=settings, password=PASSWORD)
        create_user(s, username="shenji", display_name="审计员", role="auditor", org_unit=None, plan=plan,
                    settings=settings, password=PASSWORD)  # the audit log is the auditor's alone (三权分立)
    engine.dispose()
    with running(create_app(settings)) as base:
        SERVER_SETTINGS[base] = settings
        yield base


@pytest.mark.slow
def test_no_csp_violation_on_the_main_pages_in_a_real_browser(demo_server: str) -> None:
    from playwright.sync_api import sync_playwright

    base = demo_server
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
        context.add_init_script(WATCH)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"{page.url} console.{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"{page.url} page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"{page.url} request failed: {r.url}"))
        page.on("response", lambda r: problems.append(f"{page.url} answer {r.status}: {r.url}")
                if r.status >= 400 and "/indicators/NOPE" not in r.url else None)
        page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:")
                else problems.append(f"{page.url} external request: {r.url}"))
        browser_sign_in(page, base, "admin", SERVER_SETTINGS[base])  # the sign-in and second factor pages too
        page.wait_for_url(f"{base}/")
        for path in PAGES:
            if path == "/admin/audit":  # the auditor's page: the rest from here on as the auditor
                browser_sign_in(page, base, "shenji", SERVER_SETTINGS[base])
            answer = page.goto(base + path)
            assert answer is not None and answer.status in (200, 404), (path, answer and answer.status)
            assert "script-src 'self'" in answer.headers.get("content-security-policy", ""), path
            if path.startswith("/indicators/I"):
                page.wait_for_selector("#trend canvas")  # the charts still draw under the policy
                page.wait_for_selector("#units canvas")
                box = page.locator("#trend").bounding_box()
                assert box is not None
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the tooltip
                page.wait_for_timeout(300)
            if path == "/api/docs":
                page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)  # Swagger UI drew the operations
                page.locator(".opblock-summary").first.click()
                page.wait_for_selector(".opblock-body")
            if path == "/indicators/NOPE":
                page.goto(f"{base}/")
                page.goto(f"{base}/indicators/NOPE")
                page.click("text=返回")  # the error page's back link works without an inline script
                page.wait_for_url(f"{base}/")
            page.wait_for_timeout(100)
            problems += [f"{path} CSP: {v}" for v in page.evaluate("window.__violations")]
        # a page of another origin cannot frame the platform
        framing = context.new_page()
        framing.set_content(f'<iframe src="{base}/login" width="400" height="300"></iframe>')
        framing.wait_for_timeout(1000)
        frame = framing.frames[-1]
        assert frame is not framing.main_frame
        assert frame.query_selector("input[name=username]") is None, "the sign-in page was framed"
        browser.close()
    # a 404 page logs its status as a console error in Chromium: that one is expected
    problems = [p for p in problems if not ("/indicators/NOPE" in p and "404" in p)]
    assert not problems, "\n".join(problems)
