"""Store tables for values: reported (or, later, computed) figures and their import batches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hrss.db import Base


class ImportBatch(Base):
    __tablename__ = "import_batch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    source_name: Mapped[str] = mapped_column(String(255))  # file name, or "demo"
    source: Mapped[str] = mapped_column(String(20))  # reported | simulated | computed
    rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ValueRecord(Base):
    """A value for (indicator, org unit, period), stored in the indicator's 表2 unit.

    Months are numbered from year 0 (month_index = year*12 + month - 1) so that any
    period is the closed range [first_month, last_month].
    """

    __tablename__ = "value"
    __table_args__ = (
        UniqueConstraint("plan_id", "source", "indicator_code", "org_unit", "period"),
        Index("ix_value_lookup", "plan_id", "source", "indicator_code", "org_unit", "last_month"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    indicator_code: Mapped[str] = mapped_column(String(10))
    org_unit: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))  # 2023-06 | 2023-Q2 | 2023
    period_type: Mapped[str] = mapped_column(String(10))  # month | quarter | year
    first_month: Mapped[int] = mapped_column(Integer)
    last_month: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    # Entered through the web workflow: counts once its submission is approved.
    # Values imported by the city (CLI) or the demo have none and count at once.
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), index=True)


class Submission(Base):
    """One org unit's figures for one period on their way: draft → submitted → approved | returned.

    `version` rises with every change, so an edit made on a stale page is refused (409).
    """

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("plan_id", "org_unit", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    org_unit: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))  # draft | submitted | approved | returned
    version: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(1000), default="")  # the operator's last 报送说明
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # Four eyes (四眼原则): who last saved the figures and who handed them in; neither
    # may approve them.
    saved_by: Mapped[str | None] = mapped_column(String(100))
    submitted_by: Mapped[str | None] = mapped_column(String(100))


class SubmissionComment(Base):
    """One step of a submission's thread (报送说明, 审核意见): kept, never replaced."""

    __tablename__ = "submission_comment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))  # user name
    author_role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(12))  # submitted | approved | returned | reopened
    text: Mapped[str] = mapped_column(String(1000), default="")


class PendingValue(Base):
    """A figure as its unit entered it (本期待审值), in the indicator's 表2 unit.

    Drafts, submitted and returned submissions live here and never in `value`, so no draft
    changes what is counted; approving a submission copies its figures into `value`
    (replacing the counted ones of the same indicator and period). An approved
    submission keeps its rows as the record of what was approved.
    """

    __tablename__ = "submission_value"
    __table_args__ = (UniqueConstraint("submission_id", "indicator_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    indicator_code: Mapped[str] = mapped_column(String(10))
    value: Mapped[float] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
