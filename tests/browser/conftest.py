"""Browser tests: Playwright driving Debian's chromium (the Makefile installs it with apt; never
`playwright install`, which downloads a browser build of its own), headless, against the dashboard served
by uvicorn in a thread on a free port and a fresh SQLite database. Screenshots go to
var/test-output/screenshots/ (gitignored), one per page visited.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from sqlmodel import Session

from dashboard import DashboardConfig, create_app
from models.accounts import Role
from models.core import make_engine
from tests.dashboard_support import add_small_year, add_staff
from tests.databases import fresh_database

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-output" / "screenshots"
# No network beyond the app, nothing from Google's services, no GPU in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("DONORFLOW_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get, as root)")
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard on a fresh SQLite database holding the small 2021 year and a coordinator."""
    with fresh_database("sqlite", tmp_path_factory.mktemp("browser")) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            add_small_year(session)
            add_staff(session, "李老师", Role.COORDINATOR)
        app = create_app(DashboardConfig(session_factory=lambda: Session(engine), secret_key="browser-test"))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        )
        thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the dashboard did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, zh-CN like a coordinator's machine."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 700})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
