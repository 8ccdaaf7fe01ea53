"""Store tables of the audit trail: the events and the head of their hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hrss.db import Base


class AuditEvent(Base):
    """One change, self-contained: who (id and copied name), what, before/after, where from.

    Append-only (triggers refuse UPDATE and DELETE, see migration 0002); `hash` covers
    every column but `id` and `hash`, `prev_hash` is the hash of the event before it.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        {"sqlite_autoincrement": True},  # never reuse the id of a deleted event
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]  # naive UTC
    at_local: Mapped[str] = mapped_column(String(25))  # 2025-01-31 08:00:00+08:00 (Asia/Shanghai)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the row outlives any user
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)  # JSON
    after: Mapped[str | None] = mapped_column(Text)  # JSON
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row (id 1) naming the newest event: a deleted tail shows up against it."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)  # 0 before the first event
    last_hash: Mapped[str] = mapped_column(String(64))
