"""Sign-in, sign-out, the user's own password change, and the second factor (双因素).

Sign-in of a privileged role (roles.MFA_ROLES) takes two steps: the password starts a
half-signed-in session (security.page_user refuses it everywhere but here), then
/account/mfa asks a TOTP code, or a recovery code; at the first sign-in it enrols the
account instead (after the forced password change, when one is due). The second factor
passing replaces the session by a fully signed-in one (a new cookie).

These routes look at the session themselves (`_principal`), since they are the ones a
half-signed-in session may reach: the second factor's pages and, for an account not yet
enrolled, the forced password change that comes before the enrolment. An enrolled
account gives its code first, and changes a due password after.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hrss.audit.service import Origin, local_time, utcnow
from hrss.auth.mfa import (
    MfaError,
    confirm_enrolment,
    enrolment_of,
    is_enrolled,
    pending_enrolment,
    recovery_codes_left,
    renew_recovery_codes,
    verify_second_factor,
)
from hrss.auth.roles import needs_second_factor
from hrss.auth.service import (
    AccountError,
    AuthError,
    authenticate,
    change_password,
    end_session,
    password_change_required,
    start_session,
    upgrade_session,
)
from hrss.auth.tables import User, WebSession
from hrss.web.deps import LangDep, clean_text
from hrss.web.i18n import text_in
from hrss.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Principal,
    _principal,
    check_csrf,
    client_addr,
    cookie_secure,
    login_redirect,
    request_id,
    safe_next,
    second_factor_redirect,
)

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=256)]
NextField = Annotated[str, Form(max_length=512)]
MFA_PATH = "/account/mfa"

MFA_TEXT: dict[str, tuple[str, str]] = {
    "title": ("双因素验证", "Two-factor sign-in"),
    "enrol_title": ("绑定动态口令", "Set up one-time codes"),
    "enrol_intro": ("您的账户角色须使用双因素登录（等保三级）。请用手机上的身份验证器应用（如 FreeOTP、Google Authenticator、"
                    "Microsoft Authenticator 或政务办公应用中的动态口令）扫描二维码，或手动输入下面的密钥，然后输入应用显示的 6 位动态口令完成绑定。",
                    "Your role signs in with two factors. Scan the QR code with an authenticator app (FreeOTP, Google "
                    "Authenticator, Microsoft Authenticator …) or type the key below, then enter the 6-digit code it shows."),
    "secret": ("密钥（手动输入）", "Key (to type in)"),
    "uri": ("配置地址 (otpauth URI)", "Set-up URI (otpauth)"),
    "qr_alt": ("动态口令配置二维码", "QR code of the set-up URI"),
    "secret_note": ("密钥只在绑定完成前显示；绑定后任何人（包括管理员）都无法再查看。",
                    "The key is shown only until set-up is confirmed; after that no one, administrators included, can see it."),
    "code": ("动态口令", "One-time code"),
    "code_or_recovery": ("动态口令或恢复码", "One-time code or recovery code"),
    "confirm": ("完成绑定", "Confirm"),
    "verify_title": ("输入动态口令", "Enter your one-time code"),
    "verify_intro": ("请输入身份验证器应用当前显示的 6 位动态口令。手机不在身边时，可输入一个恢复码（每个只能使用一次）。",
                     "Enter the 6-digit code your authenticator app shows now. Without your phone, enter one of your "
                     "recovery codes (each works once)."),
    "verify": ("验证", "Verify"),
    "codes_title": ("恢复码", "Recovery codes"),
    "codes_intro": ("请立即抄写或打印以下 10 个恢复码并妥善保管：手机丢失时，每个恢复码可代替动态口令登录一次。恢复码只显示这一次。",
                    "Write down or print these 10 recovery codes now and keep them safe: each signs you in once "
                    "without your phone. They are shown only this once."),
    "continue": ("继续", "Continue"),
    "status_title": ("双因素登录", "Two-factor sign-in"),
    "enrolled_since": ("已绑定动态口令，绑定时间 {at}", "One-time codes set up on {at}"),
    "codes_left": ("剩余可用恢复码：{n} 个", "Recovery codes left: {n}"),
    "renew": ("重新生成恢复码", "New recovery codes"),
    "renew_hint": ("输入当前动态口令，生成 10 个新的恢复码；原有恢复码随即作废。",
                   "Enter a current code to get 10 new recovery codes; the old ones stop working."),
    "not_needed": ("您的账户角色使用密码登录，无须动态口令。", "Your role signs in with its password only: no second factor."),
    "lost": ("手机和恢复码都丢失时，请联系安全管理员重置双因素。", "Lost your phone and your recovery codes? Ask a security administrator to reset your second factor."),
    "back": ("返回首页", "Back to the dashboard"),
    "logout": ("退出登录", "Sign out"),
}


def tm(key: str, lang: str, **values: object) -> str:
    """The second factor's text for key in lang."""
    return text_in(MFA_TEXT, key, lang, **values)


