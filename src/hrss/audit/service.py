"""Write and verify the audit trail (审计日志), a sha256 hash chain.

Every event's hash covers all its columns but `id` and `hash`, including `prev_hash`,
the hash of the event before it (the first event's prev_hash is GENESIS). `audit_head`
names the newest event, so that deleting the tail of the chain is noticed too.

Events are written in the caller's transaction, next to the change they describe: if
the change rolls back, so does its event. Writers are serialised so that the chain
never forks. Nothing here logs: audit rows may hold personal data, logs must not.

Retention: events are kept at least 180 days (等保三级) — in fact for the life of the
store. Nothing deletes them: no function here or command (`hrss audit` has verify and
show only), and database triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on
audit_event. A retention job, if one is ever added, must keep every event younger than
RETENTION_DAYS and stay outside the web application.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from hrss.audit.tables import AuditEvent, AuditHead

GENESIS = "0" * 64
RETENTION_DAYS = 180  # the least time every event is kept (see the module doc)
LOCAL_ZONE = "Asia/Shanghai"
HEAD_ID = 1
# Key of the PostgreSQL advisory lock that serialises audit writers ("hrssaudi").
LOCK_KEY = 0x6872737361756469
HASHED_FIELDS = (
    "at", "at_local", "user_id", "user_name", "action", "object_type", "object_id",
    "before", "after", "request_id", "client_addr", "prev_hash",
)
# Labels of the actions recorded so far; capabilities that record new ones add theirs.
ACTION_LABELS = {
    "user.created": "创建用户",
    "user.role_changed": "变更角色",
    "user.activated": "启用账户",
    "user.deactivated": "停用账户",
    "user.password_changed": "修改密码",
    "user.password_reset": "重置密码",
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.locked": "账户锁定",  # recorded before sign-in throttling replaced the lock
    "auth.throttled": "登录受限",
    "auth.logout": "退出登录",
    "auth.mfa_enrolled": "绑定动态口令",
    "auth.mfa_verified": "双因素验证通过",
    "auth.mfa_failed": "双因素验证失败",
    "auth.mfa_recovery_used": "使用恢复码",
    "auth.mfa_recovery_renewed": "重新生成恢复码",
    "user.mfa_reset": "重置双因素",
    "token.created": "创建接口令牌",
    "token.revoked": "吊销接口令牌",
    "value.saved": "保存填报数据",
    "template.downloaded": "下载填报模板",
    "submission.submitted": "提交审核",
    "submission.approve": "审核通过",
    "submission.return": "退回",
    "submission.reopen": "重新打开",
    "commitment.noted": "更新任务台账佐证",
    "report.generated": "生成报告",
    "report.downloaded": "下载报告",
    # the command line (actor cli:<OS user>, 命令行)
    "values.imported": "导入实际值",
    "plan.loaded": "载入规划",
    "demo.loaded": "载入模拟数据",
    "stats.computed": "实名制自动统计",
    "stats.rejects_written": "导出剔除记录表",
    "ledger.export": "导出台账（已脱敏）",
    "ledger.export.privileged": "特权导出台账（完整个人信息）",
    "db.backup": "备份数据库",
    "db.restored": "恢复数据库",
}
_CLIP = 64  # request ids and client addresses come from outside: clip them to their column


class AuditUser(Protocol):
    id: int
    username: str


@dataclass(frozen=True)
class Origin:
    """Who and where a change comes from, copied into its audit event.

    `user_name` names an actor that is not a user, e.g. "cli:root" for the command line.
    """

    user: AuditUser | None = None
    user_name: str | None = None
    request_id: str | None = None
    client_addr: str | None = None


def utcnow() -> datetime:
    """Now as naive UTC, the way the store keeps every timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def local_time(at: datetime) -> str:
    """Naive UTC → '2025-01-31 08:00:00+08:00' in Asia/Shanghai."""
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(LOCAL_ZONE)).isoformat(sep=" ", timespec="seconds")


def to_json(value: Any) -> str | None:
    """Canonical JSON text of a before/after value (None stays None)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def event_hash(fields: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON of the hashed fields (from an event or a row)."""
    data = {name: fields[name] for name in HASHED_FIELDS}
    data["at"] = fields["at"].isoformat(timespec="microseconds")
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sha256(payload.encode("utf-8")).hexdigest()


