"""The second factor (双因素) of the privileged roles: TOTP enrolment at the first sign-in,
codes good once, recovery codes, the half-signed-in session, throttling, reset-mfa, and
the separation of duties of the three administrators (三权分立).

The web tests compute codes with pyotp from the secret the enrolment page shows, as an
authenticator app would (web_helpers.sign_in does the same for the rest of the suite).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from hrss.audit.service import Origin
from hrss.audit.tables import AuditEvent
from hrss.auth import mfa, throttle
from hrss.auth.demo import ensure_demo_accounts
from hrss.auth.mfa import MfaError
from hrss.auth.service import (
    AccountError,
    create_api_token,
    create_user,
    get_user,
    parse_role,
    start_session,
)
from hrss.auth.tables import MfaEnrolment, RecoveryCode, User, WebSession
from hrss.cli import app as cli
from hrss.db import make_engine, transaction
from hrss.plan.model import Plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import (
    PASSWORD,
    RECOVERY,
    csrf_token,
    pass_second_factor,
    shown_recovery_codes,
    shown_totp_secret,
    sign_in,
    stored_code,
)

T0 = datetime(2025, 3, 1, 8, 0, 0)  # naive UTC; a multiple of 30 s
USERS = [  # username, role, org unit
    ("tongji", "city_statistician", None),
    ("admin", "city_admin", None),
    ("shenji", "auditor", None),
    ("anquan", "security_admin", None),
    ("peixian", "district_operator", "沛县"),
    ("lingdao", "leader", None),
]


def _settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, mfa_key_file=tmp_path / "mfa.key")


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> FastAPI:
    settings = _settings(db_url, tmp_path)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        for username, role, unit in USERS:
            create_user(s, username=username, display_name=username, role=role, org_unit=unit, plan=plan,
                        settings=settings, password=PASSWORD)
    engine.dispose()
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _password_only(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in with the password alone; returns where the form sent the browser."""
    client.cookies.clear()
    form = client.get("/login")
    done = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(form),
                                       "next": "/reports"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return done.headers["location"]


@dataclass(frozen=True)
class Event:
    user_name: str
    before: Any
    after: Any


def _events_in(session: Session, action: str) -> list[Event]:
    """The audit events of action, oldest first, before/after as stored (JSON) decoded."""
    rows = session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()
    return [Event(e.user_name, json.loads(e.before) if e.before else None, json.loads(e.after) if e.after else None)
            for e in rows]


def _events(app: FastAPI, action: str) -> list[Event]:
    with app.state.sessions() as s:
        return _events_in(s, action)


def _verify(client: TestClient, code: str, next_url: str = "/") -> Response:
    page = client.get("/account/mfa")
    return client.post("/account/mfa/verify", data={"code": code, "csrf_token": csrf_token(page), "next": next_url},
                       follow_redirects=False)


# --- the web flow ---------------------------------------------------------------------------


