"""The web application factory: `create_app(settings)` builds one app; nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from hrss import __version__
from hrss.audit.service import local_time
from hrss.auth.roles import can, role_label
from hrss.db import make_engine, session_factory
from hrss.ledgers.masking import mask_text
from hrss.plan.export import export_plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings, check_production
from hrss.web import account, admin, api, entry, pages, reconcile, tracking
from hrss.web.deps import choose_lang
from hrss.web.i18n import indicator_name, t, term
from hrss.web.security import (
    BodyLimit,
    LoginRequired,
    PasswordChangeRequired,
    SecondFactorRequired,
    SecurityHeaders,
    login_redirect,
    second_factor_redirect,
)
from hrss.web.tracking_text import tt
from hrss.web.views import EvaluationCache

WEB_DIR = Path(str(resources.files("hrss") / "web"))
STATIC_PREFIX = "/static/"


def static_url(path: str) -> str:
    """The address of a file under web/static (what url_for('static', path=...) gives, without
    the scheme and host, and without searching every route on each page)."""
    return STATIC_PREFIX + path


FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the form's other fields around an upload


class HrssApp(FastAPI):
    """FastAPI with the security headers outermost: around Starlette's own error middleware
    too, so that a 500 answer carries them like every other (add_middleware would put them
    inside it)."""

    def build_middleware_stack(self) -> ASGIApp:
        # built at the first request, when state.settings is set: bodies are limited to the
        # largest upload plus room for the form around it
        limit = self.state.settings.upload_max_bytes + FORM_OVERHEAD
        return SecurityHeaders(BodyLimit(super().build_middleware_stack(), limit), static_prefix=STATIC_PREFIX)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_production(settings)  # production mode never runs on development defaults
    engine = make_engine(settings.database_url)
    plan = prepare_store(engine, settings.plan_file)
    # Short reads made on the event loop itself (who is asking, the data version): a pool
    # of their own, so that the loop never waits for a connection held by a worker thread
    # whose clean-up is itself waiting for the loop.
    read_engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()
        read_engine.dispose()

    app = HrssApp(
        lifespan=lifespan,
        title="HRSS 人社规划监测评估平台 API",
        version=__version__,
        description="规划监测评估平台接口 (plan monitoring and evaluation API). 错误信息中英文并列 (errors in Chinese and English).",
        # /openapi.json and /api/docs are api.docs_router's: signed-in users only, Swagger UI
        # from static/vendor (no CDN, no inline script); FastAPI's public ones are off.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.read_engine = read_engine  # event loop only, never held across an await
    app.state.plan = plan
    app.state.plan_export = export_plan(plan)
    app.state.cache = EvaluationCache(plan, settings.thresholds)
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.auto_reload = False  # the templates ship with the package: no stat per page
    templates.env.globals["t"] = t
    templates.env.globals["can"] = can
    templates.env.globals["tt"] = tt
    templates.env.globals["static"] = static_url
    templates.env.globals["role_label"] = role_label
    templates.env.globals["local_time"] = local_time
    templates.env.globals["term"] = term
    templates.env.filters["mask_text"] = mask_text  # ID and mobile numbers in free text, for every role

    def name_of(code: str, lang: str) -> str:
        return indicator_name(plan.indicator(code), lang)

    templates.env.globals["name_of"] = name_of
    app.state.templates = templates

    # Routes are matched in order, one by one: the busiest (the API, the dashboard) first.
    # No two routers share a path.
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(entry.router)
    app.include_router(admin.router)
    app.include_router(tracking.router)
    app.include_router(reconcile.router)
    app.include_router(api.docs_router)
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=str(WEB_DIR / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(login_redirect(exc.next_url), status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _password(request: Request, exc: PasswordChangeRequired) -> RedirectResponse:
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(SecondFactorRequired)
    async def _second_factor(request: Request, exc: SecondFactorRequired) -> RedirectResponse:
        return RedirectResponse(second_factor_redirect(exc.next_url), status_code=303)

    def _error(request: Request, detail: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
        """An error as JSON for the API and machine clients; as a Chinese page for a browser."""
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse(detail, status_code=status, headers=headers)
        return templates.TemplateResponse(request, "error.html", {
            "lang": choose_lang(request, request.query_params.get("lang")), "plan": plan, "me": None, "simulated": False,
            "status": status, "message": detail.get("message", ""), "message_en": detail.get("message_en", ""),
        }, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
        return _error(request, {"message": f"请求参数无效: {fields}", "message_en": f"Invalid request: {fields}"}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail), "message_en": str(exc.detail)}
        return _error(request, detail, exc.status_code, getattr(exc, "headers", None))

    return app
