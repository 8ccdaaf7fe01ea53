"""Typed dependencies for routes: the store session, the plan, the language, the as-of month."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hrss.monitoring.periods import PeriodError, parse_as_of
from hrss.monitoring.service import data_version, evaluation_month
from hrss.plan.model import Plan
from hrss.web.i18n import LANGS
from hrss.web.views import DEFAULT_MONTH, EvaluationCache, Version

T = TypeVar("T")


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


# Dependencies that only read app state are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, one hop per dependency per request.


async def _plan(request: Request) -> Plan:
    return request.app.state.plan


async def _export(request: Request) -> dict[str, Any]:
    return request.app.state.plan_export


async def _cache(request: Request) -> EvaluationCache:
    return request.app.state.cache


def choose_lang(request: Request, lang: str | None) -> str:
    """The language asked for (?lang=), else the one remembered in the cookie, else Chinese."""
    chosen = lang or request.cookies.get("lang") or "zh"
    return chosen if chosen in LANGS else "zh"


async def _lang(request: Request, lang: Annotated[str | None, Query(max_length=2)] = None) -> str:
    return choose_lang(request, lang)


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


def _parse_as_of(raw: str, plan: Plan) -> int:
    """An as-of month from a query: within the plan period, or after it up to this month
    (then the plan's last month, the final results); anything else 422."""
    try:
        return evaluation_month(plan, parse_as_of(raw))
    except PeriodError as exc:
        raise bad_request(str(exc), "invalid as-of month: outside the plan period", 422) from exc


def resolve_as_of(raw: str | None, cache: EvaluationCache, session: Session) -> int:
    return cache.default_month(session) if raw is None else _parse_as_of(raw, cache.plan)


# The busiest read-only views (dashboard, indicator and evaluation API) are `async def`
# and, when what they show is cached, run without a thread hop: the data version is read
# on the event loop (one small query, app.state.read_engine) and the cached item is looked up.
# Only a miss goes to the thread pool, to evaluate and render with a store session.


def read_version(request: Request) -> Version:
    """The data version, read on the event loop (a Core connection: no ORM session to set up)."""
    with request.app.state.read_engine.connect() as conn:
        return data_version(conn, request.app.state.plan)


async def shared_view(request: Request, version: Version, key: tuple[Hashable, ...], build: Callable[[Session], T]) -> T:
    """A derived item (`EvaluationCache.derived`) for version: from the cache on the event
    loop, or built once in the thread pool with a store session of its own."""
    cache: EvaluationCache = request.app.state.cache
    found, value = cache.peek(key, version)
    if found:
        return value  # type: ignore[no-any-return]

    def work() -> T:
        with request.app.state.sessions() as session:
            cache.pin_version(session, version)
            return cache.derived(session, key, lambda: build(session))

    return await run_in_threadpool(work)


async def as_of_month(request: Request, raw: str | None, version: Version) -> int:
    """resolve_as_of for the async views."""
    if raw is not None:
        return _parse_as_of(raw, request.app.state.plan)
    return await shared_view(request, version, DEFAULT_MONTH, request.app.state.cache.newest_month)
