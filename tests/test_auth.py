"""Accounts: password policy and hashing, sign-in throttling, sessions, roles and permissions, the CLI."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from hrss.audit.service import Origin
from hrss.audit.tables import AuditEvent
from hrss.auth import service as auth_service
from hrss.auth import throttle
from hrss.auth.passwords import (
    Verified,
    check_policy,
    generate_password,
    hash_password,
    verify_password,
)
from hrss.auth.roles import (
    MFA_ROLES,
    Action,
    Role,
    actions_for,
    can,
    can_view_unapproved,
    org_unit_clause,
    restrict_org_units,
)
from hrss.auth.service import (
    INVALID,
    AccountError,
    AuthError,
    authenticate,
    change_password,
    change_role,
    create_api_token,
    create_user,
    end_session,
    list_api_tokens,
    load_session,
    password_change_required,
    password_expired,
    reset_password,
    revoke_api_token,
    set_active,
    start_session,
    user_for_api_token,
)
from hrss.auth.tables import ApiToken, LoginThrottle, PasswordHistory, User, WebSession
from hrss.cli import app
from hrss.db import transaction
from hrss.plan.model import Plan
from hrss.plan.tables import OrgUnitRecord
from hrss.settings import Settings

T0 = datetime(2025, 3, 1, 8, 0, 0)  # naive UTC, as stored
PASSWORD = "Huaihai-2025-plan"  # 17 characters, 4 classes
SETTINGS = Settings(
    password_min_length=12, password_max_age_days=90, login_max_failures=5, login_lock_minutes=15,
    session_idle_minutes=30, session_absolute_hours=12,
)


def _create(engine: Engine, plan: Plan, username: str = "zhang.wei", role: str = "city_statistician",
            org_unit: str | None = None, password: str | None = PASSWORD) -> tuple[int, str | None]:
    with transaction(engine) as s:
        user, one_time = create_user(s, username=username, display_name="张伟", role=role, org_unit=org_unit,
                                     password=password, plan=plan, settings=SETTINGS, now=T0)
        return user.id, one_time


def _login(engine: Engine, username: str, password: str, now: datetime, addr: str = "10.0.0.1") -> User | AuthError:
    """Sign in the way the web app does: catch AuthError, and commit either way."""
    with transaction(engine) as s:
        try:
            return authenticate(s, username, password, settings=SETTINGS, now=now, origin=Origin(client_addr=addr))
        except AuthError as exc:
            return exc


def _actions(engine: Engine) -> list[str]:
    with transaction(engine) as s:
        return list(s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


# --- passwords -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Huaihai-2025-plan", []),
        ("huaihai2025plan", ["三类"]),  # lower + digits: 2 classes
        ("HUAIHAI-2025", []),  # upper, symbol, digits: 3 classes, exactly 12 characters
        ("Hh-2025-xyz", ["至少 12"]),  # 11 characters
        ("xz-ZHANGWEI-2025", ["用户名"]),  # contains the user name, whatever the case
        ("徐州人社Plan2025", []),  # 14 characters; a Chinese character counts as a symbol
        ("short", ["至少 12", "三类"]),
        ("Huaihai-2025\x00plan", ["控制字符"]),
    ],
)
def test_password_policy(password: str, broken: list[str]) -> None:
    problems = check_policy(password, "zhangwei", SETTINGS)
    assert len(problems) == len(broken), problems
    for fragment, message in zip(broken, problems, strict=True):
        assert fragment in message and "(" in message  # Chinese first, English in brackets


def test_minimum_length_follows_the_setting() -> None:
    assert check_policy("Huaihai-2025-plan", "zw", Settings(password_min_length=18))  # 17 < 18
    assert check_policy("Huaihai-2025-plan", "zw", Settings(password_min_length=17)) == []


def test_generated_passwords_meet_the_policy() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for p in passwords:
        assert len(p) == 16 and check_policy(p, "zhangwei", SETTINGS) == []


def test_argon2_hash_verifies_and_a_wrong_password_does_not() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(stored, PASSWORD) == (True, False)
    assert verify_password(stored, PASSWORD + "x") == (False, False)
    assert verify_password("not-a-hash", PASSWORD) == (False, False)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert verify_password(weak, PASSWORD) == (True, True)  # made with weaker parameters
    # the OWASP profile: argon2id, 19 MiB, 2 passes, 1 lane
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(PasswordHasher().hash(PASSWORD), PASSWORD) == (True, True)  # another profile: re-made


def test_sign_in_rehashes_a_weak_hash(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with transaction(engine) as s:
        s.get_one(User, uid).password_hash = weak
    assert isinstance(_login(engine, "zhang.wei", PASSWORD, T0), User)
    with transaction(engine) as s:
        stored = s.get_one(User, uid).password_hash
    assert stored != weak and verify_password(stored, PASSWORD) == (True, False)


# --- sign-in and its throttling ----------------------------------------------------------

HERE, THERE = "10.0.0.1", "10.0.0.2"
WAIT = "该地址登录失败次数过多，请 {} 分钟后再试 (too many failed sign-ins from this address: try again in {} min)"


def _waits(minutes: int) -> str:
    return WAIT.format(minutes, minutes)


def _throttle_rows(engine: Engine) -> list[LoginThrottle]:
    with transaction(engine) as s:
        return list(s.execute(select(LoginThrottle).order_by(LoginThrottle.id)).scalars())


def test_five_failures_from_one_address_throttle_it_but_not_another(engine: Engine, plan: Plan) -> None:
    _create(engine, plan)
    for minute in range(4):  # failures 1–4 at T0+0..3 min
        result = _login(engine, "zhang.wei", "Wrong-password-1", T0 + timedelta(minutes=minute))
        assert isinstance(result, AuthError) and (result.code, result.message) == ("invalid", INVALID)
    fifth = T0 + timedelta(minutes=4)
    result = _login(engine, "zhang.wei", "Wrong-password-1", fifth)
    assert isinstance(result, AuthError) and (result.code, result.message) == ("throttled", _waits(15))
    # The owner, elsewhere, is not held up; that success leaves this address's count alone.
    assert isinstance(_login(engine, "zhang.wei", PASSWORD, fifth + timedelta(minutes=1), addr=THERE), User)
    # Here even the right password is refused (unchecked, uncounted) until fifth + 15 min ...
    result = _login(engine, "zhang.wei", PASSWORD, fifth + timedelta(minutes=14, seconds=59))
    assert isinstance(result, AuthError) and (result.code, result.message) == ("throttled", _waits(1))  # 1 s, rounded up
    [row] = _throttle_rows(engine)
    assert (row.client_addr, row.failures, row.blocked_until) == (HERE, 5, fifth + timedelta(minutes=15))
    # ... and accepted from then on, which clears the count.
    assert isinstance(_login(engine, "zhang.wei", PASSWORD, fifth + timedelta(minutes=15)), User)
    assert _throttle_rows(engine) == []
    assert _actions(engine) == [
        "user.created", *["auth.login_failed"] * 5, "auth.throttled", "auth.login", "auth.login_failed", "auth.login",
    ]
    with transaction(engine) as s:
        throttled = s.execute(select(AuditEvent).where(AuditEvent.action == "auth.throttled")).scalar_one()
        assert throttled.client_addr == HERE and throttled.user_name == "anonymous"
        assert json.loads(throttled.after) == {"blocked_until": "2025-03-01T08:19:00", "failures": 5}


def test_the_wait_doubles_with_each_failure_up_to_24_hours(engine: Engine, plan: Plan) -> None:
    """HRSS_LOGIN_LOCK_MINUTES × 2^(failures − 5), by hand: 15, 30, 60, … 960, then 1440 (not 1920)."""
    expected = {5: 15, 6: 30, 7: 60, 8: 120, 9: 240, 10: 480, 11: 960, 12: 1440, 13: 1440}
    assert [throttle.delay(n, SETTINGS) for n in range(1, 14)] == [timedelta(0)] * 4 + [
        timedelta(minutes=m) for m in expected.values()]
    _create(engine, plan)
    at = T0
    for failure in range(1, 14):
        result = _login(engine, "zhang.wei", "Wrong-password-1", at)
        assert isinstance(result, AuthError)
        if failure < 5:
            assert result.code == "invalid"
            at += timedelta(minutes=1)
            continue
        minutes = expected[failure]
        assert (result.code, result.message) == ("throttled", _waits(minutes)), failure
        [row] = _throttle_rows(engine)
        assert (row.failures, row.blocked_until) == (failure, at + timedelta(minutes=minutes))
        early = _login(engine, "zhang.wei", "Wrong-password-1", at + timedelta(minutes=minutes) - timedelta(seconds=1))
        assert isinstance(early, AuthError) and early.code == "throttled"  # refused, not counted
        at += timedelta(minutes=minutes)  # the next try right when the wait ends


def test_parallel_guesses_cannot_overrun_the_count(engine: Engine, plan: Plan) -> None:
    """Twelve wrong passwords at once: all pass the first look and are checked, but only
    five are counted; the rest are refused as having come during the wait."""
    _create(engine, plan)
    start, answers = threading.Barrier(12), []

    def guess() -> None:
        start.wait()
        result = _login(engine, "zhang.wei", "Wrong-password-1", T0)
        answers.append(result.code if isinstance(result, AuthError) else "signed in")

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == ["invalid"] * 4 + ["throttled"] * 8
    [row] = _throttle_rows(engine)
    assert (row.failures, row.blocked_until) == (5, T0 + timedelta(minutes=15))
    assert _actions(engine).count("auth.throttled") == 1


def test_a_pair_quiet_for_48_hours_starts_over(engine: Engine, plan: Plan) -> None:
    _create(engine, plan)
    for minute in range(4):
        _login(engine, "zhang.wei", "Wrong-password-1", T0 + timedelta(minutes=minute))
    result = _login(engine, "zhang.wei", "Wrong-password-1", T0 + timedelta(minutes=3, hours=48))
    assert isinstance(result, AuthError) and result.code == "invalid"  # failure 1 again, not 5
    assert [row.failures for row in _throttle_rows(engine)] == [1]


def test_unknown_and_known_names_get_the_same_answers_and_work(engine: Engine, plan: Plan,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _create(engine, plan)
    verified: list[str] = []
    real = auth_service.verify_password

    def counting(stored: str, password: str) -> Verified:
        verified.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    answers: dict[str, list[tuple[str, str]]] = {}
    for name in ("zhang.wei", "li.na"):  # an account, and a name that is none
        answers[name] = []
        for minute in range(7):  # 5 failures, then 2 tries while waiting (one with the right password)
            result = _login(engine, name, "Wrong-password-1" if minute < 6 else PASSWORD, T0 + timedelta(minutes=minute))
            assert isinstance(result, AuthError)
            answers[name].append((result.code, result.message))
    assert answers["zhang.wei"] == answers["li.na"] == [("invalid", INVALID)] * 4 + [("throttled", _waits(m)) for m in (15, 14, 13)]
    assert len(verified) == 14  # one argon2 verify per attempt, whatever the answer
    with transaction(engine) as s:  # the attempted name is not written down anywhere
        rows = s.execute(select(AuditEvent).where(AuditEvent.action != "user.created").order_by(AuditEvent.id)).scalars().all()
        reasons = [(r.action, r.object_id, json.loads(r.after).get("reason")) for r in rows]
        assert reasons == [
            *[("auth.login_failed", "1", "wrong_password")] * 5, ("auth.throttled", "1", None),
            *[("auth.login_failed", "1", "throttled")] * 2,
            *[("auth.login_failed", None, "unknown_user")] * 5, ("auth.throttled", None, None),
            *[("auth.login_failed", None, "throttled")] * 2,
        ]
        assert {r.user_name for r in rows} == {"anonymous"} and {r.user_id for r in rows} == {None}
        assert all("li.na" not in str(v) for r in rows for v in vars(r).values())


def test_user_names_are_case_insensitive(engine: Engine, plan: Plan) -> None:
    _create(engine, plan, username="Zhang.Wei")
    assert isinstance(_login(engine, " ZHANG.wei ", PASSWORD, T0), User)


def test_a_disabled_account_gets_the_wrong_password_answer(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        set_active(s, s.get_one(User, uid), False, now=T0)
    right = _login(engine, "zhang.wei", PASSWORD, T0)
    wrong = _login(engine, "zhang.wei", "Wrong-password-1", T0)
    unknown = _login(engine, "li.na", PASSWORD, T0)
    assert isinstance(right, AuthError) and isinstance(wrong, AuthError) and isinstance(unknown, AuthError)
    assert (right.code, right.message) == (wrong.code, wrong.message) == (unknown.code, unknown.message) == ("invalid", INVALID)
    with transaction(engine) as s:
        q = select(AuditEvent.after).where(AuditEvent.action == "auth.login_failed").order_by(AuditEvent.id)
        assert [json.loads(a)["reason"] for a in s.execute(q).scalars()] == ["inactive", "wrong_password", "unknown_user"]
    assert [row.failures for row in _throttle_rows(engine)] == [2, 1]  # counted like any failure


def test_only_a_digest_of_the_name_is_stored(engine: Engine, plan: Plan) -> None:
    _create(engine, plan)
    _login(engine, " Zhang.Wei ", "Wrong-password-1", T0)
    _login(engine, PASSWORD, PASSWORD, T0)  # the password typed into the name box as well
    rows = _throttle_rows(engine)
    assert [r.key_digest for r in rows] == [sha256(b"zhang.wei").hexdigest(), sha256(PASSWORD.lower().encode()).hexdigest()]
    stored = " ".join(str(v) for r in rows for v in vars(r).values()).lower()
    assert "zhang" not in stored and PASSWORD.lower() not in stored
    with transaction(engine) as s:
        logged = " ".join(str(v) for e in s.execute(select(AuditEvent)).scalars() for v in vars(e).values())
        assert PASSWORD not in logged and PASSWORD.lower() not in logged


@pytest.mark.parametrize(("addr", "key"), [
    (None, ""), ("", ""), ("10.1.2.3", "10.1.2.3"), ("::ffff:10.1.2.3", "10.1.2.3"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"), ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
    ("testclient", "testclient"),
])
def test_address_key(addr: str | None, key: str) -> None:
    assert throttle.address_key(addr) == key


def test_a_password_reset_clears_the_throttling_on_every_address(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    for addr in (HERE, THERE):
        for minute in range(5):
            _login(engine, "zhang.wei", "Wrong-password-1", T0 + timedelta(minutes=minute), addr=addr)
    _login(engine, "li.na", "Wrong-password-1", T0)  # another name's count stays
    with transaction(engine) as s:
        assert throttle.latest_blocks(s, ["zhang.wei", "li.na"], T0 + timedelta(minutes=5)) == {
            "zhang.wei": T0 + timedelta(minutes=19)}
        one_time = reset_password(s, s.get_one(User, uid), settings=SETTINGS, now=T0 + timedelta(minutes=5))
    assert [row.failures for row in _throttle_rows(engine)] == [1]  # li.na's
    assert isinstance(_login(engine, "zhang.wei", one_time, T0 + timedelta(minutes=6)), User)


# --- passwords that must change ----------------------------------------------------


def test_a_one_time_password_must_be_changed(engine: Engine, plan: Plan) -> None:
    uid, one_time = _create(engine, plan, password=None)
    assert one_time is not None and check_policy(one_time, "zhang.wei", SETTINGS) == []
    user = _login(engine, "zhang.wei", one_time, T0)
    assert isinstance(user, User) and user.must_change_password
    assert password_change_required(user, SETTINGS, T0)
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        with pytest.raises(AccountError, match="不能与当前密码相同"):
            change_password(s, user, current_password=one_time, new_password=one_time, settings=SETTINGS, now=T0)
        with pytest.raises(AccountError) as refused:
            change_password(s, user, current_password=one_time, new_password="short", settings=SETTINGS, now=T0)
        assert len(refused.value.problems) == 2  # length, classes
        with pytest.raises(AccountError, match="当前密码不正确"):
            change_password(s, user, current_password="Wrong-password-1", new_password=PASSWORD, settings=SETTINGS, now=T0)
        change_password(s, user, current_password=one_time, new_password=PASSWORD, settings=SETTINGS,
                        now=T0 + timedelta(minutes=1))
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        assert not user.must_change_password and user.password_changed_at == T0 + timedelta(minutes=1)
        assert not password_change_required(user, SETTINGS, T0 + timedelta(minutes=1))
    assert isinstance(_login(engine, "zhang.wei", one_time, T0), AuthError)
    assert isinstance(_login(engine, "zhang.wei", PASSWORD, T0), User)


def test_password_expires_after_90_days(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)  # password set at T0
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        assert not password_expired(user, SETTINGS, T0 + timedelta(days=89, hours=23, minutes=59))
        assert password_expired(user, SETTINGS, T0 + timedelta(days=90))
        assert password_change_required(user, SETTINGS, T0 + timedelta(days=90))
        assert not password_expired(user, Settings(password_max_age_days=0), T0 + timedelta(days=3650))


def test_changing_the_password_ends_the_other_sessions(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        here = start_session(s, user, client_addr="10.0.0.1", now=T0)
        elsewhere = start_session(s, user, client_addr="10.0.0.2", now=T0)
        loaded = load_session(s, here, settings=SETTINGS, now=T0)
        assert loaded is not None
        change_password(s, user, current_password=PASSWORD, new_password="Pengcheng-2026-plan",
                        settings=SETTINGS, now=T0, keep_session=loaded[1])
        assert load_session(s, here, settings=SETTINGS, now=T0) is not None
        assert load_session(s, elsewhere, settings=SETTINGS, now=T0) is None


# --- sessions ----------------------------------------------------------------------


def test_session_token_is_stored_only_as_its_hash(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        token = start_session(s, s.get_one(User, uid), client_addr="10.0.0.1", now=T0)
    with transaction(engine) as s:
        [ws] = s.execute(select(WebSession)).scalars().all()
        assert ws.id == sha256(token.encode()).hexdigest() and len(token) >= 43  # 32 random bytes
        assert token not in (ws.id, ws.csrf_token)
        assert ws.client_addr == "10.0.0.1"


def test_session_idle_timeout_30_minutes(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        token = start_session(s, s.get_one(User, uid), client_addr=None, now=T0)
        assert load_session(s, token, settings=SETTINGS, now=T0 + timedelta(minutes=29)) is not None
        # used at T0+29 min, so still alive at T0+58 min (29 min idle) ...
        loaded = load_session(s, token, settings=SETTINGS, now=T0 + timedelta(minutes=58))
        assert loaded is not None and loaded[1].last_seen_at == T0 + timedelta(minutes=58)
        # ... and ended at T0+88 min (30 min idle), for good.
        assert load_session(s, token, settings=SETTINGS, now=T0 + timedelta(minutes=88)) is None
        assert load_session(s, token, settings=SETTINGS, now=T0 + timedelta(minutes=60)) is None
        assert s.execute(select(func.count()).select_from(WebSession)).scalar_one() == 0


def test_session_absolute_timeout_12_hours(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        token = start_session(s, s.get_one(User, uid), client_addr=None, now=T0)
        for step in range(1, 36):  # used every 20 minutes up to T0+11 h 40 min
            assert load_session(s, token, settings=SETTINGS, now=T0 + timedelta(minutes=20 * step)) is not None
        # 20 minutes later it has been idle 20 min only, but it is 36 × 20 min = 12 h old.
        assert load_session(s, token, settings=SETTINGS, now=T0 + timedelta(hours=12)) is None


def test_sign_out_and_unknown_tokens(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        token = start_session(s, s.get_one(User, uid), client_addr=None, now=T0)
        assert load_session(s, "forged", settings=SETTINGS, now=T0) is None
        assert end_session(s, token, now=T0)
        assert not end_session(s, token, now=T0)
        assert load_session(s, token, settings=SETTINGS, now=T0) is None
    assert _actions(engine) == ["user.created", "auth.logout"]


def test_disabling_a_user_ends_the_sessions(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        token = start_session(s, user, client_addr=None, now=T0)
        set_active(s, user, False, now=T0)
        assert load_session(s, token, settings=SETTINGS, now=T0) is None


# --- API tokens ----------------------------------------------------------------------


def test_api_tokens(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        token = create_api_token(s, s.get_one(User, uid), "季度报送脚本", now=T0)
    assert token.startswith("hrss_")
    with transaction(engine) as s:
        user = user_for_api_token(s, token, T0 + timedelta(days=1))
        assert user is not None and user.id == uid
        [row] = s.execute(select(ApiToken)).scalars().all()
        assert row.token_hash == sha256(token.encode()).hexdigest() and row.last_used_at == T0 + timedelta(days=1)
        assert user_for_api_token(s, token + "x", T0) is None
        assert revoke_api_token(s, row.id, now=T0) and not revoke_api_token(s, row.id, now=T0)
        assert user_for_api_token(s, token, T0) is None
    assert _actions(engine) == ["user.created", "token.created", "token.revoked"]


def test_api_token_of_a_disabled_user_is_refused(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        token = create_api_token(s, user, "script", now=T0)
        set_active(s, user, False, now=T0)
        assert user_for_api_token(s, token, T0) is None


def test_common_and_guessable_passwords_are_refused() -> None:
    guessable = "密码过于常见"
    for bad in ("Password1234", "P@ssw0rd2024", "Xuzhou@123456", "Qwer!234asdf", "Welcome2Xuzhou!", "Jiangsu2025!!"):
        assert any(guessable in p for p in check_policy(bad, "zhang.wei", SETTINGS)), bad
    # own letters beyond the listed words (plan, Huaihai) keep a password acceptable
    assert check_policy(PASSWORD, "zhang.wei", SETTINGS) == []
    assert check_policy("Xuzhou-2025-plan!", "zhang.wei", SETTINGS) == []
    assert any("所属单位" in p for p in check_policy("丰县Huaihai-2025", "fx01", SETTINGS, org_unit="丰县"))
    assert not any(guessable in p for _ in range(50) for p in check_policy(generate_password(), "x", SETTINGS))


def test_the_last_five_passwords_cannot_be_taken_again(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    chain = [PASSWORD] + [f"Huaihai-{n}-Road-{n}" for n in range(1, 6)]

    def change(old: str, new: str) -> None:
        with transaction(engine) as s:
            change_password(s, s.get_one(User, uid), current_password=old, new_password=new, settings=SETTINGS, now=T0)

    for old, new in zip(chain, chain[1:5], strict=False):  # PASSWORD → 1 → 2 → 3 → 4
        change(old, new)
    with pytest.raises(AccountError, match="最近 5 次"):
        change(chain[4], PASSWORD)  # 4 is current, PASSWORD among the 4 before it: refused
    with pytest.raises(AccountError, match="最近 5 次"):
        change(chain[4], chain[2])
    change(chain[4], chain[5])
    change(chain[5], PASSWORD)  # now six back: allowed again
    with transaction(engine) as s:
        assert s.execute(select(func.count()).select_from(PasswordHistory)).scalar_one() == 4  # only the newest 4 kept


def test_a_token_follows_its_account(engine: Engine, plan: Plan) -> None:
    """A reset, a disable and a role change each revoke the account's tokens; re-enabling
    brings none back; a change that changes nothing revokes nothing."""
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        first, second = create_api_token(s, user, "a", now=T0), create_api_token(s, user, "b", now=T0)
        reset_password(s, user, settings=SETTINGS, now=T0)
        assert user_for_api_token(s, first, T0) is None and user_for_api_token(s, second, T0) is None
        third = create_api_token(s, user, "c", now=T0)
        set_active(s, user, False, now=T0)
        set_active(s, user, True, now=T0)
        assert user_for_api_token(s, third, T0) is None  # re-enabled: the old token stays dead
        fourth = create_api_token(s, user, "d", now=T0)
        change_role(s, user, role=user.role, org_unit=user.org_unit, plan=plan, now=T0)
        assert user_for_api_token(s, fourth, T0) is not None  # nothing changed: nothing revoked
        change_role(s, user, role="leader", org_unit=None, plan=plan, now=T0)
        assert user_for_api_token(s, fourth, T0) is None
        assert all(t.revoked for t in list_api_tokens(s, user))
    revoked = [a for a in _actions(engine) if a == "token.revoked"]
    assert len(revoked) == 3  # one event per account change, naming every token it revoked


def test_token_cli(cli_env: str) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["user", "create", "--username", "fx01", "--role", "district_operator",
                               "--org-unit", "丰县"]).exit_code == 0
    made = runner.invoke(app, ["user", "token", "create", "fx01", "--name", "丰县业务系统"])
    assert made.exit_code == 0, made.output
    token = re.search(r"token, shown only now\): (\S+)", made.output).group(1)
    listing = runner.invoke(app, ["user", "token", "list", "fx01"])
    assert listing.exit_code == 0 and "丰县业务系统" in listing.output and "有效" in listing.output
    assert token not in listing.output
    token_id = re.search(r"│\s*(\d+)\s*│\s*丰县业务系统", listing.output).group(1)
    assert runner.invoke(app, ["user", "token", "revoke", token_id]).exit_code == 0
    again = runner.invoke(app, ["user", "token", "revoke", token_id])
    assert again.exit_code == 1 and "没有这个有效令牌" in again.output
    assert "已撤销" in runner.invoke(app, ["user", "token", "list", "fx01"]).output
    assert runner.invoke(app, ["user", "token", "list", "nobody"]).exit_code == 1


# --- users and org units -------------------------------------------------------------


def test_a_district_operator_needs_an_existing_reporting_org_unit(engine: Engine, plan: Plan) -> None:
    refused = {
        None: "必须指定所属组织单位",
        "火星区": "规划中没有这个组织单位",
        "主城区": "汇总单位",  # a group: aggregated from its members, never reports
        "开发区": "汇总单位",
    }
    for unit, message in refused.items():
        with pytest.raises(AccountError, match=message):
            _create(engine, plan, username="op", role="district_operator", org_unit=unit)
    uid, _ = _create(engine, plan, username="op", role="district_operator", org_unit="徐州经济技术开发区")
    with transaction(engine) as s:
        assert s.get_one(User, uid).org_unit == "经开区"  # an alias is stored as the unit's name
        assert s.execute(select(func.count()).select_from(User)).scalar_one() == 1
    # the city's own operator (市级填报员) reports the indicators only the city reports
    uid, _ = _create(engine, plan, username="op.city", role="district_operator", org_unit="徐州市")
    with transaction(engine) as s:
        assert s.get_one(User, uid).org_unit == "徐州市"


def test_refused_accounts(engine: Engine, plan: Plan) -> None:
    _create(engine, plan)
    cases = [
        ({"username": "ZHANG.WEI"}, "用户名已存在"),
        ({"username": "张伟"}, "用户名须为"),
        ({"username": "x"}, "用户名须为"),
        ({"username": "li.na", "role": "superuser"}, "未知角色"),
        ({"username": "li.na", "role": "leader", "org_unit": "丰县"}, "只有填报员"),
        ({"username": "li.na", "password": "lina-2025"}, "至少 12"),
    ]
    for kwargs, message in cases:
        with pytest.raises(AccountError, match=message):
            _create(engine, plan, **kwargs)  # type: ignore[arg-type]
    assert _actions(engine) == ["user.created"]


def test_role_change_is_audited(engine: Engine, plan: Plan) -> None:
    uid, _ = _create(engine, plan)
    with transaction(engine) as s:
        change_role(s, s.get_one(User, uid), role="district_operator", org_unit="沛县", plan=plan, now=T0)
    with transaction(engine) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "user.role_changed")).scalar_one()
        assert event.before == '{"org_unit": null, "role": "city_statistician"}'
        assert event.after == '{"org_unit": "沛县", "role": "district_operator"}'


def test_audit_events_hold_no_secrets(engine: Engine, plan: Plan) -> None:
    uid, one_time = _create(engine, plan, password=None)
    assert one_time is not None
    _login(engine, "zhang.wei", one_time, T0)
    with transaction(engine) as s:
        user = s.get_one(User, uid)
        change_password(s, user, current_password=one_time, new_password=PASSWORD, settings=SETTINGS, now=T0)
        token = create_api_token(s, user, "script", now=T0)
        session_token = start_session(s, user, client_addr=None, now=T0)
        end_session(s, session_token, now=T0)
        stored_hash = user.password_hash
    with transaction(engine) as s:
        dump = " ".join(str(v) for e in s.execute(select(AuditEvent)).scalars() for v in vars(e).values())
    for secret in (one_time, PASSWORD, token, session_token, stored_hash, "$argon2"):
        assert secret not in dump


# --- roles and permissions -------------------------------------------------------------

# Every role × action: "all" any org unit, "own" only the user's own unit, "-" never.
EXPECTED = """
action           city_admin city_statistician district_operator leader auditor security_admin
view             all        all               all               all    all     all
view_unapproved  all        all               own               -      -       -
enter            all        all               own               -      -       -
submit           -          -                 own               -      -       -
review           all        all               -                 -      -       -
reopen           all        all               -                 -      -       -
manage_users     -          -                 -                 -      -       all
view_users       all        -                 -                 -      -       all
read_audit       -          -                 -                 -      all     -
export           all        all               all               all    -       -
generate_reports all        all               -                 -      -       -
"""


@dataclass
class FakeUser:
    role: str
    org_unit: str | None = None
    is_active: bool = True


def _expected() -> dict[tuple[str, str], str]:
    header, *rows = (line.split() for line in EXPECTED.strip().splitlines())
    return {(role, row[0]): cell for row in rows for role, cell in zip(header[1:], row[1:], strict=True)}


def test_the_permission_table() -> None:
    expected = _expected()
    assert {a for _, a in expected} == {a.value for a in Action}  # a new action needs a row
    assert {r for r, _ in expected} == {r.value for r in Role}
    for (role, action), cell in expected.items():
        user = FakeUser(role, "丰县" if role == "district_operator" else None)
        own, other, unspecified = can(user, action, "丰县"), can(user, action, "沛县"), can(user, action)
        assert (own, other, unspecified) == {
            "all": (True, True, True), "own": (True, False, False), "-": (False, False, False),
        }[cell], (role, action)
        assert (Action(action) in actions_for(user)) == (cell != "-")


def test_the_three_administrators_are_distinct_roles() -> None:
    """三权分立: the system administrator, the auditor and the security administrator share
    no duty: accounts are the security administrator's alone, the audit log the auditor's
    alone, and the data the system administrator's (not the others')."""
    admin, auditor, security = FakeUser("city_admin"), FakeUser("auditor"), FakeUser("security_admin")
    duties = {
        "city_admin": {Action.ENTER, Action.REVIEW, Action.REOPEN, Action.GENERATE_REPORTS, Action.VIEW_UNAPPROVED},
        "auditor": {Action.READ_AUDIT},
        "security_admin": {Action.MANAGE_USERS},
    }
    for role, own_duties in duties.items():
        for other in duties:
            assert all(can(FakeUser(other), d) == (role == other) for d in own_duties), (role, other)
    assert can(admin, Action.VIEW_USERS) and not can(admin, Action.MANAGE_USERS)  # read-only sight of accounts
    assert not can(auditor, Action.VIEW_USERS) and not can(security, Action.READ_AUDIT)
    assert {r.value for r in MFA_ROLES} == {"city_admin", "city_statistician", "auditor", "security_admin"}


def test_no_permission_without_an_active_user() -> None:
    assert not can(None, "view")
    assert not can(FakeUser("city_admin", is_active=False), "view")
    assert actions_for(FakeUser("city_admin", is_active=False)) == frozenset()
    assert not can(FakeUser("janitor"), "view")
    with pytest.raises(ValueError):
        can(FakeUser("city_admin"), "delete_everything")


def test_unapproved_data_is_scoped_to_the_operators_unit(engine: Engine) -> None:
    operator, leader, statistician = FakeUser("district_operator", "丰县"), FakeUser("leader"), FakeUser("city_statistician")
    names = ["徐州市", "丰县", "沛县"]
    assert restrict_org_units(operator, names) == ["丰县"]
    assert restrict_org_units(statistician, names) == names
    assert restrict_org_units(leader, names) == []
    assert can_view_unapproved(operator, "丰县") and not can_view_unapproved(operator, "沛县")
    assert restrict_org_units(operator, names, "view") == names
    with transaction(engine) as s:  # the same rule as a WHERE clause in a real query
        def visible(user: FakeUser) -> list[str]:
            query = select(OrgUnitRecord.name).where(org_unit_clause(user, OrgUnitRecord.name)).order_by(OrgUnitRecord.code)
            return list(s.execute(query).scalars())

        assert visible(operator) == ["丰县"]
        assert len(visible(statistician)) == 18
        assert visible(leader) == []


# --- CLI ---------------------------------------------------------------------------------


def test_user_cli(cli_env: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["user", "create", "--username", "admin", "--role", "city_admin", "--display-name", "王芳"])
    assert result.exit_code == 0, result.output
    match = re.search(r"one-time password, shown only now\): (\S+)", result.output)
    assert match and check_policy(match.group(1), "admin", SETTINGS) == []
    again = runner.invoke(app, ["user", "create", "--username", "admin", "--role", "leader"])
    assert again.exit_code == 1 and "用户名已存在" in again.output
    no_unit = runner.invoke(app, ["user", "create", "--username", "fx01", "--role", "district_operator"])
    assert no_unit.exit_code == 1 and "必须指定所属组织单位" in no_unit.output
    result = runner.invoke(app, ["user", "create", "--username", "fx01", "--role", "district_operator", "--org-unit", "丰县",
                                 "--display-name", "李四13812341234"])
    assert result.exit_code == 0 and "丰县" in result.output
    listing = runner.invoke(app, ["user", "list"])
    assert listing.exit_code == 0, listing.output
    assert "李四138****1234" in listing.output and "13812341234" not in listing.output  # masked, as on the web
    assert "王芳" in listing.output and "市级管理员" in listing.output and "填报员" in listing.output
    assert "须改密码" in listing.output and "argon2" not in listing.output and match.group(1) not in listing.output
    reset = runner.invoke(app, ["user", "reset-password", "admin"])
    assert reset.exit_code == 0 and "one-time password" in reset.output
    assert runner.invoke(app, ["user", "reset-password", "nobody"]).exit_code == 1

    from hrss.db import make_engine

    engine = make_engine(cli_env)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT user_name, action FROM audit_event ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [a for _, a in rows] == ["user.created", "user.created", "user.password_reset"]
    assert all(name.startswith("cli:") for name, _ in rows)
