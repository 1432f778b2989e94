"""Shared test settings: no analytics, no network, a salt that is not a secret."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # Playwright loads only for the tests that drive a browser
    from playwright.sync_api import Browser, Page

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DONORFLOW_ID_SALT", "test-salt-not-secret")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One Prefect test server for the whole session (~10 s to start); yields its API URL.

    Imported lazily: `import prefect` costs seconds that unit tests should not pay.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, once per session (tests/browser_support.py); skipped when it is not
    installed, failed under `make test` (DONORFLOW_TEST_REQUIRE_BROWSER=1)."""
    from tests.browser_support import launched_browser

    with launched_browser() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    from tests.browser_support import new_page

    with new_page(browser) as page:
        yield page
