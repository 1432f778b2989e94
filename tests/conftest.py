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


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, per test (tests/browser_support.py); skipped when it is not installed,
    failed under `make test` (DONORFLOW_TEST_REQUIRE_BROWSER=1).

    Per test, not per session: while Playwright's sync API is started it leaves an asyncio loop marked
    running in this thread, and every later `asyncio.run` or sync Prefect call in the same xdist worker
    then fails ("cannot be called from a running event loop", flows returning coroutines). A launch costs
    under a second. `_no_loop_left_running` below catches a regression."""
    from tests.browser_support import launched_browser

    with launched_browser() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    from tests.browser_support import new_page

    with new_page(browser) as page:
        yield page


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """No test starts with an asyncio loop left running in this thread by an earlier one (see `browser`)."""
    import asyncio

    if asyncio._get_running_loop() is not None:  # noqa: SLF001 (the one public-enough probe)
        pytest.fail(
            f"{item.nodeid}: an asyncio loop is left running in this thread by an earlier test "
            "(a Playwright sync API kept open across tests?)",
            pytrace=False,
        )
