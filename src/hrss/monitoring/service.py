"""Evaluation from the store: the glue the CLI, reports and (later) the web use."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hrss.monitoring.engine import Evaluation, Evaluator
from hrss.monitoring.evaluation import StatusThresholds
from hrss.monitoring.periods import month_index
from hrss.monitoring.series import ValueSet
from hrss.monitoring.tables import ImportBatch, Submission, ValueRecord
from hrss.plan.model import Plan

SOURCES = ("reported", "computed")


def load_values(session: Session, plan: Plan, source: str = "reported") -> ValueSet:
    q = select(
        ValueRecord.indicator_code, ValueRecord.org_unit, ValueRecord.first_month,
        ValueRecord.last_month, ValueRecord.value, ValueRecord.numerator, ValueRecord.denominator,
    ).outerjoin(Submission, ValueRecord.submission_id == Submission.id).where(
        ValueRecord.plan_id == plan.id,
        ValueRecord.source == source,
        # web-entered values count once approved; imported ones count at once
        or_(ValueRecord.submission_id.is_(None), Submission.status == "approved"),
    )
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


def data_version(session: Session, plan: Plan) -> tuple[int, int, int]:
    """Changes whenever the values that count change: (newest import batch id, number of
    values, sum of submission versions — every workflow step raises one). One round trip."""
    batch = select(func.max(ImportBatch.id)).where(ImportBatch.plan_id == plan.id).scalar_subquery()
    count = select(func.count(ValueRecord.id)).where(ValueRecord.plan_id == plan.id).scalar_subquery()
    steps = select(func.sum(Submission.version)).where(Submission.plan_id == plan.id).scalar_subquery()
    row = session.execute(select(batch, count, steps)).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def latest_month(session: Session, plan: Plan, source: str = "reported") -> int | None:
    """The last month any value covers, within the plan period."""
    end = month_index(plan.end_year, 12)
    q = select(func.max(ValueRecord.last_month)).where(
        ValueRecord.plan_id == plan.id, ValueRecord.source == source, ValueRecord.last_month <= end
    )
    return session.execute(q).scalar_one()
