"""JSON API under /api/v1: everything the pages show, for machine clients."""

from __future__ import annotations

import csv
import html
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.orm import Session

from hrss.cells import safe_cell
from hrss.monitoring.periods import month_label
from hrss.monitoring.workflow import typed_unit
from hrss.plan.units import factor, number_text
from hrss.web.deps import (
    AsOfParam,
    CacheDep,
    ExportDep,
    PlanDep,
    SessionDep,
    as_of_month,
    bad_request,
    read_version,
    resolve_as_of,
    shared_view,
)
from hrss.web.security import ApiUser, PageUser, api_user, require


class ApiError(BaseModel):
    """Every error answer: the message in Chinese and in English."""

    message: str
    message_en: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ApiError, "description": text}
    for code, text in ((401, "未登录或令牌无效 (not signed in)"), (403, "无权访问 (not allowed)"),
                       (404, "不存在 (not found)"), (422, "参数无效 (invalid parameters)"))
}
router = APIRouter(tags=["plan and evaluation 规划与评估"], dependencies=[Depends(api_user)], responses=ERRORS)

CSV_COLUMNS = ("indicator_code", "indicator", "org_unit", "as_of", "unit", "actual", "expected", "target",
               "completion", "time_elapsed", "gap_pp", "status", "rank")


@router.get("/plan", summary="规划数据 (the plan as one JSON object)")
def get_plan(exported: ExportDep) -> dict[str, Any]:
    return exported


@router.get("/evaluation", summary="评估结果 (evaluation of every indicator × org unit)", response_model=dict[str, Any])
async def get_evaluation(
    request: Request, plan: PlanDep, cache: CacheDep, as_of: AsOfParam = None,
    org: Annotated[str | None, Query(max_length=50, description="组织单位名称")] = None,
    indicator: Annotated[str | None, Query(max_length=10, description="指标代码")] = None,
) -> Response:
    version = read_version(request)
    month = await as_of_month(request, as_of, version)
    unit = None
    if org is not None:
        unit = plan.org_unit(org)
        if unit is None:
            raise bad_request(f"未知组织单位: {org}", f"unknown org unit: {org}", 404)

    def build(session: Session) -> bytes:
        snap = cache.snapshot(session, month)
        rows = snap.evaluations
        if unit is not None:
            rows = [e for e in rows if e.org_unit == unit.name]
        if indicator is not None:
            rows = [e for e in rows if e.indicator_code == indicator]
        return _JSON.dump_json({"as_of": month_label(month), "simulated": snap.simulated, "results": [e.as_json() for e in rows]})

    if indicator is not None and getattr(plan.find_indicator(indicator), "code", None) != indicator:
        indicator = "-"  # not a code: selects nothing; one cache entry for all of them
    return _json(await shared_view(request, version, ("api/evaluation", month, unit.name if unit else None, indicator), build))


@router.get("/indicators/{code}", summary="单个指标 (one indicator: by org unit and monthly trend)", response_model=dict[str, Any])
async def get_indicator(code: str, request: Request, plan: PlanDep, exported: ExportDep, cache: CacheDep,
                        as_of: AsOfParam = None) -> Response:
    ind = _indicator(plan, code)
    version = read_version(request)
    month = await as_of_month(request, as_of, version)

    def build(session: Session) -> bytes:
        snap = cache.snapshot(session, month)
        return _JSON.dump_json({
            "indicator": _indicator_json(exported, ind.code),
            "as_of": month_label(month),
            "simulated": snap.simulated,
            "by_org_unit": [e.as_json() for e in snap.for_indicator(ind.code)],
            "trend": snap.trend(plan, ind),
        })

    return _json(await shared_view(request, version, ("api/indicator", ind.code, month), build))


@router.get("/indicators/{code}/evaluation.csv", summary="下载分地区评估 (CSV)", response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, UTF-8 with BOM"}})
def get_indicator_csv(code: str, plan: PlanDep, cache: CacheDep, session: SessionDep, me: ApiUser, as_of: AsOfParam = None) -> Response:
    require(me, "export")
    ind = _indicator(plan, code)
    snap = cache.snapshot(session, resolve_as_of(as_of, cache, session))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    unit = typed_unit(plan, ind)  # the unit districts report in (人), figures rounded to it
    f = factor(ind.unit, unit)
    for e in snap.for_indicator(ind.code):
        data = e.as_json()
        data["unit"] = unit
        for c in ("actual", "expected", "target"):
            data[c] = None if data[c] is None else number_text(data[c] * f, unit)
        for c in ("completion", "time_elapsed", "gap_pp"):
            data[c] = None if data[c] is None else round(data[c], 4)
        writer.writerow([safe_cell(data[c]) for c in CSV_COLUMNS])  # hrss.cells
    return Response(
        "\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{ind.code}-{snap.as_of}.csv"'},
    )


# JSON bodies are encoded once per data version and cached: the same bytes FastAPI would
# make for the declared response_model (pydantic's encoder), the same for every caller.
_JSON: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _indicator_json(exported: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in exported["indicators"] + exported["annex_indicators"] if i["code"] == code)


def _indicator(plan: Any, code: str) -> Any:
    ind = plan.find_indicator(code)
    if ind is None:
        raise bad_request(f"未知指标: {code}", f"unknown indicator: {code}", 404)
    return ind




# --- the API's description: signed-in users only ------------------------------------------
# The document names every route and parameter of a platform holding personal data: like the
# API itself it is for a signed-in person (the docs page fetches it with the session cookie)
# or a token holder, not for anyone on the network.

docs_router = APIRouter(include_in_schema=False)

SWAGGER_UI = "/static/vendor/swagger-ui/"  # swagger-ui-dist from npm (scripts/vendor-swagger-ui)
_DOCS_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · 接口文档 (API docs)</title>
  <link rel="stylesheet" href="{ui}swagger-ui.css">
  <link rel="icon" href="data:,">
</head>
<body>
  <div id="swagger-ui" data-url="/openapi.json"></div>
  <script src="{ui}swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""


@docs_router.get("/openapi.json", dependencies=[Depends(api_user)])
async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@docs_router.get("/api/docs", response_class=HTMLResponse)
async def api_docs(request: Request, _: PageUser) -> HTMLResponse:
    """Swagger UI from the vendored copy, started by static/api-docs.js: no CDN, no inline script."""
    return HTMLResponse(_DOCS_PAGE.format(title=html.escape(request.app.title), ui=SWAGGER_UI))
