"""The dashboard for the browser tests: a fresh SQLite database holding the small 2021 year and a
coordinator (the browser and page fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from dashboard import DashboardConfig, create_app
from models.accounts import Role
from models.core import make_engine
from tests.browser_support import served
from tests.dashboard_support import add_small_year, add_staff
from tests.databases import fresh_database


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("browser")) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            add_small_year(session)
            add_staff(session, "李老师", Role.COORDINATOR)
        app = create_app(DashboardConfig(session_factory=lambda: Session(engine), secret_key="browser-test"))
        try:
            with served(app) as base:
                yield base
        finally:
            engine.dispose()
