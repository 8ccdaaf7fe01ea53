"""Completeness and timeliness of reporting (报送完整率与及时率), and the reminders list (催报).

A reporting unit owes one set of monthly figures per month of the plan period, due by
DEADLINE_DAY of the following month (local time, Asia/Shanghai). For one unit and month:

- received (已报送): submitted (待审核), approved (已审核), or imported without a
  submission (已导入, values with no `submission_id`). A returned (已退回) or draft
  (草稿) period is not received: the unit still owes it.
- due (应报送): the deadline has passed, or it was received anyway.
- late (逾期): received after the deadline (by its last submission date), or still not
  received when today is past the deadline. Imported values carry no submission date
  and are never counted late.

completeness rate (完整率) = received / due; timeliness rate (及时率) = received on time / due.
Months whose deadline has not passed and where nothing arrived yet are 未到期 and do not
count. The computation is pure (`build_grid`); `load_grid` reads the store for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hrss.audit.service import LOCAL_ZONE
from hrss.monitoring.periods import month_index, month_label
from hrss.monitoring.tables import Submission, ValueRecord
from hrss.monitoring.workflow import reporting_indicators
from hrss.plan.model import Plan

# Monthly figures are due by this day of the following month (default; see docs/SETTINGS.md).
DEADLINE_DAY = 10
RECEIVED = ("approved", "submitted", "imported")
STATE_LABELS = {
    "approved": "已审核", "submitted": "待审核", "returned": "已退回", "draft": "草稿",
    "imported": "已导入", "missing": "未报送", "not_due": "未到期",
}
STATE_LABELS_EN = {
    "approved": "Approved", "submitted": "Awaiting review", "returned": "Returned", "draft": "Draft",
    "imported": "Imported", "missing": "Not reported", "not_due": "Not due yet",
}


@dataclass(frozen=True)
class CellFact:
    """What the store knows of one unit × month (month as a month index)."""

    unit: str
    month: int
    status: str | None = None  # the submission's status: draft | submitted | approved | returned
    submitted_on: date | None = None  # local date of its last submission
    imported: bool = False  # values stored without a submission


@dataclass(frozen=True)
class Cell:
    unit: str
    month: int
    state: str  # a key of STATE_LABELS
    deadline: date
    received: bool
    due: bool  # counts in the rates
    late: bool
    submitted_on: date | None = None

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def on_time(self) -> bool:
        return self.received and not self.late

    def as_json(self) -> dict[str, object]:
        return {
            "org_unit": self.unit, "month": month_label(self.month), "state": self.state, "label": self.label,
            "deadline": self.deadline.isoformat(), "received": self.received, "due": self.due, "late": self.late,
            "submitted_on": self.submitted_on.isoformat() if self.submitted_on else None,
        }


@dataclass(frozen=True)
class Rate:
    due: int
    received: int
    on_time: int

    @property
    def completeness(self) -> float | None:
        return self.received / self.due if self.due else None

    @property
    def timeliness(self) -> float | None:
        return self.on_time / self.due if self.due else None

    def as_json(self) -> dict[str, object]:
        return {"due": self.due, "received": self.received, "on_time": self.on_time,
                "completeness": self.completeness, "timeliness": self.timeliness}


@dataclass(frozen=True)
class Reminder:
    """A unit × month overdue and not received (催报)."""

    unit: str
    month: int
    state: str
    deadline: date
    days_overdue: int

    def as_json(self) -> dict[str, object]:
        return {"org_unit": self.unit, "month": month_label(self.month), "state": self.state,
                "label": STATE_LABELS[self.state], "deadline": self.deadline.isoformat(), "days_overdue": self.days_overdue}


@dataclass(frozen=True)
class Grid:
    units: list[str]
    months: list[int]
    cells: dict[tuple[str, int], Cell]  # only the months a unit has something to report
    by_unit: dict[str, Rate]
    by_month: dict[int, Rate]
    total: Rate
    reminders: list[Reminder]
    today: date

    def cell(self, unit: str, month: int) -> Cell | None:
        return self.cells.get((unit, month))

    def as_json(self) -> dict[str, object]:
        return {
            "today": self.today.isoformat(),
            "months": [month_label(m) for m in self.months],
            "total": self.total.as_json(),
            "org_units": [{"org_unit": u, **self.by_unit[u].as_json(),
                           "cells": [c.as_json() for m in self.months if (c := self.cell(u, m))]} for u in self.units],
            "by_month": [{"month": month_label(m), **self.by_month[m].as_json()} for m in self.months],
            "reminders": [r.as_json() for r in self.reminders],
        }


def deadline(month: int, day: int = DEADLINE_DAY) -> date:
    """The last day figures for month (a month index) are on time: day of the following month."""
    following = month + 1
    return date(following // 12, following % 12 + 1, day)


def judge(fact: CellFact, today: date, day: int = DEADLINE_DAY) -> Cell:
    """One cell: its state, whether it counts, whether it is late."""
    due_by = deadline(fact.month, day)
    if fact.status in ("approved", "submitted"):
        state = fact.status
    elif fact.imported:
        state = "imported"
    elif fact.status in ("returned", "draft"):
        state = fact.status
    else:
        state = "missing"
    received = state in RECEIVED
    overdue = today > due_by
    if state == "missing" and not overdue:
        state = "not_due"
    if received:
        late = fact.submitted_on is not None and fact.submitted_on > due_by and state != "imported"
    else:
        late = overdue
    return Cell(fact.unit, fact.month, state, due_by, received, received or overdue, late, fact.submitted_on)


def _rate(cells: Iterable[Cell]) -> Rate:
    counted = [c for c in cells if c.due]
    return Rate(len(counted), sum(c.received for c in counted), sum(c.on_time for c in counted))


def build_grid(schedule: Mapping[str, Sequence[int]], facts: Iterable[CellFact], today: date,
               day: int = DEADLINE_DAY) -> Grid:
    """The grid of schedule (unit → the months it must report, in display order) at today."""
    known = {(f.unit, f.month): f for f in facts}
    units = list(schedule)
    months = sorted({m for ms in schedule.values() for m in ms})
    cells = {(u, m): judge(known.get((u, m), CellFact(u, m)), today, day) for u in units for m in schedule[u]}
    reminders = [
        Reminder(c.unit, c.month, c.state, c.deadline, (today - c.deadline).days)
        for c in cells.values() if c.due and not c.received
    ]
    order = {u: i for i, u in enumerate(units)}
    reminders.sort(key=lambda r: (-r.month, order[r.unit]))
    return Grid(
        units, months, cells,
        by_unit={u: _rate(cells[(u, m)] for m in schedule[u]) for u in units},
        by_month={m: _rate(c for (_, cm), c in cells.items() if cm == m) for m in months},
        total=_rate(cells.values()), reminders=reminders, today=today,
    )


# --- the store ------------------------------------------------------------------------


def local_today() -> date:
    return datetime.now(ZoneInfo(LOCAL_ZONE)).date()


def local_date(at: datetime) -> date:
    """Naive UTC (as the store keeps it) → the date in Asia/Shanghai."""
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(LOCAL_ZONE)).date()


def reporting_schedule(plan: Plan, year: int) -> dict[str, list[int]]:
    """Unit → the months of year it reports: the city (its city-only indicators) first, then
    every unit that is neither a group nor the city and has indicators to fill in."""
    months = [month_index(year, m) for m in range(1, 13) if plan.start_year <= year <= plan.end_year]
    units = [plan.city_unit] + [u for u in plan.org_units if u.kind not in ("group", "city")]
    return {u.name: list(months) for u in units if months and reporting_indicators(plan, u)}


def load_grid(session: Session, plan: Plan, year: int, *, today: date | None = None,
              day: int = DEADLINE_DAY) -> Grid:
    """Read submissions and imported values of year and judge every unit × month."""
    schedule = reporting_schedule(plan, year)
    first, last = month_index(year, 1), month_index(year, 12)
    labels = {month_label(m): m for m in range(first, last + 1)}
    facts: dict[tuple[str, int], CellFact] = {}
    subs = select(Submission.org_unit, Submission.period, Submission.status, Submission.submitted_at).where(
        Submission.plan_id == plan.id, Submission.period.in_(list(labels)))
    for unit, period, status, submitted_at in session.execute(subs):
        m = labels[period]
        facts[(unit, m)] = CellFact(unit, m, status, local_date(submitted_at) if submitted_at else None)
    imported = select(ValueRecord.org_unit, ValueRecord.first_month, ValueRecord.last_month).where(
        ValueRecord.plan_id == plan.id, ValueRecord.source == "reported", ValueRecord.submission_id.is_(None),
        ValueRecord.last_month >= first, ValueRecord.first_month <= last,
    ).distinct()
    for unit, lo, hi in session.execute(imported):
        for m in range(max(lo, first), min(hi, last) + 1):
            fact = facts.get((unit, m), CellFact(unit, m))
            facts[(unit, m)] = CellFact(unit, m, fact.status, fact.submitted_on, True)
    return build_grid(schedule, facts.values(), today or local_today(), day)
