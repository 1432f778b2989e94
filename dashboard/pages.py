"""The HTML pages: log in, log out. Later pages join `pages` (login and CSRF come with it); the funnel
page is dashboard/funnel_pages.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.render import page
from dashboard.security import DbSession, check_csrf, config_of, log_in, page_user
from models.accounts import LoginOutcome, attempt_login
from models.core import transaction

__all__ = ["pages", "public"]

# /login and /healthz: no login needed (the CSRF check still guards the login form).
public = APIRouter(dependencies=[Depends(check_csrf)])
# Everything else: a login first (303 to /login), then the CSRF check for POST forms.
pages = APIRouter(dependencies=[Depends(page_user), Depends(check_csrf)])


def _local_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect to //evil or http:)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@public.get("/healthz", include_in_schema=False)
def healthz() -> Response:
    return Response("ok", media_type="text/plain")


@public.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> HTMLResponse:
    return page(request, "login.html", next=_local_next(next_))


@public.post("/login", include_in_schema=False)
def login(
    request: Request,
    session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    config = config_of(request)
    client = request.client.host if request.client else "unknown"
    with transaction(session):  # the try is recorded whatever the outcome: a failure must count
        result = attempt_login(
            session=session,
            name=name,
            password=password,
            client=client,
            now=config.clock(),
            throttle=config.throttle,
        )
    if result.outcome is LoginOutcome.OK and result.user is not None:
        log_in(request, result.user)
        return RedirectResponse(_local_next(next_), status_code=status.HTTP_303_SEE_OTHER)
    if result.outcome is LoginOutcome.THROTTLED:
        minutes = int(config.throttle.window.total_seconds() // 60)
        response = page(
            request,
            "login.html",
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            error=("login.throttled", {"minutes": minutes}),
            name=name,
            next=_local_next(next_),
        )
        response.headers["Retry-After"] = str(int(config.throttle.window.total_seconds()))
        return response
    return page(
        request,
        "login.html",
        status_code=status.HTTP_400_BAD_REQUEST,
        error=("login.failed", {}),
        name=name,
        next=_local_next(next_),
    )


@pages.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login?bye=1", status_code=status.HTTP_303_SEE_OTHER)


# The funnel page (`/`) is dashboard/funnel_pages.py.
