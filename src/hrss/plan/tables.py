"""Store tables for the plan: the plan document and its lookup tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hrss.db import Base


class PlanRecord(Base):
    """One loaded plan. `body` is the plan file itself, the source of truth."""

    __tablename__ = "plan"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    document: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50))
    baseline_year: Mapped[int] = mapped_column(Integer)
    start_year: Mapped[int] = mapped_column(Integer)
    end_year: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]


class OrgUnitRecord(Base):
    __tablename__ = "org_unit"
    __table_args__ = (UniqueConstraint("plan_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    gb_code: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    members: Mapped[str] = mapped_column(Text, default="")  # comma-separated member names


class IndicatorRecord(Base):
    __tablename__ = "indicator"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(50))
    unit: Mapped[str] = mapped_column(String(20))
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(20))
    attribute: Mapped[str] = mapped_column(String(20))
    aggregation: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(100), default="")


class TargetRecord(Base):
    """A decomposed target: an annex table cell, in the table's unit."""

    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("plan_id", "indicator_code", "org_unit", "year"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(String(20))
    indicator_code: Mapped[str] = mapped_column(String(10))
    org_unit: Mapped[str] = mapped_column(String(50))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))


class CommitmentRecord(Base):
    __tablename__ = "commitment"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(10))
    section: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    comparator: Mapped[str] = mapped_column(String(4))
    due: Mapped[str] = mapped_column(String(20))
    area: Mapped[str] = mapped_column(String(30))
    indicator_code: Mapped[str | None] = mapped_column(String(10))
