"""Administration: the audit log viewer (审计日志) and user and role administration (用户管理).

Pages live under /admin (signed-in people, `PageUser`); the audit log is also JSON at
/api/v1/audit (`ApiUser`: session cookie or bearer token). Permissions come from the role
table (`read_audit`; `view_users` for the account pages, `manage_users` for every change
to an account: the security administrator's); every change goes through the account
service functions in `hrss.auth.service` and `hrss.auth.mfa`, which write its audit event
in the same transaction. No one changes their own role, disables themselves or resets
their own second factor here.

Before/after values are shown through `mask_json` (hrss.ledgers.masking): ID numbers,
phone numbers and lists of personal names are masked, since the audit log may hold
personal data; free text (display names …) goes through the `mask_text` template filter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hrss.audit.service import ACTION_LABELS, count_events, local_time, utcnow, verify
from hrss.audit.tables import AuditEvent
from hrss.auth import mfa, throttle
from hrss.auth.roles import ROLE_LABELS, SCOPED_ROLES, Action, Role, needs_second_factor
from hrss.auth.service import (
    AccountError,
    change_role,
    create_api_token,
    create_user,
    get_user,
    list_api_tokens,
    list_users,
    reset_password,
    revoke_api_token,
    set_active,
)
from hrss.auth.tables import User
from hrss.ledgers.masking import mask_json as mask_json  # re-exported: the audit view's masking
from hrss.ledgers.masking import mask_json_text
from hrss.web.admin_text import ta
from hrss.web.api import ERRORS
from hrss.web.deps import LangDep, SessionDep, bad_request, clean_text
from hrss.web.pages import templates_of
from hrss.web.security import ApiUser, PageUser, Principal, check_csrf, require

router = APIRouter()

PER_PAGE = 50
Field = Annotated[str, Form(max_length=256)]
OptionalField = Annotated[str | None, Form(max_length=256)]
PageParam = Annotated[int, Query(ge=1, le=1_000_000, description="页码 (page number, from 1)")]
ActionParam = Annotated[str | None, Query(max_length=50, description="操作 (exact action, e.g. user.created)")]
UserParam = Annotated[str | None, Query(max_length=64, description="操作人 (exact user name)")]

# --- the audit log (审计日志) -----------------------------------------------------


def _filtered(stmt: Select[Any], action: str | None, user: str | None) -> Select[Any]:
    action, user = clean_text(action or ""), clean_text(user or "")  # PostgreSQL refuses NUL
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if user:
        stmt = stmt.where(AuditEvent.user_name == user)
    return stmt


def audit_page(session: Session, *, page: int, per_page: int, action: str | None,
               user: str | None) -> tuple[list[AuditEvent], int]:
    """One page of events (newest first) matching the exact filters, and their total."""
    total = session.execute(_filtered(select(func.count()).select_from(AuditEvent), action, user)).scalar_one()
    rows = session.execute(_filtered(select(AuditEvent), action, user).order_by(AuditEvent.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).scalars()
    return list(rows), total


def event_json(e: AuditEvent) -> dict[str, Any]:
    """An event for display and the API, before/after masked (no hashes of secrets exist)."""
    return {
        "id": e.id, "at": e.at.isoformat() + "Z", "at_local": e.at_local, "user_id": e.user_id,
        "user_name": e.user_name, "action": e.action, "action_label": ACTION_LABELS.get(e.action),
        "object_type": e.object_type, "object_id": e.object_id, "request_id": e.request_id,
        "client_addr": e.client_addr, "before": mask_json_text(e.before), "after": mask_json_text(e.after),
        "hash": e.hash,
    }


def _dump(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@router.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_log(request: Request, session: SessionDep, lang: LangDep, me: PageUser, page: PageParam = 1,
              action: ActionParam = None, user: UserParam = None) -> Response:
    require(me, Action.READ_AUDIT)
    action, user = action or None, user or None
    events, total = audit_page(session, page=page, per_page=PER_PAGE, action=action, user=user)
    pages = max(1, math.ceil(total / PER_PAGE))
    filters = {k: v for k, v in (("action", action), ("user", user)) if v}

    def page_url(n: int) -> str:
        return "/admin/audit?" + urlencode({**filters, "page": n})

    rows = [{**row, "before_text": _dump(row["before"]), "after_text": _dump(row["after"])}
            for row in map(event_json, events)]
    return _render(request, "audit.html", lang, me, {
        "events": rows, "problems": verify(session), "count": count_events(session), "page": page,
        "pages": pages, "total": total, "action": action or "", "user": user or "", "actions": ACTION_LABELS,
        "prev_url": page_url(page - 1) if page > 1 else None, "next_url": page_url(page + 1) if page < pages else None,
    })


@router.get("/api/v1/audit", tags=["audit 审计"], summary="审计日志 (audit events, newest first, paginated)",
            responses=ERRORS)
def audit_api(session: SessionDep, me: ApiUser, page: PageParam = 1,
              per_page: Annotated[int, Query(ge=1, le=200, description="每页条数 (events per page)")] = PER_PAGE,
              action: ActionParam = None, user: UserParam = None) -> dict[str, Any]:
    require(me, Action.READ_AUDIT)
    events, total = audit_page(session, page=page, per_page=per_page, action=action or None, user=user or None)
    return {"page": page, "per_page": per_page, "total": total, "pages": max(1, math.ceil(total / per_page)),
            "events": [event_json(e) for e in events]}


# --- users and roles (用户与角色) --------------------------------------------------


def _render(request: Request, name: str, lang: str, me: Principal, context: dict[str, Any],
            status: int = 200) -> Response:
    response = templates_of(request).TemplateResponse(request, name, {
        "lang": lang, "plan": request.app.state.plan, "me": me, "simulated": False, "ta": ta,
        "local": local_time, **context,
    }, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # personal data and one-time secrets
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


def _choices(request: Request) -> dict[str, Any]:
    plan = request.app.state.plan
    return {
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role], "role_labels": {r.value: ROLE_LABELS[r] for r in Role},
        "org_units": [u.name for u in plan.org_units if u.kind not in ("group", "city")],
    }


def _unknown(key: str, what: object) -> HTTPException:
    return bad_request(f"{ta(key, 'zh')}: {what}", f"{ta(key, 'en')}: {what}", 404)


def _org_for(role: str, org_unit: str | None) -> str | None:
    """The form always sends an org unit select; only roles bound to one keep it."""
    return (org_unit or None) if role in {r.value for r in SCOPED_ROLES} else None


def _users_page(request: Request, lang: str, me: Principal, *, errors: list[str] | None = None,
                form: dict[str, str] | None = None, status: int = 200) -> Response:
    with request.app.state.sessions() as session:
        users = list_users(session)
        blocks = throttle.latest_blocks(session, [u.username for u in users], utcnow())
        enrolled = mfa.enrolled_user_ids(session)
    return _render(request, "admin_users.html", lang, me, {
        "users": users, "blocks": blocks, "enrolled": enrolled, "needs_mfa": needs_second_factor,
        "errors": errors or [], "form": form or {}, **_choices(request)}, status)


def _user_page(request: Request, lang: str, me: Principal, username: str, *, secret: tuple[str, str] | None = None,
               errors: list[str] | None = None, status: int = 200) -> Response:
    with request.app.state.sessions() as session:
        target = get_user(session, clean_text(username))
        if target is None:
            raise _unknown("unknown_user", username)
        tokens = list_api_tokens(session, target)
        blocks = throttle.running_blocks(session, target.username, utcnow())
        enrolment = mfa.enrolment_of(session, target)
        codes_left = mfa.recovery_codes_left(session, target)
    return _render(request, "admin_user.html", lang, me, {
        "u": target, "tokens": tokens, "blocks": blocks, "secret": secret, "errors": errors or [],
        "needs_mfa": needs_second_factor(target.role),
        "mfa_since": enrolment.confirmed_at if enrolment is not None else None, "codes_left": codes_left,
        "done": request.query_params.get("done") == "1", **_choices(request)}, status)


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users(request: Request, lang: LangDep, me: PageUser) -> Response:
    require(me, Action.VIEW_USERS)
    return _users_page(request, lang, me)


@router.post("/admin/users", include_in_schema=False)
def user_create(request: Request, lang: LangDep, me: PageUser, username: Field, role: Field,
                display_name: OptionalField = None, org_unit: OptionalField = None,
                csrf_token: OptionalField = None) -> Response:
    require(me, Action.MANAGE_USERS)
    if me.web_session is None:  # a person, signed in with both factors, changes accounts: never a token
        raise bad_request(ta("needs_session", "zh"), ta("needs_session", "en"), 403)
    check_csrf(me, csrf_token)
    try:
        with request.app.state.sessions.begin() as session:
            user, one_time = create_user(session, username=username, display_name=display_name, role=role,
                                         org_unit=_org_for(role, org_unit), plan=request.app.state.plan,
                                         settings=request.app.state.settings, origin=me.origin())
            name = user.username
    except AccountError as exc:
        form = {"username": username, "display_name": display_name or "", "role": role, "org_unit": org_unit or ""}
        return _users_page(request, lang, me, errors=exc.problems, form=form, status=400)
    return _user_page(request, lang, me, name, secret=("one_time", one_time or ""))


@router.get("/admin/users/{username}", response_class=HTMLResponse, include_in_schema=False)
def user_detail(username: str, request: Request, lang: LangDep, me: PageUser) -> Response:
    require(me, Action.VIEW_USERS)
    return _user_page(request, lang, me, username)


def _change(request: Request, lang: str, me: Principal, username: str, csrf_token: str | None,
            change: Callable[[Session, User], str | None], secret_kind: str | None = None) -> Response:
    """Run one audited change to a user in its own transaction; problems are shown inline.

    Without secret_kind the answer redirects back to the user's page (post/redirect/get);
    with it, the page shows change's return value (a one-time password or token) once.
    """
    require(me, Action.MANAGE_USERS)
    if me.web_session is None:  # a person, signed in with both factors, changes accounts: never a token
        raise bad_request(ta("needs_session", "zh"), ta("needs_session", "en"), 403)
    check_csrf(me, csrf_token)
    try:
        with request.app.state.sessions.begin() as session:
            target = get_user(session, clean_text(username))
            if target is None:
                raise _unknown("unknown_user", username)
            result = change(session, target)
    except AccountError as exc:
        return _user_page(request, lang, me, username, errors=exc.problems, status=400)
    if secret_kind is not None:
        return _user_page(request, lang, me, username, secret=(secret_kind, result or ""))
    return RedirectResponse(f"/admin/users/{quote(username)}?done=1", status_code=303)


def _not_self(me: Principal, target: User, key: str = "self_protect") -> None:
    if target.id == me.user.id:
        raise AccountError([ta(key, "zh")])


@router.post("/admin/users/{username}/role", include_in_schema=False)
def user_role(username: str, request: Request, lang: LangDep, me: PageUser, role: Field,
              org_unit: OptionalField = None, csrf_token: OptionalField = None) -> Response:
    def change(session: Session, target: User) -> None:
        _not_self(me, target)
        change_role(session, target, role=role, org_unit=_org_for(role, org_unit), plan=request.app.state.plan,
                    origin=me.origin())

    return _change(request, lang, me, username, csrf_token, change)


@router.post("/admin/users/{username}/active", include_in_schema=False)
def user_active(username: str, request: Request, lang: LangDep, me: PageUser, active: Field,
                csrf_token: OptionalField = None) -> Response:
    def change(session: Session, target: User) -> None:
        if active != "1":
            _not_self(me, target)
        set_active(session, target, active == "1", origin=me.origin())

    return _change(request, lang, me, username, csrf_token, change)


@router.post("/admin/users/{username}/password", include_in_schema=False)
def user_password_reset(username: str, request: Request, lang: LangDep, me: PageUser,
                        csrf_token: OptionalField = None) -> Response:
    def change(session: Session, target: User) -> str:
        return reset_password(session, target, settings=request.app.state.settings, origin=me.origin())

    return _change(request, lang, me, username, csrf_token, change, secret_kind="one_time")


@router.post("/admin/users/{username}/mfa/reset", include_in_schema=False)
def user_mfa_reset(username: str, request: Request, lang: LangDep, me: PageUser,
                   csrf_token: OptionalField = None) -> Response:
    def change(session: Session, target: User) -> None:
        _not_self(me, target, "self_mfa")
        mfa.reset_mfa(session, target, origin=me.origin())

    return _change(request, lang, me, username, csrf_token, change)


@router.post("/admin/users/{username}/tokens", include_in_schema=False)
def user_token_create(username: str, request: Request, lang: LangDep, me: PageUser, name: Field,
                      csrf_token: OptionalField = None) -> Response:
    def change(session: Session, target: User) -> str:
        # Tokens skip the second factor: one for another privileged account would let whoever
        # holds it act as that account (an auditor's, an administrator's). Its holder makes it.
        if target.id != me.user.id and needs_second_factor(target.role):
            raise AccountError([ta("token_privileged", "zh")])
        return create_api_token(session, target, name, origin=me.origin())

    return _change(request, lang, me, username, csrf_token, change, secret_kind="token")


@router.post("/admin/users/{username}/tokens/{token_id}/revoke", include_in_schema=False)
def user_token_revoke(username: str, token_id: int, request: Request, lang: LangDep, me: PageUser,
                      csrf_token: OptionalField = None) -> Response:
    def change(session: Session, target: User) -> None:
        if token_id not in {t.id for t in list_api_tokens(session, target)}:
            raise _unknown("unknown_token", token_id)
        revoke_api_token(session, token_id, origin=me.origin())

    return _change(request, lang, me, username, csrf_token, change)
