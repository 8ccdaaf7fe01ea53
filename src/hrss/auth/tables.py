"""Store tables for accounts: users (用户), web sessions (会话), API tokens (接口令牌),
sign-in throttling (登录限流) and second factors (双因素: TOTP and recovery codes).

Secrets are stored only as hashes: passwords as argon2id, session and API tokens and
recovery codes as sha256 of the random value (they carry 80 bits or more, so a fast hash
suffices). The TOTP secret must be read back to check a code: it is stored encrypted
(AES-GCM, the key outside the store: hrss.auth.mfa). All timestamps are naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hrss.db import Base


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # lower case
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))  # a hrss.auth.roles.Role value
    org_unit: Mapped[str | None] = mapped_column(String(50))  # org unit name; district_operator only
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime]
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Unused since sign-in throttling (LoginThrottle) replaced the account lock; kept so
    # that no migration has to drop data.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    def __repr__(self) -> str:  # never the password hash
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class WebSession(Base):
    """A signed-in browser. `id` is sha256(token); the token itself lives only in the cookie."""

    __tablename__ = "web_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    csrf_token: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    # When the second factor passed (hrss.auth.mfa); None: the password only, which signs
    # in fully only an account whose role needs no second factor (roles.MFA_ROLES).
    mfa_verified_at: Mapped[datetime | None]


class ApiToken(Base):
    """A named token for the JSON API; `token_hash` is sha256(token)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class PasswordHistory(Base):
    """Hashes of a user's earlier passwords (the newest HISTORY − 1 are kept), so that a
    change cannot go back to one of them."""

    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    replaced_at: Mapped[datetime]


class LoginThrottle(Base):
    """Failed sign-ins for one (user name as typed, client address) pair; see
    hrss.auth.throttle. `key_digest` is sha256 of the normalised name, never the name
    itself (people type passwords into the name box); the name need not be an account."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("key_digest", "client_addr"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str] = mapped_column(String(64))  # "" when unknown (the CLI)
    failures: Mapped[int] = mapped_column(Integer)
    blocked_until: Mapped[datetime | None]
    last_failed_at: Mapped[datetime] = mapped_column(index=True)


class MfaEnrolment(Base):
    """A user's TOTP second factor (RFC 6238). `secret` is the AES-GCM ciphertext of the
    base32 secret (hrss.auth.mfa), never the secret itself. `confirmed_at` None: enrolment
    begun and not yet confirmed with a code (only then is the secret ever shown).
    `last_step` is the 30-second step of the last code accepted: a code is good once."""

    __tablename__ = "user_mfa"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:  # never the secret, not even encrypted
        return f"MfaEnrolment(user_id={self.user_id!r}, confirmed_at={self.confirmed_at!r})"


class RecoveryCode(Base):
    """A one-time recovery code (恢复码) for the second factor; `code_hash` is sha256 of the
    normalised code. `used_at` set: spent."""

    __tablename__ = "mfa_recovery_code"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
