"""Data collection workflow (填报审核): draft → submitted → approved, or returned with a comment.

A unit enters its figures for a month (web form or Excel template); they are checked row
by row like any import, then by the validation rules on submit. What counts for a
(unit, indicator, month) is the latest approved or imported value (`value`); the figures
of a draft, a submitted or a returned submission are kept apart (`submission_value`,
本期待审值) and shown beside it, and count only once approved. Approved figures are
locked; only the city may reopen them (the approved figures keep counting until the next
approval). Every step raises the submission's version in one conditional UPDATE (version
and status as the page saw them), so of two concurrent steps exactly one succeeds and the
other is refused with 409, on SQLite and PostgreSQL alike; each step writes its audit
event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hrss.audit.service import Origin, record_from
from hrss.audit.tables import AuditEvent
from hrss.monitoring.periods import Period, month, parse_period
from hrss.monitoring.rules import Finding, Rule, check
from hrss.monitoring.tables import PendingValue, Submission, SubmissionComment, ValueRecord
from hrss.monitoring.values import (
    ImportResult,
    NewValue,
    Problem,
    find_overlaps,
    store_values,
    validate_rows,
)
from hrss.plan.model import Indicator, OrgUnit, Plan
from hrss.plan.targets import has_target, in_typed_unit, typed_unit, unit_target
from hrss.plan.units import exact_shown, exact_text

STATUS_LABELS = {"draft": "草稿", "submitted": "待审核", "approved": "已审核", "returned": "已退回"}
EDITABLE = ("draft", "returned")
SOURCE_NAME = "网页填报"


class WorkflowError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Clash:
    indicator: str
    yours: str
    theirs: str


class Conflict(WorkflowError):
    """The submission changed since the page was loaded: nothing is overwritten."""

    def __init__(self, clashes: list[Clash]) -> None:
        super().__init__("数据已被他人修改，请核对后重新提交 (changed by someone else since you loaded it)", 409)
        self.clashes = clashes


@dataclass(frozen=True)
class EntryRow:
    indicator: Indicator
    unit: str  # the reporting unit the operator types in
    value: float | None  # in the reporting unit: the submission's figure, else the counted one
    previous: float | None  # counted, previous month
    numerator: float | None = None
    denominator: float | None = None
    counted: float | None = None  # what counts now for this month (已计入值)

    @property
    def text(self) -> str:
        """The figure as a form shows it to be typed over: every digit, "" when none."""
        return "" if self.value is None else exact_text(self.value, self.unit)

    @property
    def changed(self) -> bool:
        """The submission's figure differs from the one counted now."""
        if self.value is None or self.counted is None:
            return self.value != self.counted
        return abs(self.value - self.counted) > 1e-9 * max(1.0, abs(self.counted))


@dataclass
class SaveResult:
    submission: Submission | None
    problems: list[Problem] = field(default_factory=list)
    more: int = 0  # problems beyond those kept (以及另外 N 处)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def reporting_indicators(plan: Plan, unit: OrgUnit) -> list[Indicator]:
    """What a unit fills in: the city its city-only indicators, a district those it answers for."""
    if unit.kind == "city":
        return [i for i in plan.indicators if plan.decomposition_for(i.code) is None]
    return [i for i in plan.indicators if has_target(plan, i, unit)]


def monthly_period(raw: str) -> Period:
    period = parse_period(raw)
    if period.type != "month":
        raise WorkflowError("网页填报按月进行，期间应为 YYYY-MM (web entry is monthly: use YYYY-MM)", 422)
    return period


def get_submission(session: Session, plan: Plan, unit: str, period: str) -> Submission | None:
    q = select(Submission).where(Submission.plan_id == plan.id, Submission.org_unit == unit, Submission.period == period)
    return session.execute(q).scalar_one_or_none()


def _stored(session: Session, plan: Plan, unit: str, period: Period) -> dict[str, ValueRecord]:
    """The values that count for unit and period (approved or imported)."""
    q = select(ValueRecord).where(
        ValueRecord.plan_id == plan.id, ValueRecord.source == "reported", ValueRecord.org_unit == unit,
        ValueRecord.first_month == period.first, ValueRecord.last_month == period.last,
    )
    return {v.indicator_code: v for v in session.execute(q).scalars()}


def pending_values(session: Session, sub: Submission | None) -> dict[str, PendingValue]:
    """The submission's own figures (本期待审值), in the 表2 unit."""
    if sub is None:
        return {}
    q = select(PendingValue).where(PendingValue.submission_id == sub.id)
    return {v.indicator_code: v for v in session.execute(q).scalars()}


