"""Accounts: users, throttled sign-in, password rules, web sessions, API tokens (the
second factor of the privileged roles: hrss.auth.mfa).

Plain functions over a SQLAlchemy Session, shared by the CLI, the web app and the tests.
They flush but never commit: the caller owns the transaction. Every change writes its
audit event (审计日志) in that same transaction.

`authenticate` raises AuthError after recording the failure (throttle count, audit
event). Callers must catch it and still commit, or the failure is
forgotten: a web route renders the error and lets its transaction commit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from hashlib import sha256
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from hrss.audit.service import Origin, naive_utc, record_from
from hrss.auth import throttle
from hrss.auth.passwords import (
    check_policy,
    dummy_hash,
    generate_password,
    hash_password,
    verify_password,
)
from hrss.auth.roles import ROLE_LABELS, SCOPED_ROLES, Role
from hrss.auth.tables import ApiToken, PasswordHistory, User, WebSession
from hrss.db import Base
from hrss.plan.model import Plan
from hrss.settings import Settings

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
ONE_TIME_LENGTH = 16
API_TOKEN_PREFIX = "hrss_"
TOUCH_INTERVAL = timedelta(seconds=30)  # how stale last_seen_at / last_used_at may be


class AuthError(Exception):
    """A refused sign-in. `code`: invalid (unknown user, wrong password or disabled account:
    one code, so as not to tell them apart) | throttled (too many failures from the address)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AccountError(ValueError):
    """A refused account change; `problems` are Chinese (English) messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


INVALID = "用户名或密码错误 (wrong user name or password)"


def _digest(token: str) -> str:
    return sha256(token.encode("utf-8")).hexdigest()


def _snapshot(user: User) -> dict[str, Any]:
    """What the audit trail keeps of a user: no password hash, no secrets."""
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role,
        "org_unit": user.org_unit, "is_active": user.is_active,
        "must_change_password": user.must_change_password,
    }


def _audit(session: Session, origin: Origin | None, action: str, user: User, now: datetime,
           before: Any = None, after: Any = None) -> None:
    record_from(session, origin, action=action, object_type="user", object_id=user.id,
                before=before, after=after, now=now)


# --- users -----------------------------------------------------------------------


def normalise_username(raw: str) -> str:
    """Lower case, trimmed; raises AccountError unless 2–64 letters, digits, '.', '_', '-'."""
    name = raw.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountError(["用户名须为 2–64 位小写字母、数字、点、下划线或连字符，并以字母或数字开头 "
                            "(user name: 2–64 letters, digits, '.', '_' or '-', starting with a letter or digit)"])
    return name


def parse_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        choices = "，".join(f"{r.value} {ROLE_LABELS[r]}" for r in Role)
        raise AccountError([f"未知角色 (unknown role): {raw}；可选 (choose one of): {choices}"]) from None


def _org_unit_for(plan: Plan, role: Role, org_unit: str | None) -> str | None:
    """The canonical org unit name a user of role belongs to (None for city-wide roles)."""
    if role not in SCOPED_ROLES:
        if org_unit:
            raise AccountError([f"只有填报员绑定组织单位，{ROLE_LABELS[role]}不需要 "
                                f"(only district operators belong to an org unit; not {role.value})"])
        return None
    if not org_unit:
        raise AccountError([f"{ROLE_LABELS[role]}必须指定所属组织单位 (a {role.value} needs an org unit)"])
    unit = plan.org_unit(org_unit)
    if unit is None:
        raise AccountError([f"规划中没有这个组织单位 (unknown org unit): {org_unit}"])
    if not unit.reports:
        raise AccountError([f"{unit.name} 是汇总单位，不单独填报，不能绑定填报员 "
                            f"({unit.name} is a group that never reports on its own)"])
    return unit.name


def _display_name(raw: str | None, username: str) -> str:
    name = (raw or "").strip() or username
    if len(name) > 100 or any(not c.isprintable() for c in name):
        raise AccountError(["姓名须为不超过 100 个可打印字符 (display name: at most 100 printable characters)"])
    return name


def get_user(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username.strip().lower())).scalar_one_or_none()


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str | None,
    role: str,
    org_unit: str | None,
    plan: Plan,
    settings: Settings,
    password: str | None = None,
    origin: Origin | None = None,
    now: datetime | None = None,
) -> tuple[User, str | None]:
    """A new user, and its one-time password when none is given (then it must be changed).

    Raises AccountError for a taken or malformed user name, an unknown role, a missing,
    unknown or aggregate org unit for a district operator, or a password against policy.
    """
    at = naive_utc(now)
    name = normalise_username(username)
    the_role = parse_role(role)
    unit = _org_unit_for(plan, the_role, org_unit)
    shown = _display_name(display_name, name)
    if get_user(session, name) is not None:
        raise AccountError([f"用户名已存在 (user name already taken): {name}"])
    one_time = None
    if password is None:
        one_time = password = generate_password(max(ONE_TIME_LENGTH, settings.password_min_length))
    elif problems := check_policy(password, name, settings, org_unit=unit):
        raise AccountError(problems)
    user = User(
        username=name, display_name=shown, role=the_role.value, org_unit=unit,
        password_hash=hash_password(password), password_changed_at=at,
        must_change_password=one_time is not None, failed_attempts=0, locked_until=None,
        is_active=True, created_at=at,
    )
    session.add(user)
    session.flush()
    _audit(session, origin, "user.created", user, at, after=_snapshot(user))
    return user, one_time


def change_role(
    session: Session, user: User, *, role: str, org_unit: str | None, plan: Plan,
    origin: Origin | None = None, now: datetime | None = None,
) -> None:
    """Give user another role (and org unit); permissions follow on the next request."""
    the_role = parse_role(role)
    unit = _org_unit_for(plan, the_role, org_unit)
    before = {"role": user.role, "org_unit": user.org_unit}
    user.role, user.org_unit = the_role.value, unit
    session.flush()
    _audit(session, origin, "user.role_changed", user, naive_utc(now), before=before,
           after={"role": user.role, "org_unit": user.org_unit})
    if before != {"role": user.role, "org_unit": user.org_unit}:
        revoke_tokens_of(session, user, reason="role_changed", origin=origin, now=now)


def set_active(session: Session, user: User, active: bool, *, origin: Origin | None = None,
               now: datetime | None = None) -> None:
    """Enable or disable an account; disabling ends its web sessions at once."""
    before = user.is_active
    user.is_active = active
    if not active:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    _audit(session, origin, "user.activated" if active else "user.deactivated", user, naive_utc(now),
           before={"is_active": before}, after={"is_active": active})
    if not active:  # re-enabling never brings an old token back
        revoke_tokens_of(session, user, reason="deactivated", origin=origin, now=now)


# --- passwords -------------------------------------------------------------------


def password_expired(user: User, settings: Settings, now: datetime) -> bool:
    """Older than HRSS_PASSWORD_MAX_AGE_DAYS (never when that is 0)."""
    days = settings.password_max_age_days
    return days > 0 and naive_utc(now) - user.password_changed_at >= timedelta(days=days)


def password_change_required(user: User, settings: Settings, now: datetime) -> bool:
    """A one-time password, or an expired one: the user may do nothing but change it."""
    return user.must_change_password or password_expired(user, settings, now)


def change_password(
    session: Session,
    user: User,
    *,
    current_password: str,
    new_password: str,
    settings: Settings,
    now: datetime,
    keep_session: WebSession | None = None,
    origin: Origin | None = None,
) -> None:
    """The user's own change: the current password must be right, the new one must meet
    the policy and differ from it. Ends the user's other web sessions."""
    if not verify_password(user.password_hash, current_password).ok:
        raise AccountError(["当前密码不正确 (the current password is wrong)"])
    problems = check_policy(new_password, user.username, settings, org_unit=user.org_unit)
    if verify_password(user.password_hash, new_password).ok:
        problems.append("新密码不能与当前密码相同 (the new password must differ from the current one)")
    elif any(verify_password(old, new_password).ok for old in _previous_hashes(session, user)):
        problems.append(f"新密码不能与最近 {HISTORY} 次用过的密码相同 "
                        f"(the new password must differ from the last {HISTORY} ones)")
    if problems:
        raise AccountError(problems)
    at = naive_utc(now)
    was_one_time = user.must_change_password
    _set_password(session, user, new_password, at, must_change=False, keep_session=keep_session)
    _audit(session, origin, "user.password_changed", user, at,
           before={"must_change_password": was_one_time}, after={"must_change_password": False})


