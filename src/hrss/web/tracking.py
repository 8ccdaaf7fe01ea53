"""Tracking pages: reporting completeness and timeliness (报送情况), the commitments ledger
(任务台账) and reports (生成与下载报告).

The logic lives elsewhere: `monitoring/completeness.py` judges the reporting grid,
`reports/ledger.py` judges the commitments, `reports/build.py` writes the reports. Report
generation and every download are audit events (exports must be traceable).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from hrss.audit.service import local_time, record_from
from hrss.auth.roles import Action, can
from hrss.ledgers.masking import mask_text
from hrss.monitoring.completeness import (
    STATE_LABELS,
    STATE_LABELS_EN,
    Grid,
    load_grid,
    local_today,
)
from hrss.monitoring.demo import is_simulated
from hrss.monitoring.ledger_tables import (
    NOTE_MAX,
    NOTE_STATUSES,
    CommitmentNote,
    NoteError,
    notes_for,
    save_note,
)
from hrss.monitoring.periods import PeriodError, month_index, month_label, parse_as_of
from hrss.plan.model import Plan
from hrss.reports.build import ReportError, ReportFiles, collect
from hrss.reports.content import KIND_NAMES
from hrss.reports.ledger import COMPARATOR_LABELS, EVIDENCE, LedgerEntry, ledger
from hrss.reports.service import generate as generate_report
from hrss.settings import Settings
from hrss.web.api import ERRORS
from hrss.web.deps import (
    AsOfParam,
    CacheDep,
    LangDep,
    PlanDep,
    SessionDep,
    bad_request,
    clean_text,
    resolve_as_of,
)
from hrss.web.pages import render
from hrss.web.security import ApiUser, PageUser, Principal, check_csrf, require
from hrss.web.tracking_text import AREA_LABELS, KIND_LABELS_EN, STATUS_FILTERS, label, tt
from hrss.web.views import EvaluationCache

router = APIRouter()

YearParam = Annotated[int | None, Query(ge=1900, le=2200, description="年度 YYYY (default: this year, within the plan)")]
Filter = Annotated[str | None, Query(max_length=30)]
Text = Annotated[str, Form(max_length=200)]
MEDIA_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- completeness and timeliness (报送完整率与及时率) ------------------------------------


def deadline_day(settings: Settings) -> int:
    return settings.report_deadline_day


def _grid(request: Request, plan: Plan, session: Any, year: int | None) -> tuple[int, Grid]:
    today = local_today()
    chosen = year if year is not None else min(max(today.year, plan.start_year), plan.end_year)
    if not plan.start_year <= chosen <= plan.end_year:
        raise bad_request(f"年度 {chosen} 不在规划期 {plan.start_year}—{plan.end_year} 内", f"year {chosen} is outside the plan period", 404)
    return chosen, load_grid(session, plan, chosen, today=today, day=deadline_day(request.app.state.settings))


@router.get("/completeness", response_class=HTMLResponse, include_in_schema=False)
def completeness_page(request: Request, plan: PlanDep, session: SessionDep, lang: LangDep, me: PageUser,
                      year: YearParam = None) -> Response:
    require(me, Action.VIEW)
    chosen, grid = _grid(request, plan, session, year)
    labels = STATE_LABELS_EN if lang == "en" else STATE_LABELS
    return render(request, "completeness.html", lang, me, {
        "tt": tt, "year": chosen, "grid": grid, "labels": labels, "month_label": month_label,
        "day": deadline_day(request.app.state.settings), "simulated": is_simulated(session, plan),
    })


@router.get("/api/v1/completeness", tags=["plan and evaluation 规划与评估"], responses=ERRORS,
            summary="报送完整率与及时率 (reporting completeness and timeliness by org unit and month)")
def completeness_api(request: Request, plan: PlanDep, session: SessionDep, me: ApiUser, year: YearParam = None) -> dict[str, Any]:
    require(me, Action.VIEW)
    chosen, grid = _grid(request, plan, session, year)
    return {"year": chosen, "deadline_day": deadline_day(request.app.state.settings), **grid.as_json()}


# --- commitments ledger (任务台账) --------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    entry: LedgerEntry
    status: str  # a judgement key of STATUS_FILTERS
    note: CommitmentNote | None

    def matches(self, area: str | None, status: str | None) -> bool:
        c = self.entry.commitment
        if area and c.area != area:
            return False
        return not status or status == self.status or (self.note is not None and self.note.status == status)


def judgement_key(conclusion: str) -> str:
    """已达到 → met, 未达到 → not_met, 无数据 → no_data, the evidence sentence → evidence;
    推进中（…） and a bare indicator status (when units do not convert) → in_progress."""
    keys = {"已达到": "met", "未达到": "not_met", "无数据": "no_data", EVIDENCE: "evidence"}
    return keys.get(conclusion, "in_progress")


@dataclass(frozen=True)
class JudgedLedger:
    """Every commitment judged as of one month: the same for every user, kept per data version."""

    as_of: int
    entries: tuple[LedgerEntry, ...]
    simulated: bool


def judged_ledger(cache: EvaluationCache, session: Session, plan: Plan, month: int) -> JudgedLedger:
    """The commitments judged as of month, from the month's snapshot: built once per data
    version (an import, an approval or a stats compute moves it), not on every request."""

    def build() -> JudgedLedger:
        snap = cache.snapshot(session, month)
        data = collect(plan, snap.evaluator.values, kind="monthly", as_of=snap.as_of, thresholds=snap.evaluator.t,
                       simulated=snap.simulated)
        return JudgedLedger(snap.as_of, tuple(ledger(data)), snap.simulated)

    return cache.derived(session, ("ledger", month), build)


def ledger_rows(judged: JudgedLedger, notes: dict[str, CommitmentNote]) -> list[LedgerRow]:
    """The judged commitments with their evidence notes (read per request: a note is not data)."""
    return [LedgerRow(e, judgement_key(e.conclusion), notes.get(e.commitment.id)) for e in judged.entries]


@router.get("/ledger", response_class=HTMLResponse, include_in_schema=False)
def ledger_page(request: Request, plan: PlanDep, cache: CacheDep, session: SessionDep, lang: LangDep, me: PageUser,
                as_of: AsOfParam = None, area: Filter = None, status: Filter = None) -> Response:
    require(me, Action.VIEW)
    if (area and area not in AREA_LABELS) or (status and status not in STATUS_FILTERS):
        raise bad_request(tt("bad_filter", "zh"), tt("bad_filter", "en"), 422)
    first, last = month_index(plan.start_year, 1), month_index(plan.end_year, 12)
    month = min(max(resolve_as_of(as_of, cache, session), first), last)  # judged within the plan period
    judged = judged_ledger(cache, session, plan, month)
    rows = ledger_rows(judged, notes_for(session, plan.id))
    shown = [r for r in rows if r.matches(area, status)]
    return render(request, "ledger.html", lang, me, {
        "tt": tt, "label": label, "rows": shown, "total": len(rows), "as_of": month_label(judged.as_of),
        "areas": AREA_LABELS, "statuses": STATUS_FILTERS, "area": area or "", "status": status or "",
        "comparators": COMPARATOR_LABELS, "note_statuses": NOTE_STATUSES, "note_max": NOTE_MAX,
        "may_note": can(me.user, Action.REVIEW), "local_time": local_time, "simulated": judged.simulated,
    })


def unmasked(typed: str, stored: CommitmentNote | None) -> str:
    """The note to save: the stored one when typed is that note as the form showed it (masked,
    see hrss.ledgers.masking), so that changing only the status keeps the full note; else typed."""
    if stored is not None and typed.strip() == mask_text(stored.note):
        return stored.note
    return typed


@router.post("/ledger/{commitment_id}", include_in_schema=False)
def ledger_note(commitment_id: str, request: Request, plan: PlanDep, me: PageUser, csrf_token: Text,
                status: Annotated[str, Form(max_length=10)],
                note: Annotated[str, Form(max_length=4 * NOTE_MAX)] = "") -> Response:
    check_csrf(me, csrf_token)
    require(me, Action.REVIEW)
    if commitment_id not in {c.id for c in plan.commitments}:
        raise bad_request(f"{tt('unknown_commitment', 'zh')}: {commitment_id}", tt("unknown_commitment", "en"), 404)
    try:
        with request.app.state.sessions.begin() as session:
            text = unmasked(clean_text(note), notes_for(session, plan.id).get(commitment_id))
            save_note(session, plan.id, commitment_id, status=status, note=text, origin=me.origin())
    except NoteError as exc:
        raise bad_request(str(exc), str(exc), 422) from exc
    return RedirectResponse(f"/ledger#{commitment_id}", status_code=303)


# --- reports (生成与下载报告) ---------------------------------------------------------------


def report_dir(settings: Settings) -> Path:
    return Path(settings.report_dir) / "web"


def report_files(folder: Path) -> list[Path]:
    """The finished reports in folder, newest first (work in progress sits in hidden folders)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix in MEDIA_TYPES]
    return sorted(found, key=lambda p: (-p.stat().st_mtime, p.name))


