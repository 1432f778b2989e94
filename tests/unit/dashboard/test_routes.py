"""Every route of the three routers keeps its door: pages answer 303 to /login without a login, the API
401 without a token, a POST form 403 without its CSRF token. A later page added to a router is covered."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import BaseRoute

from dashboard import DashboardConfig, create_app
from dashboard.api import api
from dashboard.funnel_pages import funnel_api, funnel_pages
from dashboard.pages import pages, public
from models.core import make_engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _routes(router_routes: Sequence[BaseRoute]) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in router_routes
        if isinstance(route, APIRoute)
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]


def test_pages_need_a_login_the_api_a_token_and_forms_a_csrf_token() -> None:
    engine = make_engine("sqlite://")  # no tables: nothing here may reach the database
    app = create_app(DashboardConfig(session_factory=lambda: Session(engine), secret_key="x"))
    client = TestClient(app, follow_redirects=False)
    page_routes = _routes([*pages.routes, *funnel_pages.routes])
    assert {path for _, path in page_routes} >= {"/", "/logout", "/export/{name}.{fmt}"}
    for method, path in page_routes:
        response = client.request(method, path)
        assert (response.status_code, response.headers["location"][:7]) == (303, "/login?"), path
    api_routes = _routes([*api.routes, *funnel_api.routes])
    assert len(api_routes) > 6
    for method, path in api_routes:
        assert client.request(method, path.replace("{", "").replace("}", "")).status_code == 401, path
    posts = [path for method, path in _routes(public.routes) if method == "POST"]
    assert posts == ["/login"]
    for path in posts:
        assert client.post(path, data={"name": "x", "password": "y"}).status_code == 403