def reset_password(session: Session, user: User, *, settings: Settings, origin: Origin | None = None,
                   now: datetime | None = None) -> str:
    """An administrator's reset: a new one-time password (returned once), the name's
    sign-in throttling cleared on every address, every session ended."""
    at = naive_utc(now)
    password = generate_password(max(ONE_TIME_LENGTH, settings.password_min_length))
    _set_password(session, user, password, at, must_change=True, keep_session=None)
    throttle.clear(session, throttle.name_key(user.username))
    _audit(session, origin, "user.password_reset", user, at, after={"must_change_password": True})
    revoke_tokens_of(session, user, reason="password_reset", origin=origin, now=at)
    return password


HISTORY = 5  # passwords a user may not take again (the current one and the 4 before it)


def _previous_hashes(session: Session, user: User) -> list[str]:
    """The hashes of the passwords before the current one, newest first (HISTORY − 1 of them)."""
    q = select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
    return list(session.execute(q.order_by(PasswordHistory.id.desc()).limit(HISTORY - 1)).scalars())


def _set_password(session: Session, user: User, password: str, at: datetime, *, must_change: bool,
                  keep_session: WebSession | None) -> None:
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, replaced_at=at))
    keep = select(PasswordHistory.id).where(PasswordHistory.user_id == user.id).order_by(PasswordHistory.id.desc()).limit(HISTORY - 1)
    session.flush()
    session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user.id,
                                                  PasswordHistory.id.not_in(list(session.execute(keep).scalars()))))
    user.password_hash = hash_password(password)
    user.password_changed_at = at
    user.must_change_password = must_change
    others = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_session is not None:
        others = others.where(WebSession.id != keep_session.id)
    session.execute(others)
    session.flush()


