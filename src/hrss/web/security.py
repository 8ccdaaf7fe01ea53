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
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hrss.audit.service import Origin, utcnow
from hrss.auth.roles import ACTION_LABELS, Action, can, role_label
from hrss.auth.service import (
    Lookup,
    load_session,
    password_change_required,
    peek_api_token,
    peek_session,
    user_for_api_token,
)
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

    @property
    def view_key(self) -> tuple[Hashable, ...]:
        """What a page header shows of the user and depends on: name, role and unit (the
        links), the session's CSRF token (the sign-out form)."""
        u = self.user
        return (u.id, u.username, u.display_name, u.role, u.org_unit, u.is_active, self.csrf_token)

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


def _lookup(request: Request, db: Session | Connection) -> Lookup:
    """The cookie's or bearer token's user. Given a Session, through the writing functions
    (note the use, end an expired session) in its transaction; given a Connection, read only."""
    now = utcnow()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        if isinstance(db, Session):
            return Lookup(user_for_api_token(db, token, now), None, False)
        return peek_api_token(db, token, now)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return Lookup(None, None, False)
    settings = request.app.state.settings
    if isinstance(db, Session):
        found = load_session(db, cookie, settings=settings, now=now)
        return Lookup(found[0], found[1], False) if found else Lookup(None, None, False)
    return peek_session(db, cookie, settings=settings, now=now)


def _as_principal(request: Request, found: Lookup) -> Principal | None:
    if found.user is None:
        return None
    return Principal(found.user, found.web_session, request_id(request), client_addr(request))


def _principal(request: Request) -> Principal | None:
    """Who is asking, for code already running in a worker thread: one transaction."""
    with request.app.state.sessions.begin() as session:
        return _as_principal(request, _lookup(request, session))


async def _principal_on_loop(request: Request) -> Principal | None:
    """Who is asking, for the dependencies: one indexed read on the event loop (no thread
    hop, app.state.read_engine); the rare write (a use noted every 30 s, an expired session
    ended) goes to the thread pool in its own transaction."""
    with request.app.state.read_engine.connect() as conn:
        found = _lookup(request, conn)
    if found.write:
        return await run_in_threadpool(_principal, request)
    return _as_principal(request, found)


async def page_user(request: Request) -> Principal:
    """A signed-in person, or a redirect to the sign-in page."""
    principal = await _principal_on_loop(request)
    if principal is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if principal.web_session is not None and password_change_required(principal.user, request.app.state.settings, utcnow()):
        raise PasswordChangeRequired()
    return principal


async def api_user(request: Request) -> Principal:
    """A signed-in person or a token holder, or 401 JSON."""
    principal = await _principal_on_loop(request)
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
        role = principal.user.role
        where, where_en = (f"（{org_unit}）", f" for {org_unit}") if org_unit else ("", "")
        raise HTTPException(403, detail={
            "message": f"无权执行此操作：{ACTION_LABELS[Action(action)]}{where}。当前账户角色为{role_label(role)}，如需此权限请联系市级管理员。",
            "message_en": f"not allowed: {action}{where_en} (role {role})",
        })


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
