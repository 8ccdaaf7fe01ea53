"""数据会审 page and API: what districts reported beside what the real-name ledgers give
(实名制自动统计, `hrss stats compute`), per defined indicator and org unit.

The comparison itself is `hrss.stats.service.reconcile`, the same as `hrss stats reconcile`
and the monthly briefing's section; only aggregated figures are shown, never a person.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hrss.auth.roles import Action
from hrss.monitoring.periods import month_label
from hrss.plan.model import Plan
from hrss.stats.definitions import load_definitions
from hrss.stats.service import Reconciliation, computed_from_sample, reconcile
from hrss.web.api import ERRORS
from hrss.web.deps import AsOfParam, CacheDep, LangDep, PlanDep, SessionDep, resolve_as_of
from hrss.web.i18n import text_in
from hrss.web.pages import render
from hrss.web.security import ApiUser, PageUser, require
from hrss.web.views import EvaluationCache

router = APIRouter()

FlaggedParam = Annotated[bool, Query(description="只看超出容差的 (only those beyond the tolerance)")]

RECONCILE_TEXT: dict[str, tuple[str, str]] = {
    "reconcile": ("数据会审", "Reconciliation"),
    "reconcile_title": ("数据会审：上报值与实名制自动统计值", "Reconciliation: reported vs computed from the real-name ledgers"),
    "rule": ("流量指标比较 1 月至当月累计，存量指标比较当月末；计数相差超过计算值的 {pct:g}%、比率相差超过 {pp:g} 个百分点，"
             "或只有一方有数的，标记为需核实。",
             "Flows are compared year to date, stocks at the month's end. A count differing by more than {pct:g}% of the "
             "computed value, a rate by more than {pp:g} points, or a value on one side only is flagged."),
    "none": ("尚无实名制自动统计结果：请先运行 hrss stats compute --as-of {month}。",
             "No computed values yet: run hrss stats compute --as-of {month} first."),
    "compared": ("比较项", "Compared"),
    "flagged": ("需核实", "Flagged"),
    "only_flagged": ("只看需核实", "Flagged only"),
    "indicator": ("指标", "Indicator"),
    "org_unit": ("地区", "Area"),
    "basis": ("比较口径", "Basis"),
    "reported": ("上报值", "Reported"),
    "computed": ("计算值", "Computed"),
    "difference": ("差异", "Difference"),
    "relative": ("相对差异", "Relative"),
    "ok": ("一致", "agrees"),
    "sampled": ("计算值为样本推算：所用实名制台账是全市记录的抽样，各计数已按抽样比例放大为全市数（比率不受影响）。",
                "Computed values are estimates from a sample: the real-name ledgers used hold a sample of the city's "
                "records, and every count is scaled up by its sampling fraction (rates are unaffected)."),
}


def rt(key: str, lang: str, **values: object) -> str:
    return text_in(RECONCILE_TEXT, key, lang, **values)


def _rows(request: Request, plan: Plan, cache: EvaluationCache, session: Session, as_of: int) -> tuple[Reconciliation, ...]:
    """The comparison as of a month, made once per data version (an import, an approval or a
    stats compute moves it) and shared by the page and the API."""
    settings = request.app.state.settings

    def build() -> tuple[Reconciliation, ...]:
        return tuple(reconcile(session, plan, load_definitions(plan), as_of,
                               tolerance=settings.reconcile_tolerance, tolerance_pp=settings.reconcile_tolerance_pp))  # fmt: skip

    return cache.derived(session, ("reconcile", as_of), build)


@router.get("/reconcile", response_class=HTMLResponse, include_in_schema=False)
def reconcile_page(request: Request, plan: PlanDep, cache: CacheDep, session: SessionDep, lang: LangDep, me: PageUser,
                   as_of: AsOfParam = None, flagged: FlaggedParam = False) -> Response:  # fmt: skip
    require(me, Action.VIEW)
    month = resolve_as_of(as_of, cache, session)
    rows = _rows(request, plan, cache, session, month)
    settings = request.app.state.settings
    return render(request, "reconcile.html", lang, me, {
        "rt": rt, "as_of": month_label(month), "rows": [r for r in rows if r.flagged or not flagged],
        "compared": len(rows), "flagged_count": sum(r.flagged for r in rows), "only_flagged": flagged,
        "computed_any": any(r.computed is not None for r in rows), "sampled": computed_from_sample(session, plan),
        "pct": settings.reconcile_tolerance * 100, "pp": settings.reconcile_tolerance_pp,
    })  # fmt: skip


@router.get("/api/v1/reconcile", tags=["plan and evaluation 规划与评估"], responses=ERRORS,
            summary="数据会审 (reported vs computed from the real-name ledgers, by indicator and org unit)")
def reconcile_api(request: Request, plan: PlanDep, cache: CacheDep, session: SessionDep, me: ApiUser,
                  as_of: AsOfParam = None, flagged: FlaggedParam = False) -> dict[str, Any]:  # fmt: skip
    require(me, Action.VIEW)
    month = resolve_as_of(as_of, cache, session)
    rows = _rows(request, plan, cache, session, month)
    settings = request.app.state.settings
    return {
        "as_of": month_label(month),
        "tolerance": settings.reconcile_tolerance, "tolerance_pp": settings.reconcile_tolerance_pp,
        "compared": len(rows), "flagged": sum(r.flagged for r in rows),
        "rows": [r.as_json() for r in rows if r.flagged or not flagged],
    }  # fmt: skip