def test_enrolment_at_the_first_sign_in_end_to_end(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    with app.state.sessions.begin() as s:  # a new account: a one-time password, changed first
        _, one_time = create_user(s, username="tongji2", display_name="统计员", role="city_statistician", org_unit=None,
                                  plan=app.state.plan, settings=app.state.settings)
    assert _password_only(client, "tongji2", one_time) == "/account/mfa?next=%2Freports"
    first = client.get("/account/mfa?next=%2Freports", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/account/password"  # the password first
    page = client.get("/account/password")
    changed = client.post("/account/password", data={"current_password": one_time, "new_password": "Another-2025-plan!",
                                                     "confirm_password": "Another-2025-plan!", "csrf_token": csrf_token(page)},
                          follow_redirects=False)
    assert changed.status_code == 303
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/account/mfa?next=%2F"  # then the enrolment
    enrol = client.get("/account/mfa", params={"next": "/reports"})
    assert enrol.status_code == 200 and 'data-mfa="enrol"' in enrol.text
    secret = shown_totp_secret(enrol)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)  # base32, 160 bits
    uri = re.search(r'<code id="mfa-uri">([^<]+)</code>', enrol.text).group(1)  # type: ignore[union-attr]
    assert uri.startswith("otpauth://totp/HRSS:tongji2?") and f"secret={secret}" in uri.replace("&amp;", "&")
    assert 'src="data:image/svg+xml;charset=utf-8,%3Csvg' in enrol.text  # the QR code, drawn on the server
    assert enrol.headers["cache-control"] == "no-store"
    again = client.get("/account/mfa")
    assert shown_totp_secret(again) == secret  # a reload shows the enrolment begun, not a new one

    wrong = client.post("/account/mfa/enrol", data={"code": "12345", "csrf_token": csrf_token(enrol), "next": "/reports"})
    assert wrong.status_code == 400 and "动态口令或恢复码错误" in wrong.text and shown_totp_secret(wrong) == secret
    half_cookie = client.cookies.get("hrss_session")
    done = client.post("/account/mfa/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(enrol),
                                                   "next": "/reports"})
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    codes = shown_recovery_codes(done)
    assert len(codes) == 10 == len(set(codes)) and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    assert 'href="/reports"' in done.text and secret not in done.text
    assert client.cookies.get("hrss_session") != half_cookie  # a new session once the second factor passed
    assert client.get("/").status_code == 200 and client.get("/reports").status_code == 200
    status = client.get("/account/mfa")
    assert 'data-mfa="status"' in status.text and secret not in status.text and "剩余可用恢复码：10 个" in status.text
    assert all(c not in status.text for c in codes)  # shown once

    stale = TestClient(app)  # the half-signed-in cookie is worth nothing now
    stale.cookies.set("hrss_session", half_cookie or "")
    assert stale.get("/", follow_redirects=False).headers["location"].startswith("/login")

    with app.state.sessions() as s:  # stored: the secret encrypted, the codes as sha256
        user = get_user(s, "tongji2")
        row = s.get_one(MfaEnrolment, user.id)
        assert row.confirmed_at is not None and secret not in row.secret and row.secret.startswith("v1.")
        hashes = set(s.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).scalars())
        assert hashes == {sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
        dump = " ".join(str(v) for e in s.execute(select(AuditEvent)).scalars() for v in vars(e).values())
    assert secret not in dump and not any(c in dump or c.replace("-", "") in dump for c in codes)
    assert secret not in (tmp_path / "mfa.key").read_text()
    [enrolled] = _events(app, "auth.mfa_enrolled")
    assert enrolled.user_name == "tongji2" and enrolled.after == {"recovery_codes": 10}
    [failed] = _events(app, "auth.mfa_failed")
    assert failed.after == {"reason": "malformed", "failures": 1}


def test_the_second_sign_in_asks_a_code_and_a_replayed_code_is_refused(app: FastAPI, client: TestClient) -> None:
    sign_in(client, "admin")  # enrols
    with app.state.sessions.begin() as s:
        user = get_user(s, "admin")
        secret = mfa.open_secret(app.state.settings, user.id, s.get_one(MfaEnrolment, user.id).secret)
        s.get_one(MfaEnrolment, user.id).last_step = None  # the enrolment's code was this step's: start afresh
    assert _password_only(client, "admin") == "/account/mfa?next=%2Freports"
    page = client.get("/account/mfa", params={"next": "/reports"})
    assert 'data-mfa="verify"' in page.text and "mfa-secret" not in page.text and secret not in page.text
    code = pyotp.TOTP(secret).now()
    passed = _verify(client, code, "/reports")
    assert passed.status_code == 303 and passed.headers["location"] == "/reports"
    assert client.get("/reports").status_code == 200
    assert _password_only(client, "admin") == "/account/mfa?next=%2Freports"
    replayed = _verify(client, code)  # the same code again, well within its window
    assert replayed.status_code == 400 and "动态口令或恢复码错误" in replayed.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/mfa?next=%2F"
    assert [e.after for e in _events(app, "auth.mfa_failed")] == [{"reason": "replayed", "failures": 1}]
    assert [e.after for e in _events(app, "auth.mfa_verified")] == [{"factor": "totp"}]


def test_a_recovery_code_works_once(app: FastAPI, client: TestClient) -> None:
    sign_in(client, "shenji")
    codes = RECOVERY["shenji"]
    _password_only(client, "shenji")
    used = _verify(client, codes[3].upper().replace("-", " "))  # typed in capitals, with spaces: still the code
    assert used.status_code == 303
    assert client.get("/admin/audit").status_code == 200
    assert "剩余可用恢复码：9 个" in client.get("/account/mfa").text
    [event] = _events(app, "auth.mfa_recovery_used")
    assert event.user_name == "shenji" and event.after == {"left": 9}
    assert [e.after for e in _events(app, "auth.mfa_verified")] == [{"factor": "recovery"}]
    _password_only(client, "shenji")
    again = _verify(client, codes[3])
    assert again.status_code == 400
    assert [e.after["reason"] for e in _events(app, "auth.mfa_failed")] == ["wrong_recovery_code"]
    assert _verify(client, codes[4]).status_code == 303


def test_new_recovery_codes_replace_the_old_ones(app: FastAPI, client: TestClient) -> None:
    sign_in(client, "tongji")
    old = RECOVERY["tongji"]
    status = client.get("/account/mfa")
    renewed = client.post("/account/mfa/recovery-codes", data={"code": stored_code(app, "tongji"),
                                                               "csrf_token": csrf_token(status)})
    assert renewed.status_code == 200
    new = shown_recovery_codes(renewed)
    assert len(new) == 10 and not set(new) & set(old)
    _password_only(client, "tongji")
    assert _verify(client, old[0]).status_code == 400
    assert _verify(client, new[0]).status_code == 303
    assert len(_events(app, "auth.mfa_recovery_renewed")) == 1


def test_a_half_signed_in_session_is_refused_until_the_second_factor(app: FastAPI, client: TestClient) -> None:
    """The whole matrix is walked in test_access; here the answers themselves."""
    _password_only(client, "anquan")  # not enrolled yet: sent to enrol
    page = client.get("/admin/users", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/account/mfa?next=%2Fadmin%2Fusers"
    api = client.get("/api/v1/plan")
    assert api.status_code == 401 and api.json()["message_en"].startswith("complete the second sign-in factor")
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/account/password").status_code == 200  # not enrolled: a due password comes first
    enrol = client.get("/account/mfa")
    assert 'data-mfa="enrol"' in enrol.text and "/admin/users" not in enrol.text  # no menu of refused pages
    out = client.post("/logout", data={"csrf_token": csrf_token(enrol)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    sign_in(client, "anquan")  # enrols
    _password_only(client, "anquan")  # enrolled: the code comes before anything else
    assert client.get("/account/password", follow_redirects=False).headers["location"] == "/account/mfa?next=%2Faccount%2Fpassword"


def test_a_role_without_a_second_factor_signs_in_with_its_password(client: TestClient) -> None:
    for username, landing in (("peixian", "/entry"), ("lingdao", "/")):
        assert _password_only(client, username) == "/reports"  # straight on
        assert client.get(landing).status_code == 200
        assert client.get("/api/v1/plan").status_code == 200
        status = client.get("/account/mfa")
        assert 'data-mfa="status"' in status.text and "无须动态口令" in status.text
        enrol = client.post("/account/mfa/enrol", data={"code": "123456", "csrf_token": csrf_token(status)})
        assert enrol.status_code == 400
        with client.app.state.sessions() as s:
            assert mfa.enrolment_of(s, get_user(s, username)) is None  # nothing was begun


def test_a_promotion_asks_the_second_factor_on_the_next_page(app: FastAPI, client: TestClient) -> None:
    sign_in(client, "lingdao")
    assert client.get("/").status_code == 200
    with app.state.sessions.begin() as s:
        get_user(s, "lingdao").role = "city_statistician"
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/mfa?next=%2F"
    assert pass_second_factor(client, "lingdao") is not None
    assert client.get("/").status_code == 200


def test_api_tokens_skip_the_code_but_cannot_make_tokens(app: FastAPI, client: TestClient) -> None:
    with app.state.sessions.begin() as s:
        admin_token = create_api_token(s, get_user(s, "admin"), "报表系统")
        security_token = create_api_token(s, get_user(s, "anquan"), "运维脚本")
    bearer = TestClient(app)
    assert bearer.get("/api/v1/plan", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200
    made = bearer.post("/admin/users/lingdao/tokens", data={"name": "x"},
                       headers={"Authorization": f"Bearer {security_token}"})
    assert made.status_code == 403 and "browser session signed in with both factors" in made.json()["message_en"]
    # nor any other change to accounts: a security administrator's token resets no password, no role
    for path, data in (("/admin/users/lingdao/password", {}), ("/admin/users/lingdao/role", {"role": "auditor"}),
                       ("/admin/users/lingdao/mfa/reset", {}), ("/admin/users/lingdao/active", {"active": "0"})):
        changed = bearer.post(path, data=data, headers={"Authorization": f"Bearer {security_token}"})
        assert changed.status_code == 403, path
    with app.state.sessions.begin() as s:
        assert get_user(s, "lingdao").role == "leader" and get_user(s, "lingdao").is_active
    _password_only(client, "anquan")  # half signed in: refused too
    refused = client.post("/admin/users/lingdao/tokens", data={"name": "x", "csrf_token": csrf_token(client.get("/account/mfa"))},
                          follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/account/mfa")
    sign_in(client, "anquan")
    page = client.get("/admin/users/lingdao")
    assert client.post("/admin/users/lingdao/tokens", data={"name": "x", "csrf_token": csrf_token(page)}).status_code == 200


def test_failed_codes_are_throttled_like_passwords(app: FastAPI, client: TestClient) -> None:
    sign_in(client, "tongji")
    _password_only(client, "tongji")
    for _ in range(4):
        assert _verify(client, "000000x").status_code == 400
    blocked = _verify(client, "0000000")
    assert blocked.status_code == 429 and "请 15 分钟后再试" in blocked.text
    right = _verify(client, stored_code(app, "tongji"))  # the right code is refused unchecked while it waits
    assert right.status_code == 429
    assert [e.after for e in _events(app, "auth.throttled")][-1]["factor"] == "totp"
    client.cookies.clear()  # and the password too, from this address: it is one throttle
    form = client.get("/login")
    login = client.post("/login", data={"username": "tongji", "password": PASSWORD, "csrf_token": csrf_token(form)})
    assert login.status_code == 401 and "分钟后再试" in login.text


# --- reset-mfa --------------------------------------------------------------------------------


def test_the_security_administrator_resets_a_second_factor(app: FastAPI, client: TestClient) -> None:
    tongji = TestClient(app)
    sign_in(tongji, "tongji")
    first_secret = _secret_of(app, "tongji")
    sign_in(client, "anquan")
    page = client.get("/admin/users/tongji")
    assert 'id="reset-mfa"' in page.text and "已绑定" in page.text
    self_reset = client.post("/admin/users/anquan/mfa/reset", data={"csrf_token": csrf_token(page)})
    assert self_reset.status_code == 400 and "不能重置自己的双因素" in self_reset.text
    reset = client.post("/admin/users/tongji/mfa/reset", data={"csrf_token": csrf_token(page)}, follow_redirects=False)
    assert reset.status_code == 303 and reset.headers["location"] == "/admin/users/tongji?done=1"
    assert "未绑定（下次登录时绑定）" in client.get("/admin/users/tongji").text
    assert tongji.get("/", follow_redirects=False).headers["location"].startswith("/login")  # its sessions ended
    [event] = _events(app, "user.mfa_reset")
    assert event.user_name == "anquan" and event.before == {"enrolled": True} and event.after["sessions_ended"] == 1
    _password_only(tongji, "tongji")
    enrol = tongji.get("/account/mfa")
    assert 'data-mfa="enrol"' in enrol.text and shown_totp_secret(enrol) != first_secret  # enrols anew
    assert client.get("/admin/users/anquan").status_code == 200  # the resetter's own session goes on


def _secret_of(app: FastAPI, username: str) -> str:
    with app.state.sessions() as s:
        user = get_user(s, username)
        return mfa.open_secret(app.state.settings, user.id, s.get_one(MfaEnrolment, user.id).secret)


def test_reset_mfa_on_the_command_line(cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_MFA_KEY_FILE", str(tmp_path / "mfa.key"))
    runner = CliRunner()
    made = runner.invoke(cli, ["user", "create", "--username", "anquan", "--role", "security_admin"])
    assert made.exit_code == 0 and "绑定动态口令" in made.output, made.output
    settings = Settings()
    engine = make_engine(cli_env)
    try:
        with transaction(engine) as s:
            user = get_user(s, "anquan")
            mfa.pending_enrolment(s, user, settings=settings, now=T0)
            code = pyotp.TOTP(_stored_secret(s, settings, user)).at(T0)
            mfa.confirm_enrolment(s, user, code, settings=settings, now=T0)
            start_session(s, user, client_addr=None, now=T0, second_factor=True)
        listing = runner.invoke(cli, ["user", "list"])
        assert "未绑定动态口令" not in listing.output
        reset = runner.invoke(cli, ["user", "reset-mfa", "anquan"])
        assert reset.exit_code == 0 and "已清除原有绑定" in reset.output, reset.output
        assert runner.invoke(cli, ["user", "reset-mfa", "nobody"]).exit_code == 1
        assert "未绑定动态口令" in runner.invoke(cli, ["user", "list"]).output
        with engine.connect() as conn:
            for table in ("user_mfa", "mfa_recovery_code", "web_session"):
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
        with transaction(engine) as s:
            [event] = _events_in(s, "user.mfa_reset")
            assert event.user_name.startswith("cli:") and event.after == {"enrolled": False, "sessions_ended": 1}
    finally:
        engine.dispose()


def _stored_secret(s: object, settings: Settings, user: User) -> str:
    return mfa.open_secret(settings, user.id, s.get_one(MfaEnrolment, user.id).secret)


# --- the service: codes, time steps, the secret at rest -----------------------------------


def _enrolled(engine: Engine, plan: Plan, settings: Settings, username: str = "tongji") -> tuple[int, str]:
    with transaction(engine) as s:
        user, _ = create_user(s, username=username, display_name=username, role="city_statistician", org_unit=None,
                              plan=plan, settings=settings, password=PASSWORD, now=T0)
        secret = mfa.pending_enrolment(s, user, settings=settings, now=T0).secret
        mfa.confirm_enrolment(s, user, pyotp.TOTP(secret).at(T0 - timedelta(seconds=30)), settings=settings, now=T0)
        return user.id, secret


def _check(engine: Engine, settings: Settings, uid: int, code: str, now: datetime, addr: str = "10.0.0.1") -> str:
    """verify_second_factor's answer: 'totp' | 'recovery', or the refusal's code."""
    with transaction(engine) as s:
        try:
            return mfa.verify_second_factor(s, s.get_one(User, uid), code, settings=settings, now=now,
                                            origin=Origin(client_addr=addr))
        except MfaError as exc:
            return exc.code  # committed: the failure counts


def test_codes_of_the_neighbouring_steps_pass_once_and_no_further(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    settings = Settings(mfa_key_file=tmp_path / "mfa.key")
    uid, secret = _enrolled(engine, plan, settings)  # the enrolment took the step before T0
    totp, later, n = pyotp.TOTP(secret), T0 + timedelta(minutes=10), iter(range(100))

    def check(at: datetime, now: datetime = later) -> str:  # each from an address of its own: no pair waits
        return _check(engine, settings, uid, totp.at(at), now, addr=f"10.2.{next(n)}.1")

    assert check(later - timedelta(seconds=60)) == "invalid"  # two steps old
    assert check(later + timedelta(seconds=60)) == "invalid"  # two steps ahead
    assert check(later - timedelta(seconds=30)) == "totp"  # one step of clock drift
    assert check(later - timedelta(seconds=30)) == "invalid"  # a code is good once
    assert check(later + timedelta(seconds=30)) == "totp"  # a later step
    assert check(later) == "invalid"  # older than the last one taken
    assert check(T0 - timedelta(seconds=30), T0) == "invalid"  # the enrolment's own code
    with transaction(engine) as s:
        reasons = [e.after["reason"] for e in _events_in(s, "auth.mfa_failed")]
    assert reasons == ["wrong_code", "wrong_code", "replayed", "replayed", "replayed"]


def test_codes_from_many_addresses_exhaust_the_account(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    settings = Settings(mfa_key_file=tmp_path / "mfa.key", login_max_failures=5, login_lock_minutes=15)
    uid, secret = _enrolled(engine, plan, settings)
    later = T0 + timedelta(minutes=10)
    for n in range(4 * 5):  # one per address; the account's pair waits after 4 × HRSS_LOGIN_MAX_FAILURES
        assert _check(engine, settings, uid, "999999x", later, addr=f"10.0.{n}.1") == (
            "invalid" if n < 19 else "throttled")
    assert _check(engine, settings, uid, pyotp.TOTP(secret).at(later), later, addr="10.9.9.9") == "throttled"
    with transaction(engine) as s:
        assert throttle.blocked_until(s, throttle.name_key("mfa:tongji"), mfa.ACCOUNT_ADDR, later) is not None
    assert _check(engine, settings, uid, pyotp.TOTP(secret).at(later + timedelta(minutes=16)),
                  later + timedelta(minutes=16), addr="10.9.9.9") == "totp"
    with transaction(engine) as s:  # a success clears both pairs
        assert throttle.blocked_until(s, throttle.name_key("mfa:tongji"), mfa.ACCOUNT_ADDR, later) is None


def test_the_secret_is_encrypted_for_its_user_under_the_key_file(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    settings = Settings(mfa_key_file=tmp_path / "keys" / "mfa.key")
    uid, secret = _enrolled(engine, plan, settings)
    other, _ = _enrolled(engine, plan, settings, "tongji2")
    with transaction(engine) as s:
        mine, theirs = s.get_one(MfaEnrolment, uid), s.get_one(MfaEnrolment, other)
        assert secret not in mine.secret and mfa.open_secret(settings, uid, mine.secret) == secret
        assert mine.secret not in repr(mine)
        with pytest.raises(MfaError) as copied:  # bound to its user: copied to another account it does not open
            mfa.open_secret(settings, other, mine.secret)
        assert copied.value.code == "key"
        theirs.secret = mine.secret
    assert (tmp_path / "keys" / "mfa.key").stat().st_mode & 0o777 == 0o600
    elsewhere = Settings(mfa_key_file=tmp_path / "other.key")  # another key (a lost key file): refused, not a crash
    with transaction(engine) as s, pytest.raises(MfaError) as lost:
        mfa.open_secret(elsewhere, uid, s.get_one(MfaEnrolment, uid).secret)
    assert "reset-mfa" in lost.value.message
    assert _check(engine, settings, other, pyotp.TOTP(secret).at(T0), T0) == "key"


def test_parallel_uses_of_one_code_pass_once(engine: Engine, plan: Plan, tmp_path: Path) -> None:
    import threading

    settings = Settings(mfa_key_file=tmp_path / "mfa.key")
    uid, secret = _enrolled(engine, plan, settings)
    later = T0 + timedelta(minutes=5)
    code, results, start = pyotp.TOTP(secret).at(later), [], threading.Barrier(4)

    def attempt(n: int) -> None:
        start.wait()
        try:
            results.append(_check(engine, settings, uid, code, later, addr=f"10.1.{n}.1"))
        except Exception as exc:  # a serialisation failure on PostgreSQL is a refusal too
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("totp") == 1, results


# --- roles: three administrators, one role each --------------------------------------------


def test_an_account_holds_exactly_one_role(app: FastAPI, client: TestClient) -> None:
    assert User.__table__.c.role.type.length == 30  # one value, not a list: no account is two roles at once
    with pytest.raises(AccountError):
        parse_role("city_admin,auditor")
    sign_in(client, "anquan")
    page = client.get("/admin/users/lingdao")
    twice = client.post("/admin/users/lingdao/role", content="role=city_admin&role=auditor&csrf_token=" + csrf_token(page),
                        headers={"content-type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert twice.status_code == 303  # a form field holds one value: the last one given
    with app.state.sessions() as s:
        assert get_user(s, "lingdao").role == "auditor"  # one role, never both
    listing = client.get("/admin/users")
    assert '<option value="security_admin"' in listing.text and "安全管理员" in listing.text


def test_the_demo_has_a_security_administrator_and_starts_each_second_factor_afresh(engine: Engine, plan: Plan,
                                                                                   tmp_path: Path) -> None:
    settings = Settings(mfa_key_file=tmp_path / "mfa.key")
    with transaction(engine) as s:
        accounts = {a.username: a for a in ensure_demo_accounts(s, plan, settings)}
        assert accounts["demo-anquan"].role == "安全管理员"
        user = get_user(s, "demo-anquan")
        mfa.pending_enrolment(s, user, settings=settings, now=T0)
    with transaction(engine) as s:
        ensure_demo_accounts(s, plan, settings)  # the next start: a new password, and the enrolment is gone
        assert mfa.enrolment_of(s, get_user(s, "demo-anquan")) is None
        assert s.execute(select(WebSession)).first() is None