# --- sign-in and sign-out ------------------------------------------------------------


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
def login(request: Request, lang: LangDep, username: Field, password: Field, csrf_token: Field, next: NextField = "/") -> Response:
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
        second_step = user is not None and needs_second_factor(user.role)
    if token is None:
        return _login_page(request, lang, next_url=safe_next(next), error=error, status=401)
    target = second_factor_redirect(safe_next(next)) if second_step else safe_next(next)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=cookie_secure(request))


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


# --- the password ----------------------------------------------------------------------


def _code_first(request: Request, principal: Principal) -> bool:
    """Half signed in with an enrolled second factor: the code comes before anything else."""
    if not principal.second_factor_due:
        return False
    with request.app.state.sessions() as session:
        return is_enrolled(session, principal.user)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, lang: LangDep) -> Response:
    principal = _principal(request)
    if principal is None or principal.web_session is None:
        return RedirectResponse(login_redirect("/account/password"), status_code=303)
    if _code_first(request, principal):
        return RedirectResponse(second_factor_redirect("/account/password"), status_code=303)
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
    if _code_first(request, principal):
        return RedirectResponse(second_factor_redirect("/account/password"), status_code=303)
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
    return RedirectResponse("/", status_code=303)  # a privileged account not yet enrolled: enrols next


# --- the second factor -----------------------------------------------------------------


def _mfa_page(request: Request, lang: str, principal: Principal, mode: str, *, next_url: str = "/",
              status: int = 200, **context: Any) -> Response:
    """mode: enrol | verify (half signed in) | codes (recovery codes, shown once) | status."""
    half = principal.second_factor_due
    return request.app.state.templates.TemplateResponse(request, "mfa.html", {
        "lang": lang, "plan": request.app.state.plan, "simulated": False, "tm": tm, "mode": mode,
        "me": None if half else principal,  # half signed in: no menu of pages that would refuse it
        "csrf": principal.csrf_token, "next": next_url, "error": None, **context,
    }, status_code=status)


def _enrol_page(request: Request, lang: str, principal: Principal, *, next_url: str, error: str | None = None,
                status: int = 200) -> Response:
    settings = request.app.state.settings
    with request.app.state.sessions.begin() as session:  # begins the enrolment on the first visit
        user = session.get_one(User, principal.user.id)
        try:
            pending = pending_enrolment(session, user, settings=settings, now=utcnow())
        except MfaError as exc:
            return _mfa_page(request, lang, principal, "verify", next_url=next_url, error=exc.message, status=400)
    grouped = " ".join(pending.secret[i:i + 4] for i in range(0, len(pending.secret), 4))
    return _mfa_page(request, lang, principal, "enrol", next_url=next_url, error=error, status=status,
                     secret=grouped, uri=pending.uri, qr=pending.qr)


def _signed_in_principal(request: Request, path: str) -> Principal | Response:
    principal = _principal(request)
    if principal is None or principal.web_session is None:
        return RedirectResponse(login_redirect(path), status_code=303)
    return principal


@router.get("/account/mfa", response_class=HTMLResponse)
def mfa_form(request: Request, lang: LangDep, next: str | None = None) -> Response:
    found = _signed_in_principal(request, MFA_PATH)
    if isinstance(found, Response):
        return found
    principal, next_url = found, safe_next(next)
    user = principal.user
    if not principal.second_factor_due:
        return _status_page(request, lang, principal)
    with request.app.state.sessions() as session:
        enrolled = is_enrolled(session, user)
    if enrolled:
        return _mfa_page(request, lang, principal, "verify", next_url=next_url)
    if password_change_required(user, request.app.state.settings, utcnow()):
        return RedirectResponse("/account/password", status_code=303)  # first the password, then the enrolment
    return _enrol_page(request, lang, principal, next_url=next_url)