# --- sign-in ---------------------------------------------------------------------


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    settings: Settings,
    now: datetime,
    origin: Origin | None = None,
) -> User:
    """The user with this name and password, or AuthError (commit anyway: see module doc).

    An unknown user, a wrong password and a disabled account get the same answer after
    the same work (one argon2 verify). Failures are throttled per (name as typed, client
    address; see hrss.auth.throttle): a pair that waits is refused with one neutral
    message, the password unchecked, whether the name is an account or not.
    """
    at = naive_utc(now)
    origin = origin or Origin()
    anonymous = replace(origin, user=None, user_name="anonymous")
    name = username.strip().lower()
    key, addr = throttle.name_key(name), throttle.address_key(origin.client_addr)
    # Not locked for update: attempts on one name from many addresses must not queue the
    # owner's sign-in behind their password checks.
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    until = throttle.blocked_until(session, key, addr, at)
    if until is not None:
        verify_password(dummy_hash(), password)  # the work of a real check, so that waiting takes as long
        _refused(session, anonymous, user, at, {"reason": "throttled"})
        raise AuthError("throttled", throttle.message(until - at))
    checked = verify_password(user.password_hash if user is not None else dummy_hash(), password)
    if user is not None and checked.ok and user.is_active:
        if checked.needs_rehash:
            _rehash(session, user, password)
        until = throttle.admit(session, key, addr, at)
    else:
        reason = "unknown_user" if user is None else "wrong_password" if not checked.ok else "inactive"
        until = _count_failure(session, anonymous, user, at, reason, key=key, addr=addr, settings=settings)
    if until is not None:  # a parallel attempt made the pair wait while this one was checked
        _refused(session, anonymous, user, at, {"reason": "throttled"})
        raise AuthError("throttled", throttle.message(until - at))
    _audit(session, replace(origin, user=user), "auth.login", user, at)
    return user


