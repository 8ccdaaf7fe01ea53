"""Evaluation from the store: the glue the CLI, reports and (later) the web use."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hrss.monitoring.engine import Evaluation, Evaluator
from hrss.monitoring.evaluation import StatusThresholds
from hrss.monitoring.series import ValueSet
from hrss.monitoring.tables import ValueRecord
from hrss.plan.model import Plan

SOURCES = ("reported", "computed")


def load_values(session: Session, plan: Plan, source: str = "reported") -> ValueSet:
    q = select(
        ValueRecord.indicator_code, ValueRecord.org_unit, ValueRecord.first_month,
        ValueRecord.last_month, ValueRecord.value, ValueRecord.numerator, ValueRecord.denominator,
    ).where(ValueRecord.plan_id == plan.id, ValueRecord.source == source)
    return ValueSet.from_rows(plan, [tuple(r) for r in session.execute(q)])


def evaluate(
    session: Session,
    plan: Plan,
    as_of: int,
    *,
    org_unit: str | None = None,
    source: str = "reported",
    thresholds: StatusThresholds | None = None,
) -> list[Evaluation]:
    return Evaluator(plan, load_values(session, plan, source), thresholds).evaluate_all(as_of, org_unit)
