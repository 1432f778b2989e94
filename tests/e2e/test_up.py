"""`donorflow up` stops cleanly: Ctrl-C, SIGTERM and SIGHUP stop every child (the Prefect server, the
served deployments, the dashboard) within 15 s, and if `donorflow up` itself is killed its children notice
and exit within 10 s. No port stays bound. And the topology it starts works end to end in a browser: the
dashboard starts re-mobilisation, the run suspends, /waiting links to it in the Prefect UI that
`prefect server start` serves (the session `prefect_server` of tests/conftest.py is Prefect's test
harness: API only, PREFECT_UI_ENABLED=0).

A real `donorflow up --no-demo` per signal (~10–15 s to start: the Prefect server and the served
deployments), on free loopback ports and an empty var dir; the browser walk and the kill of `up` itself
share one. Linux: processes are found under /proc.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import create_engine

from tests.browser_support import log_in, screenshot
from tests.e2e.served import screened_case

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc"),
]

DONORFLOW = str(Path(sys.executable).with_name("donorflow"))
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _port_free(port: int) -> bool:
    """Nothing listens: a server could bind the port again (TIME_WAIT connections do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _drain(stdout: IO[str], lines: queue.Queue[str]) -> None:
    for line in stdout:
        lines.put(line)


@dataclass
class Up:
    process: subprocess.Popen[str]
    port: int
    dashboard_port: int
    children: set[int]
    lines: queue.Queue[str]
    var_dir: Path
    password: str  # the first admin's, as `up` printed it


def _log_in_as_the_first_admin(said: str, dashboard_port: int) -> str:
    """`up` printed the dashboard's URL and the first admin's generated password, and they work; the
    password."""
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    assert f"Dashboard:    {dashboard}" in said
    login = re.search(r"登录 Log in: admin / (\S+)", said)
    assert login, said
    with httpx.Client(base_url=dashboard) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        answer = client.post(
            "/login", data={"name": "admin", "password": login.group(1), "csrf_token": token.group(1)}
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        assert "admin（管理员）" in client.get("/").text
    return login.group(1)


@contextmanager
def _started_up(tmp_path: Path) -> Iterator[Up]:
    """`donorflow up --no-demo`, started and waited for until it prints how to stop it; the dashboard it
    started takes the first admin's printed login. Everything it started is killed on exit."""
    port, dashboard_port = _free_port(), _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "DONORFLOW_"))}
    env |= {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DONORFLOW_VAR_DIR": str(tmp_path / "var"),
        "DONORFLOW_PREFECT_PORT": str(port),
        "DONORFLOW_DASHBOARD_PORT": str(dashboard_port),
        "DONORFLOW_SECRETS_DIR": str(tmp_path / "secrets"),
        "DONORFLOW_ID_SALT": "up-test-salt",
    }
    process = subprocess.Popen(
        [DONORFLOW, "up", "--no-demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # our signals only: none from the test's own process group
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        seen: list[str] = []
        while not any(line.startswith("Stop with") for line in seen):
            assert time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert process.poll() is None, "".join(seen)
        children = _descendants(process.pid)
        assert len(children) >= 3, "the Prefect server, the served deployments and the dashboard are children"
        assert not _port_free(port) and not _port_free(dashboard_port)
        password = _log_in_as_the_first_admin("".join(seen), dashboard_port)
        yield Up(process, port, dashboard_port, children, lines, tmp_path / "var", password)
    finally:
        for pid in [process.pid, *children]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    """An `up` of the test's own (the signal tests stop it)."""
    with _started_up(tmp_path) as started:
        yield started


class _Reused:
    """One `up` for the module's tests that leave it running and the last one, which kills it: each start
    costs ~15 s of a suite over its budget. Started at first use, and again whenever a test finds it
    stopped, so no test depends on another having run (or not) before it; only the cost does."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, stack: ExitStack) -> None:
        self.tmp_path_factory, self.stack = tmp_path_factory, stack
        self.current: Up | None = None

    def get(self) -> Up:
        if self.current is None or self.current.process.poll() is not None:
            self.current = self.stack.enter_context(_started_up(self.tmp_path_factory.mktemp("up")))
        return self.current


@pytest.fixture(scope="module")
def _reused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Reused]:
    with ExitStack() as stack:
        yield _Reused(tmp_path_factory, stack)


@pytest.fixture
def reused_up(_reused: _Reused) -> Up:
    return _reused.get()


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    return {pid for pid in pids if _alive(pid)}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_up_and_every_child_within_15_seconds(up: Up, sig: signal.Signals) -> None:
    started = time.monotonic()
    up.process.send_signal(sig)
    up.process.wait(timeout=15)
    assert up.process.returncode == 0
    assert _gone_within(up.children, 15 - (time.monotonic() - started)) == set()
    assert _port_free(up.port) and _port_free(up.dashboard_port)
    said = []
    while not up.lines.empty():
        said.append(up.lines.get())
    assert said[-1].strip() == "stopped"
    print(f"{sig.name}: everything stopped in {time.monotonic() - started:.1f} s")  # noqa: T201


def _waiting_row(page: Page, dashboard: str, run_id: str) -> Locator:
    """/waiting, reloaded until it lists `run_id`: the served deployments poll every 5 s, the run's process
    starts, claims the case and suspends at the contact form."""
    row = page.locator(f'table#waiting tr[data-run="{run_id}"]')
    deadline = time.monotonic() + 120
    while True:
        page.goto(f"{dashboard}/waiting")
        if row.count() == 1:
            return row
        assert time.monotonic() < deadline, f"run {run_id} never waited for the contact form"
        time.sleep(1)


def test_a_coordinator_starts_remobilisation_and_follows_waiting_to_the_run_in_the_prefect_ui(
    reused_up: Up, page: Page
) -> None:
    """The topology `make up` starts: its dashboard starts the remobilise deployment through Prefect's
    REST API, the served deployments run it until it suspends for the contact form, /waiting lists it
    with what it asks, and its link opens the run in the Prefect UI that server serves, with Resume."""
    up = reused_up
    engine = create_engine(f"sqlite:///{up.var_dir / 'donorflow.db'}")
    try:
        case_id = screened_case(engine)
    finally:
        engine.dispose()
    dashboard = f"http://127.0.0.1:{up.dashboard_port}"
    page.goto(f"{dashboard}/cases/{case_id}")
    log_in(page, "admin", up.password)
    page.get_by_role("button", name="开始再动员").click()
    notice = page.locator("p.notice")
    expect(notice).to_contain_text("已启动再动员")
    started = re.search(r"流程运行 ([0-9a-f-]{36})", notice.inner_text())
    assert started, notice.inner_text()
    run_id = started.group(1)
    screenshot(page, "20-case-remobilise-started-zh-CN")

    row = _waiting_row(page, dashboard, run_id)
    expect(row.locator("td.asks")).to_have_text(
        "第 1/3 次联系：联系上志愿者了吗？ Contact attempt 1 of 3: did you reach the member?"
    )
    expect(row.locator(f'a[href="/cases/{case_id}"]')).to_have_text(case_id[:8])
    expect(row).to_contain_text("(Suspended)")
    link = row.locator("a.resume")
    run_name = link.inner_text()
    screenshot(page, "21-waiting-zh-CN")

    link.click()
    expect(page).to_have_url(re.compile(rf"^http://127\.0\.0\.1:{up.port}/.*runs/flow-run/{run_id}"))
    expect(page.get_by_text(run_name).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Suspended").first).to_be_visible()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    screenshot(page, "22-prefect-ui-run-suspended")


def test_children_exit_within_10_seconds_when_up_itself_is_killed(reused_up: Up) -> None:
    up = reused_up
    children = up.children | _descendants(up.process.pid)  # and whatever an earlier test made it start
    started = time.monotonic()
    up.process.kill()
    up.process.wait()
    assert _gone_within(children, 10) == set()
    assert _port_free(up.port) and _port_free(up.dashboard_port)
    print(f"SIGKILL: children gone in {time.monotonic() - started:.1f} s")  # noqa: T201