def generate(plan: Plan, session: Any, settings: Settings, kind: str, as_of: int) -> ReportFiles:
    """Write both files in a hidden folder, then move them in: a download never sees half a file.
    What goes in them is hrss.reports.service.generate's, as for `hrss report`."""
    folder = report_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".writing-") as tmp:
        written = generate_report(session, plan, settings, kind=kind, as_of=as_of, out_dir=Path(tmp))
        done = ReportFiles(folder / written.docx.name, folder / written.xlsx.name)
        os.replace(written.docx, done.docx)
        os.replace(written.xlsx, done.xlsx)
    return done


def _reports_page(request: Request, lang: str, me: Principal, session: Any, plan: Plan, *, as_of: str,
                  kind: str = "monthly", message: str | None = None, generated: list[str] | None = None,
                  status: int = 200) -> Response:
    kinds = {k: (KIND_LABELS_EN[k] if lang == "en" else v) for k, v in KIND_NAMES.items()}
    files = [{"name": p.name, "size": p.stat().st_size, "at": local_time_of(p)}
             for p in report_files(report_dir(request.app.state.settings))]
    response = render(request, "reports.html", lang, me, {
        "tt": tt, "kinds": kinds, "kind": kind, "as_of": as_of, "files": files, "message": message,
        "generated": generated or [], "simulated": is_simulated(session, plan),
    })
    response.status_code = status
    return response


