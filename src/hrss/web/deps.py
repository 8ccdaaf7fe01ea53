"""Typed dependencies for routes: the store session, the plan, the language, the as-of month."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from hrss.monitoring.periods import PeriodError, parse_as_of
from hrss.plan.model import Plan
from hrss.web.i18n import LANGS
from hrss.web.views import EvaluationCache


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def _plan(request: Request) -> Plan:
    return request.app.state.plan


def _export(request: Request) -> dict[str, Any]:
    return request.app.state.plan_export


def _cache(request: Request) -> EvaluationCache:
    return request.app.state.cache


def _lang(request: Request, lang: Annotated[str | None, Query(max_length=2)] = None) -> str:
    chosen = lang or request.cookies.get("lang") or "zh"
    return chosen if chosen in LANGS else "zh"


def clean_text(raw: str) -> str:
    """Text from a form, without NUL and other control characters (PostgreSQL refuses NUL)."""
    return "".join(ch for ch in raw if ch in "\n\t" or ch.isprintable())


def bad_request(message: str, message_en: str, status: int = 400) -> HTTPException:
    return HTTPException(status, detail={"message": message, "message_en": message_en})


SessionDep = Annotated[Session, Depends(_session)]
PlanDep = Annotated[Plan, Depends(_plan)]
CacheDep = Annotated[EvaluationCache, Depends(_cache)]
ExportDep = Annotated[dict[str, Any], Depends(_export)]  # the plan as exported JSON, made once per app
LangDep = Annotated[str, Depends(_lang)]
AsOfParam = Annotated[str | None, Query(max_length=7, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="截至月份 YYYY-MM")]


def resolve_as_of(raw: str | None, cache: EvaluationCache, session: Session) -> int:
    if raw is None:
        return cache.default_month(session)
    try:
        return parse_as_of(raw)
    except PeriodError as exc:
        raise bad_request(str(exc), "invalid as-of month", 422) from exc
