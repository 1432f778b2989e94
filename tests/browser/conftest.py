"""The dashboard for the browser tests: a fresh SQLite database holding the small 2021 year and a
coordinator (the browser and page fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from models.accounts import Role
from tests.browser_support import served_dashboard
from tests.dashboard_support import add_small_year, add_staff


def _small_year_and_a_coordinator(session: Session) -> None:
    add_small_year(session)
    add_staff(session, "李老师", Role.COORDINATOR)


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_dashboard(tmp_path_factory.mktemp("browser"), _small_year_and_a_coordinator) as (base, _):
        yield base
