"""The second factor (双因素认证): TOTP codes (RFC 6238) and one-time recovery codes.

等保三级 8.1.4.1 d asks two factors, one of them cryptographic, for the privileged roles
(roles.MFA_ROLES). After the password, a session of such a role is only half signed in
(`web_session.mfa_verified_at` None): every page and API route refuses it but the second
factor's own pages, sign-out and static files (web/security.py). API tokens are the
machine factor and are not asked for a code.

- Codes: pyotp, 30-second steps, 6 digits, one step of clock drift either way. A code is
  good once: the step of the last code accepted is kept (`user_mfa.last_step`) and only a
  later step passes, taken with a conditional UPDATE, so two parallel uses of one code
  cannot both pass.
- Enrolment at the first sign-in (after the password, and the forced password change
  when due): a fresh secret, shown as base32 text, an otpauth:// URI and a QR code drawn
  here as SVG, is confirmed by a current code. Only then do the 10 recovery codes appear,
  once; they are stored as sha256 (80 random bits each). Once confirmed, the secret is
  never shown again.
- The secret must be read back to check a code, so it is stored encrypted: AES-GCM under
  a key kept outside the store (HRSS_MFA_KEY_FILE, made at the first enrolment), bound to
  its user (the user id is the associated data: a ciphertext copied to another account
  does not open). Neither the secret nor a code is ever logged or audited.
- Failed codes count in the sign-in throttle (hrss.auth.throttle) on the same pair as a
  wrong password, (user name, client address), and also on an account-wide pair with
  ACCOUNT_FACTOR times the allowance: someone holding the password cannot try the
  million codes from many addresses. A success clears both.
- `reset_mfa` (hrss user reset-mfa, the admin page) clears the enrolment and ends the
  account's sessions; the next sign-in enrols again.

Like hrss.auth.service, these functions flush but never commit; a refusal raises MfaError
after recording the failure (throttle count, audit event): callers catch it and still
commit.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hrss.audit.service import Origin, naive_utc, record_from
from hrss.auth import throttle
from hrss.auth.roles import needs_second_factor
from hrss.auth.tables import MfaEnrolment, RecoveryCode, User, WebSession
from hrss.settings import Settings

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps of clock drift accepted either way
RECOVERY_CODES = 10
RECOVERY_LENGTH = 16  # base32 characters: 80 bits
ISSUER = "HRSS"  # what an authenticator app shows above the account name
ACCOUNT_ADDR = "*"  # the address of the account-wide throttle pair (no client address looks like it)
ACCOUNT_FACTOR = 4  # the account-wide pair waits after this many times HRSS_LOGIN_MAX_FAILURES
KEY_BYTES = 32  # AES-256
SEALED_PREFIX = "v1."

WRONG_CODE = "动态口令或恢复码错误 (wrong one-time code or recovery code)"
NO_ENROLMENT = "该账户尚未绑定动态口令 (no second factor is enrolled for this account)"
ALREADY = "该账户已绑定动态口令 (a second factor is already enrolled)"
NOT_NEEDED = "该账户的角色不使用动态口令 (this account's role signs in without a second factor)"


class MfaError(Exception):
    """A refused second factor or enrolment step. `code`: invalid (wrong, replayed or
    malformed code) | throttled | state (nothing to verify or enrol) | key (the secret
    does not open with HRSS_MFA_KEY_FILE)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the secret at rest ------------------------------------------------------------

_KEYS: dict[Path, bytes] = {}


