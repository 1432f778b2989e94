"""Browser tests' plumbing: Debian's chromium through Playwright (the Makefile installs it with apt; never
`playwright install`, which downloads a browser build of its own), the dashboard served by uvicorn in a
thread on a free port, a screenshot per page under var/test-output/screenshots/ (gitignored)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session

from dashboard import DashboardConfig, create_app
from models.core import make_engine
from tests.databases import fresh_database

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "test-output" / "screenshots"
# Headless in a container: no sandbox, no GPU; no network beyond the app, nothing from Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launched_browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("DONORFLOW_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get, as root)")
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies), zh-CN like a coordinator's machine."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 700})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` on a free loopback port (uvicorn in a thread); yields its base URL."""
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


@contextmanager
def served_dashboard(directory: Path, seed: Callable[[Session], T], **config: Any) -> Iterator[tuple[str, T]]:
    """The dashboard on a fresh SQLite database in `directory`, filled by `seed(session)`, served on a free
    port; yields its base URL and what `seed` returned. `config`: more DashboardConfig fields."""
    with fresh_database("sqlite", directory) as url:
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                seeded = seed(session)
            settings = DashboardConfig(
                session_factory=lambda: Session(engine), secret_key="browser-test", **config
            )
            with served(create_app(settings)) as base:
                yield base, seeded
        finally:
            engine.dispose()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, name: str, password: str) -> None:
    """Through the login form (zh-CN), from wherever the page is now."""
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("header .who")).to_contain_text(name)


def funnel_counts_on(page: Page) -> dict[str, int]:
    """The funnel table as the page shows it: stage key → the count cell's number."""
    rows = page.locator("table#funnel tbody tr")
    counts: dict[str, int] = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        counts[str(row.get_attribute("data-stage"))] = int(
            row.locator("td.count").inner_text().replace(",", "")
        )
    return counts
