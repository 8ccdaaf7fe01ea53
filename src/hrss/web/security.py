"""Who is asking: session cookies for people, bearer tokens for machine clients, CSRF.

- The session cookie holds a random token (only its sha256 is stored), HttpOnly,
  SameSite=Lax, Secure when the request came over TLS.
- Every form that changes something carries the session's CSRF token; the login form,
  which has no session yet, uses a double-submit cookie.
- API clients send `Authorization: Bearer hrss_…`; bearer requests carry no cookies and
  need no CSRF token.
- A privileged role's session is only half signed in until its second factor passes
  (hrss.auth.mfa): `page_user` sends it to /account/mfa, `api_user` answers 401. Only the
  second factor's pages, sign-out, the sign-in page and static files take it (they look
  at the session themselves, through `_principal`).
- Every answer carries the security headers of `SecurityHeaders` (CSP, no framing, nosniff,
  referrer policy, no-store for everything but static files, HSTS over TLS).
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hrss.audit.service import Origin, utcnow
from hrss.auth.mfa import second_factor_due
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

    @property
    def second_factor_due(self) -> bool:
        """Half signed in: a privileged role's browser session without its second factor."""
        return second_factor_due(self.user, self.web_session)


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PasswordChangeRequired(Exception):
    pass


class SecondFactorRequired(Exception):
    """Raised by page dependencies for a half-signed-in session; the app turns it into a
    redirect to the second factor's page (/account/mfa), which returns to next_url."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


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
    if principal.second_factor_due:
        raise SecondFactorRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return principal


async def api_user(request: Request) -> Principal:
    """A signed-in person or a token holder, or 401 JSON."""
    principal = await _principal_on_loop(request)
    if principal is None:
        raise HTTPException(401, detail={"message": "请先登录或提供有效的 API 令牌", "message_en": "sign in or send a valid API token"},
                            headers={"WWW-Authenticate": "Bearer"})
    if principal.web_session is not None and password_change_required(principal.user, request.app.state.settings, utcnow()):
        raise HTTPException(403, detail={"message": "请先修改密码 (/account/password)", "message_en": "change your password first"})
    if principal.second_factor_due:
        raise HTTPException(401, detail=SECOND_FACTOR_DUE)
    return principal


SECOND_FACTOR_DUE = {"message": "请先完成双因素验证：输入动态口令 (/account/mfa)",
                     "message_en": "complete the second sign-in factor (one-time code, /account/mfa) first"}


PageUser = Annotated[Principal, Depends(page_user)]
ApiUser = Annotated[Principal, Depends(api_user)]


def require(principal: Principal, action: str, org_unit: str | None = None) -> None:
    """403 unless the user may do action (for org_unit)."""
    if not can(principal.user, action, org_unit):
        role = principal.user.role
        where, where_en = (f"（{org_unit}）", f" for {org_unit}") if org_unit else ("", "")
        raise HTTPException(403, detail={
            "message": f"无权执行此操作：{ACTION_LABELS[Action(action)]}{where}。当前账户角色为{role_label(role)}，如需此权限请联系安全管理员。",
            "message_en": f"not allowed: {action}{where_en} (role {role})",
        })


def check_csrf(principal: Principal, submitted: str | None) -> None:
    if principal.web_session is None:
        return  # bearer-token request: no cookie, no CSRF risk
    if not submitted or not secrets.compare_digest(submitted, principal.web_session.csrf_token):
        raise HTTPException(403, detail={"message": "表单已失效，请刷新页面后重试 (CSRF)", "message_en": "form expired: reload the page (CSRF)"})


def login_redirect(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")


def second_factor_redirect(next_url: str) -> str:
    return "/account/mfa?next=" + quote(next_url, safe="")


def safe_next(raw: str | None) -> str:
    """Only same-site paths may follow a sign-in (no open redirects)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


def cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


# --- response headers (等保三级, OWASP ASVS L2 V14.4) ----------------------------------------

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",  # no inline script, no eval: every script is a file under /static
    # Styles: <style> and <link> only from this server (style-src-elem); style="" attributes
    # are allowed ('unsafe-inline' for styles only, never for scripts) because ECharts writes
    # its tooltips as HTML with style attributes, and so does Swagger UI. The templates
    # themselves use classes of app.css only.
    "style-src 'self' 'unsafe-inline'",
    "style-src-elem 'self'",
    "img-src 'self' data:",  # Swagger UI's icons are data: URIs in its CSS
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"  # a year; no preload (the host's owners decide that)

_Headers = tuple[tuple[bytes, bytes], ...]


def _encoded(pairs: dict[str, str]) -> _Headers:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs.items())


_COMMON = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # for browsers without CSP frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no address of ours (unit names, months) to other sites
}
# Pages and API answers carry unit and personal data: never stored by a browser or proxy.
_DYNAMIC = _encoded({**_COMMON, "Cache-Control": "no-store"})
# Static files hold no data: cached, but revalidated (ETag / Last-Modified, an answer of 304)
# since their addresses carry no version and must not be stale after an upgrade.
_STATIC = _encoded({**_COMMON, "Cache-Control": "no-cache"})
_HSTS = _encoded({"Strict-Transport-Security": HSTS})


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP answer, errors included.

    A header the route set itself (e.g. its own Cache-Control) is kept. HSTS only when the
    request came over TLS: scope["scheme"] (request.url.scheme) is "https" for a direct TLS
    connection, or for a forwarded one when uvicorn believes the proxy's X-Forwarded-Proto
    (HRSS_TRUSTED_PROXIES, web/server.py). Plain ASGI rather than BaseHTTPMiddleware: it
    adds one closure per request, nothing on the body.
    """

    def __init__(self, app: ASGIApp, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _STATIC if scope["path"].startswith(self.static_prefix) else _DYNAMIC
        if scope.get("scheme") == "https":
            extra += _HSTS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """ASGI middleware refusing a request body larger than max_bytes with 413, before any
    route (and before sign-in is checked) reads it: the form parser would otherwise spool a
    body of any size to disk, anonymous ones included. A declared Content-Length is judged
    at once; a chunked body is counted as it arrives and cut off at the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(send, 400, "Content-Length 无效 (invalid Content-Length)")
                return
            if int(declared) > self.max_bytes:
                await self._refuse(send, 413, self._too_big())
                return
        received, cut, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    cut = True
                    return {"type": "http.disconnect"}  # the route stops reading; the 413 below answers
            return message

        async def unless_cut(message: Message) -> None:
            nonlocal started
            if cut:
                return  # the route's answer to the cut-off body: the 413 is sent instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, unless_cut)
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await self._refuse(send, 413, self._too_big())

    def _too_big(self) -> str:
        return (f"请求内容超过 {self.max_bytes // 1024 // 1024} MB 上限 "
                f"(request body larger than the limit of {self.max_bytes // 1024 // 1024} MB)")

    @staticmethod
    async def _refuse(send: Send, status: int, text: str) -> None:
        # a page of its own: the app's templates are not reached (nor needed) for it
        body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{status}</title>'
                f'<link rel="stylesheet" href="/static/app.css"></head><body><main class="panel">'
                f'<h1>{status}</h1><p role="alert">{text}</p>'
                f'<p><a href="/" data-back>返回上一页 (back)</a></p></main>'
                f'<script src="/static/app.js"></script></body></html>').encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
