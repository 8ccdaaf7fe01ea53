"""Evidence notes on the commitments ledger (任务台账佐证说明): the table and its two functions.

One current note per commitment of a plan, kept up to date in place by the city
(市统计审核员, 市级管理员); every change is an audit event (`commitment.noted`) holding
the note before and after, so the history lives in the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hrss.audit.service import Origin, record_from
from hrss.db import Base

NOTE_STATUSES = ("进行中", "已完成", "未完成")
NOTE_MAX = 2000


class CommitmentNote(Base):
    __tablename__ = "commitment_note"
    __table_args__ = (UniqueConstraint("plan_id", "commitment_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    commitment_id: Mapped[str] = mapped_column(String(10))  # C001 …
    status: Mapped[str] = mapped_column(String(10))  # 进行中 | 已完成 | 未完成
    note: Mapped[str] = mapped_column(String(NOTE_MAX), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class NoteError(ValueError):
    pass


def notes_for(session: Session, plan_id: str) -> dict[str, CommitmentNote]:
    q = select(CommitmentNote).where(CommitmentNote.plan_id == plan_id)
    return {n.commitment_id: n for n in session.execute(q).scalars()}


def save_note(session: Session, plan_id: str, commitment_id: str, *, status: str, note: str,
              origin: Origin) -> CommitmentNote:
    """Create or update the note of one commitment and audit it, in session's transaction."""
    if status not in NOTE_STATUSES:
        raise NoteError(f"状态应为 {'、'.join(NOTE_STATUSES)} 之一 (invalid status)")
    text = note.replace("\r\n", "\n").strip()
    if len(text) > NOTE_MAX:
        raise NoteError(f"说明不得超过 {NOTE_MAX} 字 (note too long)")
    q = select(CommitmentNote).where(CommitmentNote.plan_id == plan_id, CommitmentNote.commitment_id == commitment_id)
    row = session.execute(q).scalar_one_or_none()
    before = {"status": row.status, "note": row.note} if row else None
    actor = origin.user.username if origin.user is not None else origin.user_name or "unknown"
    now = datetime.now(UTC).replace(tzinfo=None)
    if row is None:
        row = CommitmentNote(plan_id=plan_id, commitment_id=commitment_id, status=status, note=text,
                             updated_at=now, updated_by=actor)
        session.add(row)
    else:
        row.status, row.note, row.updated_at, row.updated_by = status, text, now, actor
    session.flush()
    record_from(session, origin, action="commitment.noted", object_type="commitment", object_id=commitment_id,
                before=before, after={"status": status, "note": text})
    return row
