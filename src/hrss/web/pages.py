"""Server-rendered pages (Chinese by default, English with ?lang=en)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from hrss.monitoring.completeness import local_today
from hrss.monitoring.periods import month_label
from hrss.web.deps import (
    AsOfParam,
    CacheDep,
    LangDep,
    PlanDep,
    SessionDep,
    as_of_month,
    bad_request,
    read_version,
    resolve_as_of,
    shared_view,
)
from hrss.web.i18n import measure_help
from hrss.web.indicator_text import (
    aggregation_text,
    kind_label,
    measure_text,
    note_text,
    target_qualifier,
)
from hrss.web.security import PageUser, Principal

router = APIRouter(include_in_schema=False)


def templates_of(request: Request) -> Any:
    """The app's templates (app.py installs their globals and the `mask_text` filter)."""
    return request.app.state.templates


def render(request: Request, name: str, lang: str, me: Principal, context: dict[str, Any]) -> Response:
    templates = templates_of(request)
    response = templates.TemplateResponse(request, name, {"lang": lang, "plan": request.app.state.plan, "me": me, **context})
    return with_lang_cookie(request, response, lang)


def with_lang_cookie(request: Request, response: Response, lang: str) -> Response:
    """Remember a language chosen with ?lang= for the next pages."""
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


def render_page(request: Request, name: str, lang: str, me: Principal, context: dict[str, Any]) -> str:
    """render's page as text, for EvaluationCache.page: what render gives the template
    (without `request`, which the page must not show)."""
    return _render_text(request, name, lang, {"me": me, **context})


def _render_text(request: Request, name: str, lang: str, context: dict[str, Any]) -> str:
    """A template rendered with the language, the plan and context (no `request`)."""
    template = templates_of(request).get_template(name)
    return template.render({"lang": lang, "plan": request.app.state.plan, **context})


@dataclass(frozen=True)
class Section:
    """A rendered part of a page that is the same for every user who may see it."""

    html: Markup
    simulated: bool


def render_shared(request: Request, name: str, lang: str, context: dict[str, Any]) -> Markup:
    """Render a template that holds no per-user data: it gets no `me` and no `request`,
    so it may be cached and shown to every user."""
    return Markup(_render_text(request, name, lang, context))


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, plan: PlanDep, cache: CacheDep, lang: LangDep, me: PageUser, as_of: AsOfParam = None) -> Response:
    version = read_version(request)
    month = await as_of_month(request, as_of, version)
    deadline_day = request.app.state.settings.report_deadline_day

    def build(session: Session) -> Section:
        snap = cache.snapshot(session, month)
        cards = [e for e in snap.city(plan) if plan.indicator(e.indicator_code).source == "表2"]
        grid = cache.reporting(session, month // 12, deadline_day)
        cells = [c for c in (grid.cell(u, month) for u in grid.units) if c is not None]
        return Section(render_shared(request, "_dashboard_body.html", lang, {
            "reporting": grid.by_month.get(month), "year": month // 12,
            "not_received": [c for c in cells if c.due and not c.received],
            "as_of": month_label(month), "cards": cards, "warnings": snap.warnings()[:30],
            "annex": [e for e in snap.city(plan) if plan.indicator(e.indicator_code).source != "表2"],
        }), snap.simulated)

    # the reporting panel depends on today's date too (deadlines pass)
    key = ("dashboard", month, lang, local_today())
    body = await shared_view(request, version, key, build)
    page = cache.page((*key, *me.view_key), version, lambda: render_page(
        request, "dashboard.html", lang, me, {"body": body.html, "simulated": body.simulated}))
    return with_lang_cookie(request, HTMLResponse(page), lang)


@router.get("/indicators/{code}", response_class=HTMLResponse)
def indicator_page(code: str, request: Request, plan: PlanDep, cache: CacheDep, session: SessionDep, lang: LangDep, me: PageUser, as_of: AsOfParam = None) -> Response:
    ind = plan.find_indicator(code)
    if ind is None:
        raise bad_request(f"未知指标: {code}", f"unknown indicator: {code}", 404)
    month = resolve_as_of(as_of, cache, session)
    snap = cache.snapshot(session, month)
    rows = snap.for_indicator(ind.code)
    ranked = sorted((e for e in rows if e.org_unit != plan.city_unit.name), key=lambda e: (e.rank or 999, e.org_unit))
    city = next((e for e in rows if e.org_unit == plan.city_unit.name), None)
    return render(request, "indicator.html", lang, me, {
        "as_of": month_label(month), "ind": ind, "city": city,
        "units": ranked, "trend": _rounded(snap.trend(plan, ind), ind.decimals), "simulated": snap.simulated,
        "help": measure_help(ind.kind.value, lang), "kind_label": kind_label(ind, lang),
        "decomposition": plan.decomposition_for(ind.code),
        "target_qualifier": target_qualifier(ind, lang), "note": note_text(ind.note, lang),
        "aggregation": aggregation_text(ind, plan.start_year, lang),
        "measure": measure_text(city.progress_measure, lang) if city else "",
    })


def _rounded(trend: list[dict[str, Any]], places: int) -> list[dict[str, Any]]:
    """The trend's figures at the indicator's display precision, as the page shows them."""
    return [{k: round(v, places) if isinstance(v, float) else v for k, v in point.items()} for point in trend]


@router.get("/org-units/{name}", response_class=HTMLResponse)
def org_unit_page(name: str, request: Request, plan: PlanDep, cache: CacheDep, session: SessionDep, lang: LangDep, me: PageUser, as_of: AsOfParam = None) -> Response:
    unit = plan.org_unit(name)
    if unit is None:
        raise bad_request(f"未知组织单位: {name}", f"unknown org unit: {name}", 404)
    month = resolve_as_of(as_of, cache, session)
    snap = cache.snapshot(session, month)
    tables = [(d, d.row(unit.name)) for d in plan.decompositions if d.row(unit.name) is not None]
    return render(request, "org_unit.html", lang, me, {
        "as_of": month_label(month), "unit": unit, "rows": snap.for_unit(unit.name), "tables": tables,
        "simulated": snap.simulated,
    })