def _previous_month(period: Period) -> Period:
    return month((period.first - 1) // 12, (period.first - 1) % 12 + 1)


def entry_rows(session: Session, plan: Plan, unit: OrgUnit, period: Period) -> list[EntryRow]:
    """One row per indicator the unit reports: its submission's figure (or, with no
    submission yet, the counted one, so a form opens on what is known), the counted figure
    and last month's counted figure, all in the unit the operator types in."""
    sub = get_submission(session, plan, unit.name, period.label)
    counted = _stored(session, plan, unit.name, period)
    own: dict[str, PendingValue] | dict[str, ValueRecord] = pending_values(session, sub) if sub else counted
    previous = _stored(session, plan, unit.name, _previous_month(period))
    rows = []
    for ind in reporting_indicators(plan, unit):
        cur, prev, now_counted = own.get(ind.code), previous.get(ind.code), counted.get(ind.code)
        typed = [None if v is None else in_typed_unit(plan, ind, v.value) for v in (cur, prev, now_counted)]
        rows.append(EntryRow(
            ind, typed_unit(plan, ind), typed[0], typed[1],
            cur.numerator if cur else None, cur.denominator if cur else None, typed[2],
        ))
    return rows


def _step(session: Session, sub: Submission, status: str, origin: Origin, *, allowed: tuple[str, ...],
          comment: str | None = None, **also: object) -> None:
    """Move sub to status in one conditional UPDATE: only if its version in the store is still
    the one this session read and its status one of allowed. Of two concurrent steps exactly
    one matches; the other raises Conflict and changes nothing."""
    values: dict[str, object] = {
        "status": status, "version": Submission.version + 1, "updated_at": now(), "updated_by": _actor(origin), **also,
    }
    if comment is not None:
        values["comment"] = comment
    if status == "submitted":
        values["submitted_at"] = values["updated_at"]
        values["submitted_by"] = values["updated_by"]
    elif status != sub.status and status in ("approved", "returned"):
        values["decided_at"] = values["updated_at"]
    done = session.execute(
        update(Submission)
        .where(Submission.id == sub.id, Submission.version == sub.version, Submission.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        session.expire(sub)
        raise Conflict([])
    session.refresh(sub)


def _actor(origin: Origin) -> str:
    return origin.user.username if origin.user is not None else origin.user_name or "unknown"


def _check_version(sub: Submission, version: int | None) -> None:
    """The page was loaded at version (None: no page, a command-line caller)."""
    if version is not None and sub.version != version:
        raise Conflict([])


def save(
    session: Session, plan: Plan, unit: OrgUnit, period: Period, entries: dict[str, str], *,
    version: int | None, origin: Origin,
) -> SaveResult:
    """Check the values typed in a form (in the reporting unit) and store them as the draft."""
    sub = get_submission(session, plan, unit.name, period.label)
    if sub is not None and version is not None and sub.version != version:
        rows = {r.indicator.code: r for r in entry_rows(session, plan, unit, period)}
        clashes = [
            Clash(code, text, rows[code].text)
            for code, text in entries.items()
            if code in rows and text.strip() != rows[code].text
        ]
        raise Conflict(clashes)
    allowed = {i.code for i in reporting_indicators(plan, unit)}
    table = [(1, ["indicator", "org_unit", "period", "value"])]
    table += [(n, [code, unit.name, period.label, text]) for n, (code, text) in enumerate(entries.items(), start=2)
              if code in allowed and text.strip() != ""]
    return store_draft(session, plan, unit, period, validate_rows(plan, table, SOURCE_NAME), version=version, origin=origin)


def _editable(session: Session, plan: Plan, unit: OrgUnit, period: Period) -> Submission | None:
    sub = get_submission(session, plan, unit.name, period.label)
    if sub is not None and sub.status not in EDITABLE:
        raise WorkflowError(f"该期数据{STATUS_LABELS[sub.status]}，不能修改 (already {sub.status}: locked)", 409)
    return sub


def _new_submission(session: Session, plan: Plan, unit: OrgUnit, period: Period, origin: Origin) -> Submission:
    """The unit's first submission for period. Two first saves racing: the second one's
    INSERT meets the unique key and is refused as a conflict (409), never a 500."""
    at = now()
    sub = Submission(plan_id=plan.id, org_unit=unit.name, period=period.label, status="draft", version=0,
                     comment="", created_at=at, updated_at=at, updated_by=_actor(origin), submitted_at=None, decided_at=None)
    session.add(sub)
    try:
        session.flush()
    except IntegrityError as exc:  # the caller's transaction is rolled back with the Conflict
        raise Conflict([]) from exc
    return sub


def store_draft(
    session: Session, plan: Plan, unit: OrgUnit, period: Period, checked: ImportResult, *,
    version: int | None, origin: Origin,
) -> SaveResult:
    """Store checked values (form or uploaded template) as the unit's draft for period;
    store nothing when any row has an error. The values that count are not touched.

    version is the submission's version the page was loaded with; 0 means the page saw no
    submission yet (a first draft), None skips the check (a command-line caller)."""
    sub = _editable(session, plan, unit, period)
    if sub is not None:
        _check_version(sub, version)
    allowed = {i.code for i in reporting_indicators(plan, unit)}
    for v in checked.values:
        if v.indicator not in allowed:
            checked.add(Problem(checked.file, v.row, "indicator", "error",
                                            f"{unit.name} 不填报「{plan.indicator(v.indicator).name}」 (not reported by this unit)", "A"))
    if not checked.errors:
        for p in find_overlaps(session, plan, "reported", checked.values, checked.file):
            checked.add(p)
    if checked.errors:
        return SaveResult(sub, checked.problems, checked.more)
    if sub is None:
        sub = _new_submission(session, plan, unit, period, origin)
    # the version is taken first: a concurrent step on the same submission now waits or loses
    _step(session, sub, sub.status, origin, allowed=EDITABLE, saved_by=_actor(origin))
    before = as_typed(plan, {code: v.value for code, v in pending_values(session, sub).items()})
    session.execute(delete(PendingValue).where(PendingValue.submission_id == sub.id))
    if checked.values:
        session.execute(insert(PendingValue), [
            {"submission_id": sub.id, "indicator_code": v.indicator, "value": v.value,
             "numerator": v.numerator, "denominator": v.denominator}
            for v in checked.values
        ])
    after = as_typed(plan, {v.indicator: v.value for v in checked.values})
    record_from(session, origin, action="value.saved", object_type="submission", object_id=sub.id,
                before={"org_unit": unit.name, "period": period.label, "values": before},
                after={"org_unit": unit.name, "period": period.label, "values": after, "source": checked.file})
    return SaveResult(sub, checked.problems, checked.more)


def run_rules(session: Session, plan: Plan, unit: OrgUnit, period: Period, rules: list[Rule]) -> list[Finding]:
    """The rules over the submission's own figures, against last month's counted ones."""
    current = pending_values(session, get_submission(session, plan, unit.name, period.label))
    previous = _stored(session, plan, unit.name, _previous_month(period))
    out: list[Finding] = []
    for code, v in current.items():
        ind = plan.indicator(code)
        target = unit_target(plan, ind, unit)
        annual = target.annual.get(period.year) if target else None
        before = in_typed_unit(plan, ind, previous[code].value) if code in previous else None
        out += check(rules, ind, in_typed_unit(plan, ind, v.value), previous=before,
                     annual_target=in_typed_unit(plan, ind, annual) if annual else None, unit=typed_unit(plan, ind))
    return out


def submit(
    session: Session, plan: Plan, unit: OrgUnit, period: Period, *, version: int | None, comment: str,
    rules: list[Rule], origin: Origin,
) -> list[Finding]:
    """Hand the draft in for review. Returns the rule findings; raises when one blocks it."""
    sub = get_submission(session, plan, unit.name, period.label)
    if sub is None or not pending_values(session, sub):
        raise WorkflowError("尚未填报任何数据，不能提交 (nothing entered yet)")
    if sub.status not in EDITABLE:
        raise WorkflowError(f"该期数据{STATUS_LABELS[sub.status]}，不能重复提交 (already {sub.status})", 409)
    _check_version(sub, version)
    findings = run_rules(session, plan, unit, period, rules)
    blocking = [f.message for f in findings if f.severity == "error"]
    if not comment.strip():
        blocking += [f"{f.message}；须填写说明 (a comment is required)" for f in findings if f.severity == "comment_required"]
    if blocking:
        raise WorkflowError("；".join(blocking), 422)
    _step(session, sub, "submitted", origin, allowed=EDITABLE, comment=comment.strip())
    _comment(session, sub, "submitted", comment, origin)
    record_from(session, origin, action="submission.submitted", object_type="submission", object_id=sub.id,
                before={"status": "draft"}, after={"status": "submitted", "comment": sub.comment})
    return findings


def decide(session: Session, plan: Plan, sub: Submission, action: str, *, version: int | None, comment: str,
           origin: Origin) -> None:
    """approve | return (with a comment) a submitted period; reopen an approved one.

    Approving copies the submission's figures into the values that count, replacing the counted ones of the same indicator and month."""
    _check_version(sub, version)
    moves = {"approve": ("submitted", "approved"), "return": ("submitted", "returned"), "reopen": ("approved", "returned")}
    if action not in moves:
        raise WorkflowError(f"未知操作 (unknown action): {action}", 422)
    source, target = moves[action]
    if sub.status != source:
        raise WorkflowError(f"当前状态为「{STATUS_LABELS[sub.status]}」，不能执行此操作 (not allowed in state {sub.status})", 409)
    if action in ("return", "reopen") and not comment.strip():
        raise WorkflowError("退回须填写意见 (a comment is required to return)", 422)
    if action == "approve" and _actor(origin) in editors(session, sub):
        raise WorkflowError("四眼原则：填报或报送本期数据的账户不能审核通过，请由另一位审核员审核 "
                            "(four eyes: the account that entered or submitted these figures cannot approve them)", 403)
    before = sub.status
    _step(session, sub, target, origin, allowed=(source,))
    _comment(session, sub, {"approve": "approved", "return": "returned", "reopen": "reopened"}[action], comment, origin)
    counted: dict[str, float] = {}
    if action == "approve":
        counted = _count(session, plan, sub)
    record_from(session, origin, action=f"submission.{action}", object_type="submission", object_id=sub.id,
                before={"status": before}, after={"status": target, "comment": comment.strip(), **({"counted": as_typed(plan, counted)} if counted else {})})


def editors(session: Session, sub: Submission) -> set[str]:
    """Every account that ever saved or handed in figures of this submission, in any round.

    None of them may approve it (四眼原则). Not only the last saver: an account that types
    the figures, has a colleague save them again unchanged and then approves them would
    otherwise have approved its own figures. The audit trail is the record of who did what
    (append-only, written in the same transaction as each step), so it also covers
    submissions from before `saved_by` and `submitted_by` existed."""
    q = (select(AuditEvent.user_name).distinct()
         .where(AuditEvent.object_type == "submission", AuditEvent.object_id == str(sub.id),
                AuditEvent.action.in_(("value.saved", "submission.submitted"))))
    found = set(session.execute(q).scalars())
    return found | {name for name in (sub.saved_by, sub.submitted_by) if name}


def _comment(session: Session, sub: Submission, action: str, text: str, origin: Origin) -> None:
    author_role = str(getattr(origin.user, "role", ""))
    session.add(SubmissionComment(submission_id=sub.id, created_at=now(), author=_actor(origin),
                                  author_role=author_role, action=action, text=text.strip()))


def thread(session: Session, sub: Submission | None) -> list[SubmissionComment]:
    """The submission's steps with their comments, oldest first (报送说明 and 审核意见 side by side)."""
    if sub is None:
        return []
    q = select(SubmissionComment).where(SubmissionComment.submission_id == sub.id)
    return list(session.execute(q.order_by(SubmissionComment.id)).scalars())


def _count(session: Session, plan: Plan, sub: Submission) -> dict[str, float]:
    """The approved submission's figures become the counted values of its month."""
    period = monthly_period(sub.period)
    values = [
        NewValue(code, sub.org_unit, period, v.value, v.numerator, v.denominator, 0)
        for code, v in sorted(pending_values(session, sub).items())
    ]
    store_values(session, plan, values, source="reported", source_name=f"{SOURCE_NAME} {sub.org_unit} {sub.period}",
                 submission_id=sub.id)
    return {v.indicator: v.value for v in values}


def as_typed(plan: Plan, values: dict[str, float]) -> dict[str, str]:
    """Figures (表2 unit) as the operator typed them, every digit kept, for the audit log:
    {"I01": "3100 人", "I07": "95.456%"}."""
    out = {}
    for code, v in values.items():
        ind = plan.indicator(code)
        unit = typed_unit(plan, ind)
        out[code] = exact_shown(in_typed_unit(plan, ind, v), unit)
    return out


def pending(session: Session, plan: Plan, *, statuses: tuple[str, ...] = ("submitted",)) -> list[Submission]:
    q = select(Submission).where(Submission.plan_id == plan.id, Submission.status.in_(statuses))
    return list(session.execute(q.order_by(Submission.updated_at.desc())).scalars())