def _count_failure(session: Session, origin: Origin, user: User | None, at: datetime, reason: str, *,
                   key: str, addr: str, settings: Settings) -> datetime | None:
    """Count and audit a refused attempt, then raise its AuthError; return instead (the end
    of the wait) when a parallel attempt started the pair's block first."""
    # The throttle row before the audit lock, in the order reset_password takes them.
    counted = throttle.record_failure(session, key, addr, at, settings)
    if counted.too_late:
        return counted.blocked_until
    _refused(session, origin, user, at, {"reason": reason, "failures": counted.failures})
    if counted.blocked_until is None:
        raise AuthError("invalid", INVALID)
    _refused(session, origin, user, at, {"blocked_until": counted.blocked_until.isoformat(),
                                         "failures": counted.failures}, action="auth.throttled")
    raise AuthError("throttled", throttle.message(counted.blocked_until - at))


def _rehash(session: Session, user: User, password: str) -> None:
    """Store the password's hash made with today's parameters, unless it changed meanwhile."""
    seen = user.password_hash
    session.refresh(user, with_for_update=True)
    if user.password_hash == seen:
        user.password_hash = hash_password(password)
        session.flush()


def _refused(session: Session, origin: Origin, user: User | None, at: datetime, after: dict[str, Any],
             action: str = "auth.login_failed") -> None:
    # The attempted name is never recorded: it is sometimes a password typed in the wrong box.
    record_from(session, origin, action=action, object_type="user", object_id=user.id if user else None,
                after=after, now=at)


# --- web sessions ----------------------------------------------------------------


def start_session(session: Session, user: User, *, client_addr: str | None, now: datetime,
                  second_factor: bool = False) -> str:
    """A new web session for an authenticated user; returns the token for the cookie
    (only its sha256 is stored). A privileged role's session is only half signed in until
    its second factor passes (hrss.auth.mfa, `upgrade_session`); second_factor=True
    starts it as passed (tests and tools that sign in without the pages)."""
    at = naive_utc(now)
    token = secrets.token_urlsafe(32)
    session.add(WebSession(
        id=_digest(token), user_id=user.id, created_at=at, last_seen_at=at,
        csrf_token=secrets.token_urlsafe(32), client_addr=client_addr[:64] if client_addr else None,
        mfa_verified_at=at if second_factor else None,
    ))
    session.flush()
    return token


def upgrade_session(session: Session, web_session: WebSession, *, now: datetime) -> tuple[str, WebSession]:
    """The second factor passed: replace the half-signed-in session by a new one (a new
    token and CSRF token, so that a cookie seen before the second factor is worth nothing
    after it), marked as passed; its age still counts from the password step. Returns the
    cookie's token and the new session; AccountError when the session ended meanwhile."""
    at = naive_utc(now)
    old = session.get(WebSession, web_session.id)
    if old is None:  # ended meanwhile (signed out elsewhere, a reset): no upgrade
        raise AccountError(["会话已结束，请重新登录 (the session has ended: sign in again)"])
    token = secrets.token_urlsafe(32)
    new = WebSession(
        id=_digest(token), user_id=old.user_id, created_at=old.created_at, last_seen_at=at,
        csrf_token=secrets.token_urlsafe(32), client_addr=old.client_addr, mfa_verified_at=at,
    )
    session.add(new)
    session.delete(old)
    session.flush()
    return token, new


