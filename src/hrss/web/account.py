"""Sign-in, sign-out and the user's own password change."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hrss.audit.service import Origin, utcnow
from hrss.auth.service import (
    AccountError,
    AuthError,
    authenticate,
    change_password,
    end_session,
    start_session,
)
from hrss.auth.tables import User, WebSession
from hrss.web.deps import LangDep, clean_text
from hrss.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    _principal,
    check_csrf,
    client_addr,
    cookie_secure,
    login_redirect,
    request_id,
    safe_next,
)

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=256)]


def _login_page(request: Request, lang: str, *, next_url: str, error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = request.app.state.templates.TemplateResponse(
        request, "login.html",
        {"lang": lang, "plan": request.app.state.plan, "next": next_url, "csrf": token, "error": error, "simulated": False},
        status_code=status,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=cookie_secure(request), max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, lang: LangDep, next: str | None = None) -> Response:
    return _login_page(request, lang, next_url=safe_next(next))


@router.post("/login")
def login(request: Request, lang: LangDep, username: Field, password: Field, csrf_token: Field, next: Annotated[str, Form(max_length=512)] = "/") -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_page(request, lang, next_url=safe_next(next), error="表单已失效，请重试 (form expired, try again)", status=403)
    origin = Origin(request_id=request_id(request), client_addr=client_addr(request))
    settings = request.app.state.settings
    with request.app.state.sessions.begin() as session:
        try:
            user = authenticate(session, clean_text(username), password, settings=settings, now=utcnow(), origin=origin)
        except AuthError as exc:
            error = exc.message  # the failure is recorded: the transaction still commits
            user = None
        token = start_session(session, user, client_addr=origin.client_addr, now=utcnow()) if user else None
    if token is None:
        return _login_page(request, lang, next_url=safe_next(next), error=error, status=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=cookie_secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Field) -> Response:
    principal = _principal(request)
    if principal is not None:
        check_csrf(principal, csrf_token)
        with request.app.state.sessions.begin() as session:
            end_session(session, request.cookies.get(SESSION_COOKIE, ""), origin=principal.origin(), now=utcnow())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, lang: LangDep) -> Response:
    principal = _principal(request)
    if principal is None or principal.web_session is None:
        return RedirectResponse(login_redirect("/account/password"), status_code=303)
    return _password_page(request, lang, principal.csrf_token, None)


def _password_page(request: Request, lang: str, csrf: str, errors: list[str] | None, status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "password.html",
        {"lang": lang, "plan": request.app.state.plan, "csrf": csrf, "errors": errors or [], "simulated": False},
        status_code=status,
    )


@router.post("/account/password")
def password_change(request: Request, lang: LangDep, current_password: Field, new_password: Field, confirm_password: Field, csrf_token: Field) -> Response:
    principal = _principal(request)
    if principal is None or principal.web_session is None:
        return RedirectResponse(login_redirect("/account/password"), status_code=303)
    check_csrf(principal, csrf_token)
    if new_password != confirm_password:
        return _password_page(request, lang, principal.csrf_token, ["两次输入的新密码不一致 (the new passwords differ)"], 400)
    with request.app.state.sessions.begin() as session:
        user = session.get(User, principal.user.id)
        ws = session.get(WebSession, principal.web_session.id)
        try:
            change_password(session, user, current_password=current_password, new_password=new_password,
                            settings=request.app.state.settings, now=utcnow(), keep_session=ws, origin=principal.origin())
        except AccountError as exc:
            return _password_page(request, lang, principal.csrf_token, exc.problems, 400)
    return RedirectResponse("/", status_code=303)
