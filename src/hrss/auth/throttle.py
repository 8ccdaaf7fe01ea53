"""Sign-in throttling (登录限流): a growing delay per (user name as typed, client address)
instead of an account lock.

Locking the account after a few wrong passwords would let anyone lock anyone out on
purpose. Failures count instead per pair of the name as typed (an account or not: the
answer must not tell) and the address they come from. From the HRSS_LOGIN_MAX_FAILURES-th
failure on, the pair waits HRSS_LOGIN_LOCK_MINUTES × 2^(failures − max), at most
MAX_BLOCK, before its next try; the owner signing in from another address is not held
up. A success clears its pair, an administrator's password reset every pair of the
account's name, and a pair with no failure for FORGET_AFTER is forgotten.

Parallel attempts of one pair may all pass the first look (`blocked_until`) and have
their passwords checked, but each is then counted or admitted under the pair's row lock
(SQLite: the database's write lock): once one of them starts a block, the others are
refused as if they had come later, the right password too.

Only sha256 of the name is stored: people type passwords into the name box. IPv6
addresses count by their /64 network, which one host usually holds whole (counting
single addresses would give it 2^64 fresh starts).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from hashlib import sha256
from ipaddress import IPv6Address, IPv6Network, ip_address
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hrss.auth.tables import LoginThrottle
from hrss.settings import Settings

MAX_BLOCK_MINUTES = 24 * 60
MAX_BLOCK = timedelta(minutes=MAX_BLOCK_MINUTES)
# Longer than MAX_BLOCK, so that a pair at the cap cannot start over by sitting a block out.
FORGET_AFTER = timedelta(hours=48)


def name_key(name: str) -> str:
    """sha256 hex of the name as typed, trimmed and in lower case (as user names are stored)."""
    return sha256(name.strip().lower().encode("utf-8")).hexdigest()


def address_key(addr: str | None) -> str:
    """What failures from addr count under: the address, its /64 network for IPv6, "" when
    unknown (the command line)."""
    if not addr:
        return ""
    try:
        ip = ip_address(addr)
    except ValueError:
        return addr[:64]
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def delay(failures: int, settings: Settings) -> timedelta:
    """How long a pair waits after its failures-th failure (none below the maximum)."""
    over = failures - settings.login_max_failures
    if over < 0:
        return timedelta(0)
    minutes = settings.login_lock_minutes * 2 ** min(over, 16)  # 2^16 × 1 min is past the cap already
    return timedelta(minutes=min(minutes, MAX_BLOCK_MINUTES))


def message(remaining: timedelta) -> str:
    """The one answer while a pair waits, whether or not its name is an account."""
    minutes = max(1, math.ceil(remaining / timedelta(minutes=1)))
    return (f"该地址登录失败次数过多，请 {minutes} 分钟后再试 "
            f"(too many failed sign-ins from this address: try again in {minutes} min)")


THROTTLE = cast(Table, LoginThrottle.__table__)  # Core statements: upserts, and no ORM state to go stale


def _pair(key: str, addr: str) -> Any:
    return (THROTTLE.c.key_digest == key) & (THROTTLE.c.client_addr == addr)


def blocked_until(session: Session, key: str, addr: str, at: datetime) -> datetime | None:
    """The end of the pair's running block, or None: a first look, without a lock. Parallel
    attempts may all pass it; record_failure and admit decide under the row's write lock."""
    until = session.execute(select(THROTTLE.c.blocked_until).where(_pair(key, addr))).scalar_one_or_none()
    return until if until is not None and at < until else None


class Counted(NamedTuple):
    failures: int  # the pair's failures, this one included unless it came too late
    blocked_until: datetime | None  # the end of the block the pair is in now, or None
    too_late: bool  # a parallel attempt started that block first: this one is refused uncounted


def record_failure(session: Session, key: str, addr: str, at: datetime, settings: Settings) -> Counted:
    """Count a failure of the pair (pairs quiet for FORGET_AFTER are forgotten first)."""
    session.execute(THROTTLE.delete().where(THROTTLE.c.last_failed_at <= at - FORGET_AFTER))
    running = THROTTLE.c.blocked_until > at
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(THROTTLE).values(key_digest=key, client_addr=addr, failures=1, last_failed_at=at)
    upsert = upsert.on_conflict_do_update(
        index_elements=["key_digest", "client_addr"],
        set_={"failures": case((running, THROTTLE.c.failures), else_=THROTTLE.c.failures + 1),
              "last_failed_at": case((running, THROTTLE.c.last_failed_at), else_=at)},
    ).returning(THROTTLE.c.failures, THROTTLE.c.blocked_until)
    failures, until = session.execute(upsert).one()
    if until is not None and at < until:
        return Counted(failures, until, too_late=True)
    wait = delay(failures, settings)
    if not wait:
        return Counted(failures, None, too_late=False)
    session.execute(THROTTLE.update().where(_pair(key, addr)).values(blocked_until=at + wait))
    return Counted(failures, at + wait, too_late=False)


def admit(session: Session, key: str, addr: str, at: datetime) -> datetime | None:
    """After the right password: clear the pair and return None, or, when a parallel
    attempt has made it wait meanwhile, leave it and return the end of that wait."""
    # A write that changes nothing, to hold the row (and SQLite's write lock) while deciding.
    held = THROTTLE.update().where(_pair(key, addr)).values(failures=THROTTLE.c.failures)
    until = session.execute(held.returning(THROTTLE.c.blocked_until)).scalar_one_or_none()
    if until is not None and at < until:
        return until
    clear(session, key, addr)
    return None


def clear(session: Session, key: str, addr: str | None = None) -> int:
    """Forget the pair's failures (every address of the name when addr is None); how many pairs."""
    where = _pair(key, addr) if addr is not None else THROTTLE.c.key_digest == key
    return session.execute(THROTTLE.delete().where(where)).rowcount


def latest_blocks(session: Session, names: list[str], at: datetime) -> dict[str, datetime]:
    """For each of names with a running block (from any address), the latest end of one."""
    keys = {name_key(n): n for n in names}
    if not keys:
        return {}
    q = (select(LoginThrottle.key_digest, func.max(LoginThrottle.blocked_until))
         .where(LoginThrottle.key_digest.in_(keys), LoginThrottle.blocked_until > at)
         .group_by(LoginThrottle.key_digest))
    return {keys[key]: until for key, until in session.execute(q)}


def running_blocks(session: Session, name: str, at: datetime) -> list[LoginThrottle]:
    """The name's pairs that wait now, the longest wait first."""
    q = select(LoginThrottle).where(LoginThrottle.key_digest == name_key(name), LoginThrottle.blocked_until > at)
    return list(session.execute(q.order_by(LoginThrottle.blocked_until.desc())).scalars())
