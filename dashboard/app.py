"""The app factory: the coordinator's workbench and the funnel dashboard (issue 12).

`create_app(config)` wires middleware (signed session, language, security headers), the routers and the
error pages. It gets its database through `config.session_factory` from the composition root
(donorflow/bootstrap.py: `bootstrap.dashboard_app()`); it never reads settings or imports Prefect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from dashboard import actions, waiting  # noqa: F401  (their routes join cases_pages)
from dashboard.api import api
from dashboard.cases import cases_pages
from dashboard.config import DashboardConfig
from dashboard.funnel_pages import funnel_api, funnel_pages
from dashboard.i18n import LANGS, pick_lang
from dashboard.pages import pages, public
from dashboard.render import page
from dashboard.security import LoginRequired

__all__ = ["SESSION_COOKIE", "create_app"]

SESSION_COOKIE = "donorflow_session"
LANG_COOKIE = "lang"
_ONE_YEAR = 365 * 24 * 3600

# No external assets (the dashboard must work with no internet), no inline script or style, no framing.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(config: DashboardConfig) -> FastAPI:
    # No /docs or /redoc: they load their scripts from a CDN. The schema stays for API clients and fuzzing.
    app = FastAPI(
        title="donorflow dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.config = config
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.include_router(public)
    app.include_router(pages)
    app.include_router(cases_pages)
    app.include_router(api)
    app.include_router(funnel_pages)
    app.include_router(funnel_api)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(HTTPException, _http_error)
    app.middleware("http")(_language_and_headers)
    # Added last, so it runs first: the language middleware and every route see the session.
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=config.session_max_age,
        same_site="lax",
        https_only=config.https_only,
    )
    return app


async def _language_and_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    asked = request.query_params.get("lang")
    request.state.lang = pick_lang(asked, request.cookies.get(LANG_COOKIE))
    response = await call_next(request)
    if asked in LANGS:
        response.set_cookie(LANG_COOKIE, asked, max_age=_ONE_YEAR, samesite="lax", httponly=True)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _to_login(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=status.HTTP_303_SEE_OTHER)


async def _http_error(request: Request, exc: Exception) -> Response:
    """JSON for the API, a page in the visitor's language for everything else."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    key = {403: "error.403_csrf" if exc.detail == "csrf" else "error.403", 404: "error.404"}.get(
        exc.status_code, "error.other"
    )
    return page(request, "error.html", status_code=exc.status_code, message=key, status=exc.status_code)