def _key(settings: Settings) -> bytes:
    """The key of HRSS_MFA_KEY_FILE, made (mode 0600) when missing. Made under a temporary
    name and linked into place, so that a parallel process never reads a half-written key."""
    path = Path(settings.mfa_key_file).absolute()
    if path in _KEYS:
        return _KEYS[path]
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mfa-key-")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:  # mkstemp: mode 0600
                f.write(base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    try:
        key = base64.urlsafe_b64decode(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, binascii.Error) as exc:
        raise MfaError("key", f"无法读取动态口令密钥文件 (cannot read the TOTP key file) {path}: {exc}") from None
    if len(key) != KEY_BYTES:
        raise MfaError("key", f"动态口令密钥文件须为 {KEY_BYTES} 字节的 base64 (the TOTP key file must hold "
                              f"{KEY_BYTES} bytes in base64): {path}")
    _KEYS[path] = key
    return key


def _aad(user_id: int) -> bytes:
    return f"hrss-totp-secret:{user_id}".encode("ascii")


def seal_secret(settings: Settings, user_id: int, secret: str) -> str:
    """The secret encrypted for storage: 'v1.' + base64(nonce ‖ AES-GCM ciphertext)."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, secret.encode("ascii"), _aad(user_id))
    return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_secret(settings: Settings, user_id: int, sealed: str) -> str:
    """The secret of a stored value, or MfaError('key') when the key does not open it."""
    try:
        if not sealed.startswith(SEALED_PREFIX):
            raise ValueError(sealed[:3])
        raw = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX):])
        return AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], _aad(user_id)).decode("ascii")
    except (InvalidTag, ValueError, binascii.Error):
        raise MfaError("key", "动态口令密钥不匹配，无法验证；请安全管理员重置该账户的双因素 (hrss user reset-mfa) "
                              "(the stored TOTP secret does not open with HRSS_MFA_KEY_FILE: reset the "
                              "account's second factor)") from None


# --- state -------------------------------------------------------------------------


def enrolment_of(session: Session, user: User) -> MfaEnrolment | None:
    return session.get(MfaEnrolment, user.id)


def is_enrolled(session: Session, user: User) -> bool:
    """Has user a confirmed second factor?"""
    row = enrolment_of(session, user)
    return row is not None and row.confirmed_at is not None


def enrolled_user_ids(session: Session) -> set[int]:
    """The users with a confirmed second factor (for the account lists)."""
    q = select(MfaEnrolment.user_id).where(MfaEnrolment.confirmed_at.is_not(None))
    return set(session.execute(q).scalars())


def recovery_codes_left(session: Session, user: User) -> int:
    q = select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                            RecoveryCode.used_at.is_(None))
    return int(session.execute(q).scalar_one())


def second_factor_due(user: User, web_session: WebSession | None) -> bool:
    """Is this browser session only half signed in (a privileged role, no second factor yet)?
    Never for API tokens (web_session None): they are the machine factor."""
    return web_session is not None and web_session.mfa_verified_at is None and needs_second_factor(user.role)


# --- enrolment ---------------------------------------------------------------------


class Pending(NamedTuple):
    """An enrolment to confirm: what the enrolment page shows, and only it."""

    secret: str  # base32
    uri: str  # otpauth://totp/…
    qr: str  # the URI as a QR code: an SVG data: URI for an <img>


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def qr_data_uri(uri: str) -> str:
    """The QR code of uri as an SVG data: URI, drawn here (no CDN, no script)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def pending_enrolment(session: Session, user: User, *, settings: Settings, now: datetime) -> Pending:
    """The enrolment user is to confirm: begun now with a fresh secret, or the one begun
    before (a reloaded page shows the same secret, which an app may have scanned already).
    MfaError('state') once the enrolment is confirmed: the secret is never shown again."""
    if not needs_second_factor(user.role):
        raise MfaError("state", NOT_NEEDED)
    row = enrolment_of(session, user)
    if row is not None and row.confirmed_at is not None:
        raise MfaError("state", ALREADY)
    if row is None:
        # Insert unless a parallel page of the same user began one first; then show that one.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        begun = dialect.insert(MfaEnrolment).values(
            user_id=user.id, secret=seal_secret(settings, user.id, pyotp.random_base32()),  # 160 bits
            created_at=naive_utc(now), confirmed_at=None, last_step=None)
        session.execute(begun.on_conflict_do_nothing(index_elements=["user_id"]))
        row = session.get_one(MfaEnrolment, user.id, populate_existing=True)
        if row.confirmed_at is not None:
            raise MfaError("state", ALREADY)
    secret = open_secret(settings, user.id, row.secret)
    uri = _totp(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return Pending(secret, uri, qr_data_uri(uri))


def confirm_enrolment(session: Session, user: User, code: str, *, settings: Settings, now: datetime,
                      origin: Origin | None = None) -> list[str]:
    """Confirm the pending enrolment with a current code; returns the recovery codes, to be
    shown once. The code counts as the session's second factor (the caller upgrades it).
    Raises MfaError (commit anyway: a wrong code is counted)."""
    at, who = naive_utc(now), replace(origin or Origin(), user=user)
    row = enrolment_of(session, user)
    if row is None or row.confirmed_at is not None:
        raise MfaError("state", ALREADY if row is not None else NO_ENROLMENT)
    _check_code(session, user, row, code, settings=settings, at=at, origin=who, recovery=False)
    row.confirmed_at = at
    codes = _new_recovery_codes(session, user, at)
    session.flush()
    _audit(session, who, "auth.mfa_enrolled", user, at, {"recovery_codes": len(codes)})
    return codes


def renew_recovery_codes(session: Session, user: User, code: str, *, settings: Settings, now: datetime,
                         origin: Origin | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), against a current TOTP code."""
    at, who = naive_utc(now), replace(origin or Origin(), user=user)
    row = enrolment_of(session, user)
    if row is None or row.confirmed_at is None:
        raise MfaError("state", NO_ENROLMENT)
    _check_code(session, user, row, code, settings=settings, at=at, origin=who, recovery=False)
    codes = _new_recovery_codes(session, user, at)
    _audit(session, who, "auth.mfa_recovery_renewed", user, at, {"recovery_codes": len(codes)})
    return codes


def _new_recovery_codes(session: Session, user: User, at: datetime) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(c), created_at=at, used_at=None) for c in codes)
    session.flush()
    return codes


def _recovery_code() -> str:
    """16 base32 characters (80 bits) in groups of four: 'k7qm-2xpa-…'."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return "-".join(raw[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def _digest(code: str) -> str:
    return sha256(normalise_code(code).encode("ascii", "replace")).hexdigest()


def normalise_code(raw: str) -> str:
    """A typed code without spaces and dashes, in lower case."""
    return "".join(ch for ch in raw if not ch.isspace() and ch != "-").lower()


_RECOVERY = re.compile(rf"[a-z2-7]{{{RECOVERY_LENGTH}}}")


# --- the second factor -------------------------------------------------------------


def verify_second_factor(session: Session, user: User, code: str, *, settings: Settings, now: datetime,
                         origin: Origin | None = None) -> str:
    """Check a TOTP code or a recovery code of an enrolled user: 'totp' or 'recovery'.
    A recovery code is spent. Raises MfaError (commit anyway: failures are counted)."""
    at, who = naive_utc(now), replace(origin or Origin(), user=user)
    row = enrolment_of(session, user)
    if row is None or row.confirmed_at is None:
        raise MfaError("state", NO_ENROLMENT)
    kind = _check_code(session, user, row, code, settings=settings, at=at, origin=who, recovery=True)
    _audit(session, who, "auth.mfa_verified", user, at, {"factor": kind})
    if kind == "recovery":
        _audit(session, who, "auth.mfa_recovery_used", user, at, {"left": recovery_codes_left(session, user)})
    return kind


def _check_code(session: Session, user: User, row: MfaEnrolment, raw: str, *, settings: Settings, at: datetime,
                origin: Origin, recovery: bool) -> str:
    """Pass (returning 'totp' or 'recovery', the code used up) or raise MfaError after
    counting the failure."""
    pairs = _pairs(user, origin)
    waits = [u for key, addr in pairs if (u := throttle.blocked_until(session, key, addr, at)) is not None]
    if waits:
        _audit(session, origin, "auth.mfa_failed", user, at, {"reason": "throttled"})
        raise MfaError("throttled", throttle.message(max(waits) - at))
    code = normalise_code(raw)
    if len(code) == DIGITS and code.isdigit():
        step = _matching_step(open_secret(settings, user.id, row.secret), code, at)
        if step is None:
            _fail(session, user, origin, at, settings, "wrong_code")
        if not _take_step(session, row, step):
            _fail(session, user, origin, at, settings, "replayed")
        kind = "totp"
    elif recovery and _RECOVERY.fullmatch(code):
        if not _spend_recovery_code(session, user, code, at):
            _fail(session, user, origin, at, settings, "wrong_recovery_code")
        kind = "recovery"
    else:
        _fail(session, user, origin, at, settings, "malformed")
    waits = [u for key, addr in pairs if (u := throttle.admit(session, key, addr, at)) is not None]
    if waits:  # a parallel attempt made a pair wait while this one was checked
        _audit(session, origin, "auth.mfa_failed", user, at, {"reason": "throttled"})
        raise MfaError("throttled", throttle.message(max(waits) - at))
    return kind


def _step(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The step within the window whose code is code (each compared in constant time)."""
    totp, now, found = _totp(secret), _step(at), None
    for step in range(now - WINDOW, now + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _take_step(session: Session, row: MfaEnrolment, step: int) -> bool:
    """Note step as used unless it, or a later one, was used already (one conditional
    UPDATE: of two parallel uses of a code, one passes)."""
    taken = session.execute(
        update(MfaEnrolment)
        .where(MfaEnrolment.user_id == row.user_id,
               (MfaEnrolment.last_step.is_(None)) | (MfaEnrolment.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        row.last_step = step
    return bool(taken)


def _spend_recovery_code(session: Session, user: User, code: str, at: datetime) -> bool:
    spent = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(spent)


def _pairs(user: User, origin: Origin) -> list[tuple[str, str]]:
    """The throttle pairs a code counts on: the sign-in's (name, address), and the account's."""
    return [(throttle.name_key(user.username), throttle.address_key(origin.client_addr)),
            (throttle.name_key("mfa:" + user.username), ACCOUNT_ADDR)]


def _fail(session: Session, user: User, origin: Origin, at: datetime, settings: Settings, reason: str) -> NoReturn:
    """Count a refused code on both pairs, audit it, raise its MfaError."""
    account_settings = settings.model_copy(update={"login_max_failures": settings.login_max_failures * ACCOUNT_FACTOR})
    (key, addr), (account_key, _) = _pairs(user, origin)
    counted = throttle.record_failure(session, key, addr, at, settings)
    account = throttle.record_failure(session, account_key, ACCOUNT_ADDR, at, account_settings)
    waits = [c.blocked_until for c in (counted, account) if c.blocked_until is not None]
    if counted.too_late or account.too_late:
        _audit(session, origin, "auth.mfa_failed", user, at, {"reason": "throttled"})
        raise MfaError("throttled", throttle.message(max(waits) - at))
    _audit(session, origin, "auth.mfa_failed", user, at, {"reason": reason, "failures": counted.failures})
    if not waits:
        raise MfaError("invalid", WRONG_CODE)
    _audit(session, origin, "auth.throttled", user, at, {"blocked_until": max(waits).isoformat(),
                                                         "failures": counted.failures, "factor": "totp"})
    raise MfaError("throttled", throttle.message(max(waits) - at))


# --- reset -------------------------------------------------------------------------


def reset_mfa(session: Session, user: User, *, origin: Origin | None = None, now: datetime | None = None) -> bool:
    """Clear user's second factor (secret and recovery codes, the account-wide count of
    failed codes) and end their web sessions: the next sign-in enrols again. Audited;
    returns whether an enrolment was confirmed."""
    at = naive_utc(now)
    row = enrolment_of(session, user)
    was = row is not None and row.confirmed_at is not None
    if row is not None:
        session.delete(row)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id)).rowcount
    throttle.clear(session, _pairs(user, Origin())[1][0])  # the account's code count starts over with the new secret
    session.flush()
    _audit(session, origin, "user.mfa_reset", user, at, {"enrolled": False, "sessions_ended": ended},
           before={"enrolled": was})
    return was


def _audit(session: Session, origin: Origin | None, action: str, user: User, at: datetime, after: Any,
           before: Any = None) -> None:
    # Never a code or a secret: only what happened.
    record_from(session, origin, action=action, object_type="user", object_id=user.id, before=before,
                after=after, now=at)
