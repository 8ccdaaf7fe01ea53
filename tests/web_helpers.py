"""Helpers shared by the web tests: the test password, form tokens, signing in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx2 import Response

PASSWORD = "Xuzhou-2025-plan!"  # meets the password policy
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str | Response) -> str:
    """The CSRF token of the first form on a page (every signed-in page has the logout form)."""
    html = page if isinstance(page, str) else page.text
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, expect: int = 303) -> Response:
    """Sign in through the login form, as a person would."""
    client.cookies.clear()
    form = client.get("/login")
    done = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(form), "next": "/"},
                       follow_redirects=False)
    assert done.status_code == expect, done.text
    return done