def _clip(value: str | None) -> str | None:
    if value is None:
        return None
    return "".join(c for c in value if c.isprintable())[:_CLIP]


def _locked_head(session: Session) -> AuditHead:
    """The head row, read only once this transaction is the sole audit writer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    else:
        # SQLite has one write lock per database, held until commit. Writing the head
        # row first takes it, so the head is read under it (a plain read would not be).
        session.execute(
            update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_id=AuditHead.last_id),
            execution_options={"synchronize_session": False},
        )
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:  # the migration creates it; a store built otherwise starts here
        head = AuditHead(id=HEAD_ID, last_id=0, last_hash=GENESIS)
        session.add(head)
    return head


def record(
    session: Session,
    *,
    action: str,
    object_type: str,
    object_id: str | int | None,
    before: Any = None,
    after: Any = None,
    user: AuditUser | None = None,
    user_name: str | None = None,
    request_id: str | None = None,
    client_addr: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in session's transaction (flushed, not committed).

    before/after are JSON-able values (dicts of the changed fields); never put password
    hashes, tokens or other secrets in them. user_name is for actors without a user row.
    """
    at = naive_utc(now)
    head = _locked_head(session)
    event = AuditEvent(
        at=at,
        at_local=local_time(at),
        user_id=user.id if user is not None else None,
        user_name=(user.username if user is not None else user_name or "system")[:64],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=to_json(before),
        after=to_json(after),
        request_id=_clip(request_id),
        client_addr=_clip(client_addr),
        prev_hash=head.last_hash,
    )
    event.hash = event_hash({name: getattr(event, name) for name in HASHED_FIELDS})
    session.add(event)
    session.flush()
    head.last_id, head.last_hash = event.id, event.hash
    session.flush()
    return event


def record_from(session: Session, origin: Origin | None, **event: Any) -> AuditEvent:
    """`record` with the actor and request taken from origin."""
    o = origin or Origin()
    return record(session, user=o.user, user_name=o.user_name, request_id=o.request_id,
                  client_addr=o.client_addr, **event)


def verify(session: Session) -> list[str]:
    """Every break in the chain, as Chinese (English) messages; empty when intact."""
    problems: list[str] = []
    columns = [getattr(AuditEvent, name) for name in ("id", "hash", *HASHED_FIELDS)]
    rows = session.execute(select(*columns).order_by(AuditEvent.id).execution_options(yield_per=1000))
    prev_id: int | None = None
    prev_hash = GENESIS
    for row in rows.mappings():
        if event_hash(row) != row["hash"]:
            problems.append(f"审计记录 #{row['id']} 的内容与其哈希不符，记录已被修改 "
                            f"(audit event #{row['id']}: content does not match its hash — altered)")
        if row["prev_hash"] != prev_hash:
            if prev_id is None:
                problems.append(f"审计记录 #{row['id']} 是现存第一条，但未接在链首，之前的记录已被删除 "
                                f"(audit event #{row['id']} is the first but does not start the chain — earlier events deleted)")
            else:
                problems.append(f"审计记录 #{row['id']} 的前序哈希与上一条 #{prev_id} 不符，其间有记录被删除或插入 "
                                f"(audit event #{row['id']}: prev_hash does not match event #{prev_id} — an event deleted or inserted between them)")
        prev_id, prev_hash = row["id"], row["hash"]
    head = session.get(AuditHead, HEAD_ID)
    head_id, head_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    last_id = prev_id or 0
    if (last_id, prev_hash) != (head_id, head_hash):
        problems.append(f"审计链末尾与链头不符：链头记为 #{head_id}，现存最后一条为 #{last_id}，末尾记录已被删除或链头被改动 "
                        f"(audit head names event #{head_id} but the last event is #{last_id} — the tail was deleted or the head altered)")
    return problems


def count_events(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def head_hash(session: Session) -> str:
    """The newest event's hash: note it elsewhere to anchor the chain (see docs)."""
    head = session.get(AuditHead, HEAD_ID)
    return head.last_hash if head else GENESIS


def recent_events(session: Session, limit: int = 20) -> list[AuditEvent]:
    """The newest events, newest first."""
    return list(session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).scalars())