def _status_page(request: Request, lang: str, principal: Principal, *, error: str | None = None,
                 status: int = 200) -> Response:
    with request.app.state.sessions() as session:
        row = enrolment_of(session, principal.user)
        left = recovery_codes_left(session, principal.user) if row is not None else 0
    since = local_time(row.confirmed_at) if row is not None and row.confirmed_at is not None else None
    return _mfa_page(request, lang, principal, "status", error=error, status=status,
                     needed=needs_second_factor(principal.user.role), since=since, left=left)


def _refused(exc: MfaError) -> int:
    return 429 if exc.code == "throttled" else 400


@router.post("/account/mfa/enrol")
def mfa_enrol(request: Request, lang: LangDep, code: Field, csrf_token: Field, next: NextField = "/") -> Response:
    found = _signed_in_principal(request, MFA_PATH)
    if isinstance(found, Response):
        return found
    principal, next_url = found, safe_next(next)
    check_csrf(principal, csrf_token)
    if not principal.second_factor_due:
        return _status_page(request, lang, principal, error="没有待完成的绑定 (no set-up to confirm)", status=400)
    assert principal.web_session is not None
    settings, token, error = request.app.state.settings, None, None
    with request.app.state.sessions.begin() as session:
        user = session.get_one(User, principal.user.id)
        try:
            codes = confirm_enrolment(session, user, code, settings=settings, now=utcnow(), origin=principal.origin())
            token, ws = upgrade_session(session, principal.web_session, now=utcnow())
        except MfaError as exc:
            error = exc  # the failure is recorded: the transaction still commits
        except AccountError:
            return RedirectResponse(login_redirect(next_url), status_code=303)
    if error is not None:
        if error.code == "state":
            return _mfa_page(request, lang, principal, "verify", next_url=next_url, error=error.message, status=400)
        return _enrol_page(request, lang, principal, next_url=next_url, error=error.message, status=_refused(error))
    assert token is not None
    response = _mfa_page(request, lang, replace(principal, web_session=ws), "codes", next_url=next_url, codes=codes)
    _set_session_cookie(request, response, token)
    return response


@router.post("/account/mfa/verify")
def mfa_verify(request: Request, lang: LangDep, code: Field, csrf_token: Field, next: NextField = "/") -> Response:
    found = _signed_in_principal(request, MFA_PATH)
    if isinstance(found, Response):
        return found
    principal, next_url = found, safe_next(next)
    check_csrf(principal, csrf_token)
    if not principal.second_factor_due:
        return RedirectResponse(next_url, status_code=303)  # already signed in fully
    assert principal.web_session is not None
    settings, token, error = request.app.state.settings, None, None
    with request.app.state.sessions.begin() as session:
        user = session.get_one(User, principal.user.id)
        try:
            verify_second_factor(session, user, code, settings=settings, now=utcnow(), origin=principal.origin())
            token, _ = upgrade_session(session, principal.web_session, now=utcnow())
        except MfaError as exc:
            error = exc  # the failure is recorded: the transaction still commits
        except AccountError:
            return RedirectResponse(login_redirect(next_url), status_code=303)
    if error is not None:
        if error.code == "state":  # not enrolled (reset meanwhile): enrol
            return RedirectResponse(second_factor_redirect(next_url), status_code=303)
        return _mfa_page(request, lang, principal, "verify", next_url=next_url, error=error.message,
                         status=_refused(error))
    assert token is not None
    response = RedirectResponse(next_url, status_code=303)
    _set_session_cookie(request, response, token)
    return response


@router.post("/account/mfa/recovery-codes")
def mfa_recovery_codes(request: Request, lang: LangDep, code: Field, csrf_token: Field) -> Response:
    found = _signed_in_principal(request, MFA_PATH)
    if isinstance(found, Response):
        return found
    principal = found
    if principal.second_factor_due:
        return RedirectResponse(second_factor_redirect(MFA_PATH), status_code=303)
    check_csrf(principal, csrf_token)
    settings, error = request.app.state.settings, None
    with request.app.state.sessions.begin() as session:
        user = session.get_one(User, principal.user.id)
        try:
            codes = renew_recovery_codes(session, user, code, settings=settings, now=utcnow(), origin=principal.origin())
        except MfaError as exc:
            error = exc  # the failure is recorded: the transaction still commits
    if error is not None:
        return _status_page(request, lang, principal, error=error.message, status=_refused(error))
    return _mfa_page(request, lang, principal, "codes", next_url=MFA_PATH, codes=codes)
