"""Evaluation from the store: the glue the CLI, reports and (later) the web use."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from hrss.monitoring.completeness import local_today
from hrss.monitoring.engine import Evaluation, Evaluator
from hrss.monitoring.evaluation import StatusThresholds
from hrss.monitoring.periods import month_index, plan_month
from hrss.monitoring.series import ValueSet
from hrss.monitoring.tables import ImportBatch, Submission, ValueRecord
from hrss.plan.model import Plan

SOURCES = ("reported", "computed")


def load_values(session: Session, plan: Plan, source: str = "reported") -> ValueSet:
    q = select(
        ValueRecord.indicator_code, ValueRecord.org_unit, ValueRecord.first_month,
        ValueRecord.last_month, ValueRecord.value, ValueRecord.numerator, ValueRecord.denominator,
    ).where(
        # everything in `value` counts: imported values at once, web-entered ones once approved
        # (drafts and pending submissions keep their figures in `submission_value`)
        ValueRecord.plan_id == plan.id,
        ValueRecord.source == source,
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


_VERSION = select(
    select(func.max(ImportBatch.id)).where(ImportBatch.plan_id == bindparam("plan_id")).scalar_subquery(),
    select(func.count(ImportBatch.id)).where(ImportBatch.plan_id == bindparam("plan_id")).scalar_subquery(),
    select(func.sum(Submission.version)).where(Submission.plan_id == bindparam("plan_id")).scalar_subquery(),
)


def data_version(session: Session | Connection, plan: Plan) -> tuple[int, int, int]:
    """A version of the values that count, read on every web request: one round trip over
    two small tables, never over the values themselves.

    (newest import batch id, number of import batches, sum of submission versions).
    Every change of values goes through `store_values`, which adds one import batch in the
    same transaction, so the batch count rises with every such commit in whatever order
    concurrent transactions commit (a newest id alone could hide an earlier-numbered
    batch committed last on PostgreSQL). Every workflow step (submit, approve, return,
    reopen) raises its submission's version. Only `load_demo` deletes batches, after
    adding its own, so the newest id still rises there (SQLite reuses a deleted top rowid).
    """
    newest, batches, steps = session.execute(_VERSION, {"plan_id": plan.id}).one()
    return int(newest or 0), int(batches or 0), int(steps or 0)


def latest_month(session: Session, plan: Plan, source: str = "reported") -> int | None:
    """The last month any value covers, within the plan period."""
    end = month_index(plan.end_year, 12)
    q = select(func.max(ValueRecord.last_month)).where(
        ValueRecord.plan_id == plan.id, ValueRecord.source == source, ValueRecord.last_month <= end
    )
    return session.execute(q).scalar_one()


def evaluation_month(plan: Plan, month: int) -> int:
    """The month to evaluate for an as-of month asked today (`periods.plan_month`, up to this
    month in Asia/Shanghai); raises PeriodError outside the plan period and after this month."""
    today = local_today()
    return plan_month(month, plan.start_year, plan.end_year, latest=month_index(today.year, today.month))
