"""Who is asking: session cookies for people, bearer tokens for machine clients, CSRF.

- The session cookie holds a random token (only its sha256 is stored), HttpOnly,
  SameSite=Lax, Secure when the request came over TLS.
- Every form that changes something carries the session's CSRF token; the login form,
  which has no session yet, uses a double-submit cookie.
- API clients send `Authorization: Bearer hrss_…`; bearer requests carry no cookies and
  need no CSRF token.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from hrss.audit.service import Origin, utcnow
from hrss.auth.roles import can
from hrss.auth.service import load_session, password_change_required, user_for_api_token
from hrss.auth.tables import User, WebSession

SESSION_COOKIE = "hrss_session"
LOGIN_CSRF_COOKIE = "hrss_login_csrf"


@dataclass(frozen=True)
class Principal:
    user: User
    web_session: WebSession | None  # None for API-token requests
    request_id: str
    client_addr: str | None

    @property
    def csrf_token(self) -> str:
        return self.web_session.csrf_token if self.web_session else ""

    def origin(self) -> Origin:
        return Origin(user=self.user, request_id=self.request_id, client_addr=self.client_addr)


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PasswordChangeRequired(Exception):
    pass


def request_id(request: Request) -> str:
    rid = request.headers.get("x-request-id", "")
    return rid[:64] if rid and rid.isprintable() else uuid.uuid4().hex


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def _principal(request: Request) -> Principal | None:
    settings = request.app.state.settings
    now = utcnow()
    auth = request.headers.get("authorization", "")
    with request.app.state.sessions.begin() as session:
        if auth.lower().startswith("bearer "):
            user = user_for_api_token(session, auth[7:].strip(), now)
            ws = None
        else:
            token = request.cookies.get(SESSION_COOKIE)
            found = load_session(session, token, settings=settings, now=now) if token else None
            user, ws = found if found else (None, None)
        if user is None:
            return None
        session.expunge(user)
        if ws is not None:
            session.expunge(ws)
    return Principal(user, ws, request_id(request), client_addr(request))


def page_user(request: Request) -> Principal:
    """A signed-in person, or a redirect to the sign-in page."""
    principal = _principal(request)
    if principal is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if principal.web_session is not None and password_change_required(principal.user, request.app.state.settings, utcnow()):
        raise PasswordChangeRequired()
    return principal


def api_user(request: Request) -> Principal:
    """A signed-in person or a token holder, or 401 JSON."""
    principal = _principal(request)
    if principal is None:
        raise HTTPException(401, detail={"message": "请先登录或提供有效的 API 令牌", "message_en": "sign in or send a valid API token"},
                            headers={"WWW-Authenticate": "Bearer"})
    if principal.web_session is not None and password_change_required(principal.user, request.app.state.settings, utcnow()):
        raise HTTPException(403, detail={"message": "请先修改密码 (/account/password)", "message_en": "change your password first"})
    return principal


PageUser = Annotated[Principal, Depends(page_user)]
ApiUser = Annotated[Principal, Depends(api_user)]


def require(principal: Principal, action: str, org_unit: str | None = None) -> None:
    """403 unless the user may do action (for org_unit)."""
    if not can(principal.user, action, org_unit):
        raise HTTPException(403, detail={"message": "无权执行此操作", "message_en": "not allowed"})


def check_csrf(principal: Principal, submitted: str | None) -> None:
    if principal.web_session is None:
        return  # bearer-token request: no cookie, no CSRF risk
    if not submitted or not secrets.compare_digest(submitted, principal.web_session.csrf_token):
        raise HTTPException(403, detail={"message": "表单已失效，请刷新页面后重试 (CSRF)", "message_en": "form expired: reload the page (CSRF)"})


def login_redirect(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")


def safe_next(raw: str | None) -> str:
    """Only same-site paths may follow a sign-in (no open redirects)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


def cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"
