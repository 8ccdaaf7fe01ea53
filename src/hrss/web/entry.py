"""Data entry (填报) and review (审核) pages. The workflow itself lives in monitoring/workflow.py."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, FastAPI, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hrss.audit.service import record_from
from hrss.auth.roles import can
from hrss.monitoring import workflow as wf
from hrss.monitoring.readers import InputFileError
from hrss.monitoring.rules import load_rules
from hrss.monitoring.tables import Submission
from hrss.monitoring.template import build_template, read_upload
from hrss.plan.model import OrgUnit, Plan
from hrss.web.deps import LangDep, PlanDep, SessionDep, bad_request, clean_text
from hrss.web.pages import render
from hrss.web.security import PageUser, Principal, check_csrf, require

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=1000)]

# Uploads are parsed in threads of their own budget, not the pool every page's database
# work shares: a burst of hostile files can hold at most UPLOAD_WORKERS threads (each for
# at most the template's time budget), and an upload that finds them busy for
# UPLOAD_WAIT_SECONDS is told to try again instead of queueing with its session open.
UPLOAD_WORKERS = 2
UPLOAD_WAIT_SECONDS = 5.0
BUSY = "正在处理其他上传，请稍后再试 (other uploads are being processed: try again shortly)"


def _upload_limiter(app: FastAPI) -> anyio.CapacityLimiter:
    limiter = getattr(app.state, "upload_limiter", None)
    if limiter is None:  # made on first use, inside the event loop it belongs to
        limiter = app.state.upload_limiter = anyio.CapacityLimiter(UPLOAD_WORKERS)
    return limiter


def _unit(plan: Plan, me: Principal, org: str | None) -> OrgUnit:
    name = org or me.user.org_unit or plan.city_unit.name
    unit = plan.org_unit(name)
    if unit is None or unit.kind == "group":
        raise bad_request(f"不能为「{name}」填报 (not a reporting unit)", "not a reporting unit", 404)
    return unit


def _period(raw: str | None, plan: Plan) -> Any:
    try:
        return wf.monthly_period(raw or f"{plan.end_year}-12")
    except (wf.WorkflowError, ValueError) as exc:
        raise bad_request(getattr(exc, "message", str(exc)), "invalid period", 422) from exc


def _entry_page(request: Request, lang: str, me: Principal, session: Any, plan: Plan, unit: OrgUnit, period: Any,
                *, problems: list[Any] | None = None, more: int = 0, message: str | None = None, clashes: list[Any] | None = None,
                status: int = 200, typed: dict[str, str] | None = None, comment: str = "") -> Response:
    sub = wf.get_submission(session, plan, unit.name, period.label)
    units = [u for u in plan.org_units if u.kind != "group" and can(me.user, "enter", u.name)]
    response = render(request, "entry.html", lang, me, {
        "unit": unit, "period": period.label, "rows": wf.entry_rows(session, plan, unit, period), "sub": sub,
        "status_label": wf.STATUS_LABELS.get(sub.status, "未填报") if sub else "未填报",
        "editable": (sub is None or sub.status in wf.EDITABLE) and can(me.user, "enter", unit.name),
        "can_submit": can(me.user, "submit", unit.name), "units": units, "problems": problems or [], "more": more,
        "message": message, "clashes": clashes or [], "typed": typed or {}, "typed_comment": comment,
        "thread": wf.thread(session, sub), "simulated": False,
    })
    response.status_code = status
    return response


@router.get("/entry", response_class=HTMLResponse)
def entry_form(request: Request, plan: PlanDep, session: SessionDep, lang: LangDep, me: PageUser,
               org: str | None = None, period: str | None = None) -> Response:
    unit = _unit(plan, me, org)
    if not (can(me.user, "enter", unit.name) or can(me.user, "view_unapproved", unit.name)):
        require(me, "enter", unit.name)
    return _entry_page(request, lang, me, session, plan, unit, _period(period, plan))


@router.post("/entry", response_class=HTMLResponse)
async def entry_save(request: Request, plan: PlanDep, lang: LangDep, me: PageUser) -> Response:
    form = await request.form()
    check_csrf(me, str(form.get("csrf_token", "")))
    unit = _unit(plan, me, str(form.get("org", "")) or None)
    period = _period(str(form.get("period", "")), plan)
    action = str(form.get("action", "save"))
    require(me, "submit" if action == "submit" else "enter", unit.name)
    entries = {clean_text(k[len("value__"):])[:10]: clean_text(str(v))[:100] for k, v in form.items() if k.startswith("value__")}
    version = _int(form.get("version"))
    comment = clean_text(str(form.get("comment", "")))[:1000]
    origin = me.origin()
    with request.app.state.sessions() as session:
        try:
            with session.begin():
                if entries:
                    result = wf.save(session, plan, unit, period, entries, version=version, origin=origin)
                    if result.errors:
                        raise _Refused(result.problems, result.more)
                    version = result.submission.version if result.submission else version
                if action == "submit":
                    wf.submit(session, plan, unit, period, version=version, comment=comment,
                              rules=load_rules(request.app.state.settings.rules_file), origin=origin)
        except _Refused as exc:
            return _entry_page(request, lang, me, session, plan, unit, period, problems=exc.problems, more=exc.more,
                               status=400, typed=entries, comment=comment)
        except wf.Conflict as exc:
            return _entry_page(request, lang, me, session, plan, unit, period, clashes=exc.clashes,
                               message=exc.message, status=409, typed=entries, comment=comment)
        except wf.WorkflowError as exc:
            return _entry_page(request, lang, me, session, plan, unit, period, message=exc.message, status=exc.status,
                               typed=entries, comment=comment)
    return RedirectResponse(f"/entry?org={unit.name}&period={period.label}&done={action}", status_code=303)


@router.get("/entry/template.xlsx")
def entry_template(request: Request, plan: PlanDep, me: PageUser, org: str | None = None, period: str | None = None) -> Response:
    unit = _unit(plan, me, org)
    require(me, "enter", unit.name)
    the_period = _period(period, plan)
    with request.app.state.sessions.begin() as session:
        body = build_template(plan, unit, the_period, wf.entry_rows(session, plan, unit, the_period))
        record_from(session, me.origin(), action="template.downloaded", object_type="submission", object_id=None,
                    after={"org_unit": unit.name, "period": the_period.label})
    name = f"填报模板_{unit.name}_{the_period.label}.xlsx"
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.post("/entry/upload", response_class=HTMLResponse)
async def entry_upload(request: Request, plan: PlanDep, lang: LangDep, me: PageUser, file: UploadFile,
                       csrf_token: Text, org: Text, period: Text, version: Annotated[str, Form(max_length=12)] = "") -> Response:
    check_csrf(me, csrf_token)
    unit = _unit(plan, me, org)
    require(me, "enter", unit.name)
    the_period = _period(period, plan)
    limit = request.app.state.settings.upload_max_bytes
    data = await file.read(limit + 1)
    name = Path(file.filename or "upload.xlsx").name[:100]
    with request.app.state.sessions() as session:
        message = None
        if len(data) > limit:
            message = f"文件超过 {limit // 1024 // 1024} MB 上限 (file larger than the limit)"
        elif not name.lower().endswith(".xlsx"):
            message = "只接受 .xlsx 文件（不接受 .xlsm、.xls、.csv） (only .xlsx is accepted)"
        if message:
            return _entry_page(request, lang, me, session, plan, unit, the_period, message=message, status=400)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.xlsx"
            path.write_bytes(data)
            limiter = _upload_limiter(request.app)
            try:
                with anyio.fail_after(UPLOAD_WAIT_SECONDS):
                    await limiter.acquire()
            except TimeoutError:
                return _entry_page(request, lang, me, session, plan, unit, the_period, message=BUSY, status=503)
            try:  # parsed in a worker thread, within the template's limits: the event loop keeps serving
                checked = await anyio.to_thread.run_sync(
                    lambda: read_upload(plan, unit, the_period, path, name, rows=len(wf.reporting_indicators(plan, unit))),
                    limiter=anyio.CapacityLimiter(1))  # its own thread: the slot above is the budget
            except InputFileError as exc:
                return _entry_page(request, lang, me, session, plan, unit, the_period, message=str(exc), status=400)
            finally:
                limiter.release()
        try:
            with session.begin():
                result = wf.store_draft(session, plan, unit, the_period, checked, version=_int(version), origin=me.origin())
                if result.errors:
                    raise _Refused(result.problems, result.more)
        except _Refused as exc:
            return _entry_page(request, lang, me, session, plan, unit, the_period, problems=exc.problems, more=exc.more,
                               status=400)
        except wf.WorkflowError as exc:
            return _entry_page(request, lang, me, session, plan, unit, the_period, message=exc.message, status=exc.status)
    return RedirectResponse(f"/entry?org={quote(unit.name)}&period={the_period.label}&done=upload", status_code=303)


class _Refused(Exception):
    def __init__(self, problems: list[Any], more: int = 0) -> None:
        self.problems = problems
        self.more = more


def _int(raw: object) -> int | None:
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


@router.get("/review", response_class=HTMLResponse)
def review_list(request: Request, plan: PlanDep, session: SessionDep, lang: LangDep, me: PageUser) -> Response:
    require(me, "review")
    subs = wf.pending(session, plan, statuses=("submitted", "returned", "approved"))
    return render(request, "review.html", lang, me, {"subs": subs, "labels": wf.STATUS_LABELS, "simulated": False})


@router.get("/review/{sub_id}", response_class=HTMLResponse)
def review_one(sub_id: int, request: Request, plan: PlanDep, session: SessionDep, lang: LangDep, me: PageUser) -> Response:
    require(me, "review")
    return _review_page(request, lang, me, session, plan, _submission(session, plan, sub_id))


def _review_page(request: Request, lang: str, me: Principal, session: Any, plan: Plan, sub: Submission, *,
                 message: str | None = None, comment: str = "", status: int = 200) -> Response:
    unit = _unit(plan, me, sub.org_unit)
    period = _period(sub.period, plan)
    rows = wf.entry_rows(session, plan, unit, period)
    findings = wf.run_rules(session, plan, unit, period, load_rules(request.app.state.settings.rules_file))
    flagged: dict[str, list[Any]] = {}
    for f in findings:
        flagged.setdefault(f.indicator, []).append(f)
    response = render(request, "review_one.html", lang, me, {
        "sub": sub, "unit": unit, "rows": rows, "labels": wf.STATUS_LABELS, "findings": findings, "flagged": flagged,
        "missing": sum(r.value is None for r in rows),
        "thread": wf.thread(session, sub), "simulated": False, "message": message, "typed_comment": comment,
    })
    response.status_code = status
    return response


@router.post("/review/{sub_id}", response_class=HTMLResponse)
def review_decide(sub_id: int, request: Request, plan: PlanDep, lang: LangDep, me: PageUser, csrf_token: Text, action: Text,
                  version: Annotated[int, Form()], comment: Annotated[str, Form(max_length=1000)] = "") -> Response:
    check_csrf(me, csrf_token)
    require(me, "reopen" if action == "reopen" else "review")
    comment = clean_text(comment)
    with request.app.state.sessions() as session:
        try:
            with session.begin():
                sub = _submission(session, plan, sub_id)
                wf.decide(session, plan, sub, action, version=version, comment=comment, origin=me.origin())
        except wf.WorkflowError as exc:  # rolled back: the page shows the submission as it is now
            return _review_page(request, lang, me, session, plan, _submission(session, plan, sub_id),
                                message=exc.message, comment=comment, status=exc.status)
    return RedirectResponse(f"/review/{sub_id}", status_code=303)


def _submission(session: Any, plan: Plan, sub_id: int) -> Submission:
    sub = session.get(Submission, sub_id)
    if sub is None or sub.plan_id != plan.id:
        raise bad_request("没有这条报送记录", "no such submission", 404)
    return sub