# "Who is asking" is one indexed round trip per request (the statements are built once).
_SESSION_AND_USER = (
    select(WebSession, User).outerjoin(User, User.id == WebSession.user_id).where(WebSession.id == bindparam("digest"))
)
_TOKEN_AND_USER = (
    select(ApiToken, User).outerjoin(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == bindparam("digest"))
)


def _labelled(cls: type[Base], prefix: str) -> list[Any]:
    return [column.label(prefix + column.key) for column in cls.__table__.columns]


# The read-only twins select plain columns: ORM loading costs more than the query itself,
# and they run on every web request.
_PEEK_SESSION = select(*_labelled(WebSession, "s_"), *_labelled(User, "u_")).outerjoin(
    User.__table__, User.id == WebSession.user_id).where(WebSession.id == bindparam("digest"))
_PEEK_TOKEN = select(*_labelled(ApiToken, "t_"), *_labelled(User, "u_")).outerjoin(
    User.__table__, User.id == ApiToken.user_id).where(ApiToken.token_hash == bindparam("digest"))

B = TypeVar("B", bound=Base)


def _detached(cls: type[B], row: Any, prefix: str) -> B:
    """The object of cls in a plain row, as a session would leave it once closed: detached,
    every column loaded. The same row values give the same object (building one costs more
    than the query), so callers only read it, as they would a row."""
    return _detached_from(cls, tuple((key[len(prefix):], value) for key, value in row._mapping.items()
                                     if key.startswith(prefix)))


@lru_cache(maxsize=1024)
def _detached_from(cls: type[B], items: tuple[tuple[str, Any], ...]) -> B:
    obj = cls(**dict(items))
    make_transient_to_detached(obj)
    return obj


class Lookup(NamedTuple):
    """What a read-only look at a cookie or token found. `user` is None when it does not
    sign anyone in; `write` tells that the writing twin (load_session, user_for_api_token)
    would change the store: note the use (at most every TOUCH_INTERVAL) or end the session."""

    user: User | None
    web_session: WebSession | None
    write: bool


def _judge_session(ws: WebSession, user: User | None, settings: Settings, at: datetime) -> tuple[bool, bool]:
    """(valid, to be noted as used)."""
    idle = at - ws.last_seen_at >= timedelta(minutes=settings.session_idle_minutes)
    too_old = at - ws.created_at >= timedelta(hours=settings.session_absolute_hours)
    if user is None or not user.is_active or idle or too_old:
        return False, False
    return True, at - ws.last_seen_at >= TOUCH_INTERVAL  # not a write per request: idle timeouts are minutes


def peek_session(conn: Connection, token: str, *, settings: Settings, now: datetime) -> Lookup:
    """load_session without writing: what it would return (detached objects), and whether
    it would write."""
    row = conn.execute(_PEEK_SESSION, {"digest": _digest(token)}).first()
    if row is None:
        return Lookup(None, None, False)
    ws = _detached(WebSession, row, "s_")
    user = _detached(User, row, "u_") if row.u_id is not None else None
    valid, touch = _judge_session(ws, user, settings, naive_utc(now))
    return Lookup(user, ws, touch) if valid else Lookup(None, None, True)


def load_session(session: Session, token: str, *, settings: Settings,
                 now: datetime) -> tuple[User, WebSession] | None:
    """The user and session behind a cookie token, and mark it used; None when unknown,
    idle for HRSS_SESSION_IDLE_MINUTES, older than HRSS_SESSION_ABSOLUTE_HOURS, or the
    user is disabled (an expired session is deleted)."""
    at = naive_utc(now)
    row = session.execute(_SESSION_AND_USER, {"digest": _digest(token)}).first()
    if row is None:
        return None
    ws, user = row
    valid, touch = _judge_session(ws, user, settings, at)
    if not valid:
        session.delete(ws)
        session.flush()
        return None
    if touch:
        ws.last_seen_at = at
        session.flush()
    return user, ws


