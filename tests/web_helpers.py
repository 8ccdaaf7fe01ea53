"""Helpers shared by the web tests: the test password, form tokens, signing in (with the
second factor of the privileged roles, as a person with an authenticator app would), a real
server on a free port and the browser that visits it."""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from fastapi.testclient import TestClient
from httpx2 import Response

from hrss.auth.mfa import enrolment_of, open_secret
from hrss.auth.service import get_user
from hrss.db import make_engine, session_factory
from hrss.settings import Settings

PASSWORD = "Xuzhou-2025-plan!"  # meets the password policy
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOTP_SECRET = re.compile(r'data-secret="totp">([^<]+)</code>')
RECOVERY_CODE = re.compile(r"<code[^>]*data-recovery-code>([^<]+)</code>")
RECOVERY: dict[str, list[str]] = {}  # user name → the recovery codes its last enrolment showed


def csrf_token(page: str | Response) -> str:
    """The CSRF token of the first form on a page (every signed-in page has the logout form)."""
    html_text = page if isinstance(page, str) else page.text
    found = CSRF.search(html_text)
    assert found, html_text[:500]
    return found.group(1)


def shown_totp_secret(page: str | Response) -> str:
    """The base32 secret an enrolment page shows (grouped by four for typing)."""
    html_text = page if isinstance(page, str) else page.text
    found = TOTP_SECRET.search(html_text)
    assert found, html_text[:800]
    return html.unescape(found.group(1)).replace(" ", "")


def shown_recovery_codes(page: str | Response) -> list[str]:
    html_text = page if isinstance(page, str) else page.text
    return [html.unescape(c) for c in RECOVERY_CODE.findall(html_text)]


def stored_code(settings: Settings | Any, username: str) -> str:
    """A current TOTP code of an enrolled account, from its stored secret (settings: the
    app's Settings, or an app). Forgets the step of the last code taken first, as if 30 s
    had passed: the tests sign in far more often than a code changes, and a code is good once."""
    if hasattr(settings, "state"):  # an app
        sessions, settings = settings.state.sessions, settings.state.settings
        engine = None
    else:
        engine = make_engine(settings.database_url)
        sessions = session_factory(engine)
    try:
        with sessions.begin() as s:
            user = get_user(s, username)
            assert user is not None, username
            row = enrolment_of(s, user)
            assert row is not None and row.confirmed_at is not None, f"{username} is not enrolled"
            row.last_step = None
            secret = open_secret(settings, user.id, row.secret)
    finally:
        if engine is not None:
            engine.dispose()
    return pyotp.TOTP(secret).now()


def pass_second_factor(client: TestClient, username: str, next_url: str = "/") -> Response | None:
    """Complete the second factor of a half-signed-in session: enrol with the secret the
    page shows (its recovery codes kept in RECOVERY), or give a code of the stored secret.
    None when the page sends elsewhere first (a password to change)."""
    page = client.get("/account/mfa", params={"next": next_url}, follow_redirects=False)
    if page.status_code != 200:
        return None
    if 'data-mfa="enrol"' in page.text:
        code = pyotp.TOTP(shown_totp_secret(page)).now()
        done = client.post("/account/mfa/enrol", data={"code": code, "csrf_token": csrf_token(page), "next": next_url})
        assert done.status_code == 200 and 'id="recovery-codes"' in done.text, done.text[:800]
        RECOVERY[username] = shown_recovery_codes(done)
        return done
    assert 'data-mfa="verify"' in page.text, page.text[:800]
    done = client.post("/account/mfa/verify", data={"code": stored_code(client.app, username),
                                                    "csrf_token": csrf_token(page), "next": next_url},
                       follow_redirects=False)
    assert done.status_code == 303, done.text[:800]
    return done


def sign_in(client: TestClient, username: str, password: str = PASSWORD, expect: int = 303,
            second_factor: bool = True) -> Response:
    """Sign in through the login form, as a person would; a privileged role then gives its
    second factor too (enrolling at the first sign-in), unless second_factor is False (the
    session stays half signed in)."""
    client.cookies.clear()
    form = client.get("/login")
    done = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(form), "next": "/"},
                       follow_redirects=False)
    assert done.status_code == expect, done.text
    if second_factor and expect == 303 and done.headers["location"].startswith("/account/mfa"):
        pass_second_factor(client, username)
    return done


def browser_sign_in(page: Any, base: str, username: str, settings: Settings, password: str = PASSWORD) -> None:
    """sign_in in a real browser (a Playwright page): the form, then the second factor of a
    privileged role (enrolling with the secret the page shows, or a code of the stored one)."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    if "/account/mfa" not in page.url:
        return
    if page.locator("#mfa-secret").count():
        secret = page.inner_text("#mfa-secret").replace(" ", "")
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form.stack button[type=submit]")
        page.wait_for_selector("#recovery-codes")
        RECOVERY[username] = [c.strip() for c in page.locator("[data-recovery-code]").all_inner_texts()]
        page.click("#mfa-continue")
    else:
        page.fill("input[name=code]", stored_code(settings, username))
        page.click("form.stack button[type=submit]")
    page.wait_for_url(lambda url: "/account/mfa" not in url)


# --- a real server and a real browser -------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def need_chromium() -> None:
    """Skip a browser test where Debian's chromium is missing; in CI that is an error."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium for the browser test (scripts/setup --test installs it)")
        pytest.skip("chromium not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app: Any) -> Iterator[str]:
    """app served by uvicorn on a free loopback port in a thread; yields its base address."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