def local_time_of(path: Path) -> str:
    return local_time(datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None))[:19]


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, plan: PlanDep, cache: CacheDep, session: SessionDep, lang: LangDep,
                 me: PageUser) -> Response:
    require(me, Action.EXPORT)
    return _reports_page(request, lang, me, session, plan, as_of=month_label(cache.default_month(session)))


@router.post("/reports/generate", response_class=HTMLResponse, include_in_schema=False)
def reports_generate(request: Request, plan: PlanDep, lang: LangDep, me: PageUser, csrf_token: Text,
                     kind: Annotated[str, Form(max_length=20)], as_of: Annotated[str, Form(max_length=7)]) -> Response:
    check_csrf(me, csrf_token)
    require(me, Action.GENERATE_REPORTS)
    settings = request.app.state.settings
    with request.app.state.sessions() as session:
        try:
            files = generate(plan, session, settings, kind, parse_as_of(as_of))
        except (ReportError, PeriodError) as exc:
            return _reports_page(request, lang, me, session, plan, as_of=as_of, kind=kind, message=str(exc), status=422)
    names = [files.docx.name, files.xlsx.name]
    with request.app.state.sessions.begin() as session:
        record_from(session, me.origin(), action="report.generated", object_type="report",
                    object_id=files.docx.stem[:64], after={"kind": kind, "as_of": as_of, "files": names})
    with request.app.state.sessions() as session:
        return _reports_page(request, lang, me, session, plan, as_of=as_of, kind=kind, generated=names,
                             message=tt("generated", lang, names="、".join(names)))


@router.get("/reports/files/{name}", include_in_schema=False)
def report_download(name: str, request: Request, me: PageUser) -> Response:
    require(me, Action.EXPORT)
    # Only a name from the folder listing is served: no path built from user input.
    found = {p.name: p for p in report_files(report_dir(request.app.state.settings))}
    path = found.get(name)
    if path is None:
        raise bad_request(tt("no_such_file", "zh"), tt("no_such_file", "en"), 404)
    with request.app.state.sessions.begin() as session:
        record_from(session, me.origin(), action="report.downloaded", object_type="report",
                    object_id=path.stem[:64], after={"file": path.name, "size": path.stat().st_size})
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], filename=path.name)