def end_session(session: Session, token: str, *, origin: Origin | None = None,
                now: datetime | None = None) -> bool:
    """Sign out: delete the session. False when there was none."""
    ws = session.get(WebSession, _digest(token))
    if ws is None:
        return False
    user = session.get(User, ws.user_id)
    session.delete(ws)
    session.flush()
    if user is not None:
        _audit(session, replace(origin or Origin(), user=user), "auth.logout", user, naive_utc(now))
    return True


# --- API tokens ------------------------------------------------------------------


def create_api_token(session: Session, user: User, name: str, *, origin: Origin | None = None,
                     now: datetime | None = None) -> str:
    """A new API token for user, returned once (only its sha256 is stored)."""
    label = name.strip()
    if not label or len(label) > 100 or any(not c.isprintable() for c in label):
        raise AccountError(["令牌名称须为 1–100 个可打印字符 (token name: 1–100 printable characters)"])
    at = naive_utc(now)
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=label, token_hash=_digest(token), created_at=at,
                   last_used_at=None, revoked=False)
    session.add(row)
    session.flush()
    record_from(session, origin, action="token.created", object_type="api_token", object_id=row.id,
                after={"user_id": user.id, "name": label}, now=at)
    return token


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).scalars())


def revoke_api_token(session: Session, token_id: int, *, origin: Origin | None = None,
                     now: datetime | None = None) -> bool:
    """Revoke a token for good; False when there is no such token or it was revoked."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked:
        return False
    row.revoked = True
    session.flush()
    record_from(session, origin, action="token.revoked", object_type="api_token", object_id=row.id,
                before={"revoked": False}, after={"revoked": True}, now=naive_utc(now))
    return True


def revoke_tokens_of(session: Session, user: User, *, reason: str, origin: Origin | None = None,
                     now: datetime | None = None) -> int:
    """Revoke every live API token of user (a reset, a disable, a role change: a token
    follows its account); returns how many, audited as one event."""
    live = select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
    ids = list(session.execute(live).scalars())
    if not ids:
        return 0
    session.execute(update(ApiToken).where(ApiToken.id.in_(ids)).values(revoked=True))
    session.flush()
    record_from(session, origin, action="token.revoked", object_type="user", object_id=user.id,
                before={"revoked": False}, after={"revoked": True, "tokens": ids, "reason": reason}, now=naive_utc(now))
    return len(ids)


def _judge_token(row: ApiToken, user: User | None, at: datetime) -> tuple[bool, bool]:
    """(valid, to be noted as used)."""
    if row.revoked or user is None or not user.is_active:
        return False, False
    return True, row.last_used_at is None or at - row.last_used_at >= TOUCH_INTERVAL


def peek_api_token(conn: Connection, token: str, now: datetime) -> Lookup:
    """user_for_api_token without writing: whom the token signs in (a detached object),
    and whether the call would note its use."""
    found = conn.execute(_PEEK_TOKEN, {"digest": _digest(token)}).first()
    if found is None:
        return Lookup(None, None, False)
    row = _detached(ApiToken, found, "t_")
    user = _detached(User, found, "u_") if found.u_id is not None else None
    valid, touch = _judge_token(row, user, naive_utc(now))
    return Lookup(user, None, touch) if valid else Lookup(None, None, False)


def user_for_api_token(session: Session, token: str, now: datetime) -> User | None:
    """The active user a valid, unrevoked token belongs to (its last use is noted)."""
    found = session.execute(_TOKEN_AND_USER, {"digest": _digest(token)}).first()
    if found is None:
        return None
    row, user = found
    at = naive_utc(now)
    valid, touch = _judge_token(row, user, at)
    if not valid:
        return None
    if touch:
        row.last_used_at = at
        session.flush()
    return user
