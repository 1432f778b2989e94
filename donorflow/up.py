"""`make up`: database and demo data, a local Prefect server, every deployment served, the dashboard beside
them, the URLs printed (and, at the first start, the first admin's login).

Everything runs on loopback. Ctrl-C, SIGTERM or SIGHUP stops the dashboard first, then the served
deployments, then the server, within 15 s; nothing is left running. If `donorflow up` itself dies, its
children notice and stop (donorflow/supervised.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from donorflow import bootstrap
from donorflow.settings import Settings
from donorflow.setup import bring_up
from donorflow.web import dashboard_url, first_admin

__all__ = [
    "DASHBOARD_GRACE_SECONDS",
    "SERVED_GRACE_SECONDS",
    "SERVER_GRACE_SECONDS",
    "SQLITE_SERVER_SETTINGS",
    "prefect_env",
    "run_up",
]

# Ctrl-C stops everything within 15 s: the dashboard gets this long to stop gracefully (uvicorn: ~0.2 s,
# open connections 1 s at most, donorflow/web.py), the served deployments this long (they take 1–5 s:
# pause their schedules, cancel runs in flight), the server this long (~3 s); whatever is left of any of
# them is then killed with its process group.
DASHBOARD_GRACE_SECONDS = 2.0
SERVED_GRACE_SECONDS = 8.0
SERVER_GRACE_SECONDS = 5.0


# The embedded server's SQLite under concurrent use (README "Running the pipeline"). Prefect 3.9 already
# opens it in WAL mode with `busy_timeout = 60 s` and takes state changes with BEGIN IMMEDIATE
# (prefect/server/database/configurations.py); its pool settings apply to PostgreSQL only. What is left:
# sqlite3's own busy wait is PREFECT_SERVER_DATABASE_TIMEOUT (10 s) until that PRAGMA runs; make it the
# same 60 s. A read-then-write transaction that loses the race (SQLITE_BUSY_SNAPSHOT: the UI's Resume is
# one) still fails at once with a 503: Prefect's own client retries it, the UI does not. Several
# coordinators at once: DONORFLOW_PREFECT_DATABASE_URL (PostgreSQL).
SQLITE_SERVER_SETTINGS: dict[str, str] = {"PREFECT_SERVER_DATABASE_TIMEOUT": "60"}


def prefect_env(settings: Settings) -> dict[str, str]:
    """The Prefect settings of a local branch: its own home and SQLite under var/ (or the PostgreSQL
    database configured), loopback, no analytics."""
    home = (settings.var_dir / "prefect").resolve()
    api = f"http://127.0.0.1:{settings.prefect_port}/api"
    database = (
        {"PREFECT_SERVER_DATABASE_CONNECTION_URL": settings.prefect_database_url}
        if settings.prefect_database_url
        else SQLITE_SERVER_SETTINGS
    )
    return {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(settings.prefect_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P30D",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "true",
        # Results persist only where a flow says so (persist_result=True: the stage flows, which suspend);
        # a task returning personal data by mistake is then not pickled under the Prefect home.
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "5",
        "DONORFLOW_VAR_DIR": str(settings.var_dir.resolve()),
        **database,
    }


def _healthy(url: str) -> bool:
    """The Prefect API (`…/api` + /health) or the dashboard (`…/healthz`) answers."""
    probe = url if url.endswith("/healthz") else f"{url}/health"
    try:
        return httpx.get(probe, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 90,
    what: str = "the Prefect server",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(url):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} stopped while starting; see {log}")
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s; see {log}")


def _wait_registered(api: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    """Until the served process has registered the deployments (`serve` registers them together;
    `remobilise` answering by name stands for all): the URLs are printed when a coordinator can start a
    run, not seconds before (found by the e2e test in a busy full run: the dashboard's "start
    re-mobilisation", pressed as soon as `up` printed, found no deployment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/deployments/name/remobilise/remobilise", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the served deployments stopped while starting; see {log}")
        time.sleep(0.5)
    raise RuntimeError(f"the deployments were not registered within {timeout:.0f} s; see {log}")


class _Stop(Exception):
    """Ctrl-C, SIGTERM or SIGHUP reached `donorflow up`: stop everything, in order."""


@contextmanager
def _process(
    module: list[str], env: dict[str, str], log: Path, grace: float
) -> Iterator[subprocess.Popen[bytes]]:
    """A child in a session of its own (a Ctrl-C in the terminal reaches `donorflow up` only, which stops
    the children in order), supervised so that it dies with `donorflow up` (donorflow/supervised.py)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "donorflow.supervised", str(os.getpid()), *module]
    with log.open("ab") as handle:
        process = subprocess.Popen(
            args, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            _stop(process, grace)


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGINT (a graceful stop), then SIGKILL to the child's whole group: the flow runs it started too."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the group id is its pid
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _show_demo_funnel(api: str, stopping: threading.Event) -> None:
    """Run funnel-report for the demo year once the served deployments are registered."""
    while not stopping.wait(2):
        try:
            found = httpx.get(f"{api}/deployments/name/funnel-report/funnel-report", timeout=5)
            if found.status_code != 200:
                continue
            httpx.post(
                f"{api}/deployments/{found.json()['id']}/create_flow_run",
                json={"parameters": {"start": "2021-01-01", "end": "2021-12-31"}},
                timeout=10,
            ).raise_for_status()
            return
        except httpx.HTTPError:
            continue


def _say_where(echo: Callable[[str], None], api: str, logs: Path, dashboard: str, login: list[str]) -> None:
    ui = api.removesuffix("/api")
    echo(f"Prefect UI:   {ui}")
    echo(f"Deployments:  {ui}/deployments   (served from one process; log: {logs / 'deployments.log'})")
    echo(f"Dashboard:    {dashboard}   (工作台 the workbench and funnel; log: {logs / 'dashboard.log'})")
    for line in login:
        echo(f"              {line}")
    echo(f"First: {ui}/artifacts → 'funnel': the demo year's funnel (a funnel-report run makes it);")
    echo("       then Deployments → initial-screening → Run: a patient's HLA typing, no candidate codes,")
    echo("       and follow the case through remobilise (Runs → the suspended run → Resume).")


def run_up(echo: Callable[[str], None] = print, *, demo: bool = True) -> None:  # noqa: T201  (the CLI's voice)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():  # a second Ctrl-C does not cut the orderly stop short
            stopping.set()
            raise _Stop(signal.Signals(signum).name)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # SIGHUP: the terminal closed (not on Windows)
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), request_stop)
    try:
        _run(echo, demo, stopping)
    except _Stop:
        pass
    echo("stopped")


def _run(echo: Callable[[str], None], demo: bool, stopping: threading.Event) -> None:
    settings = bootstrap.get_settings()
    for line in bring_up(demo=demo):
        echo(line)
    login = list(first_admin(settings))
    env = prefect_env(settings)
    api = env["PREFECT_API_URL"]
    logs = settings.var_dir / "log"
    with ExitStack() as stack:
        try:
            if _healthy(api):
                echo(f"a Prefect server already answers at {api}: using it")
            else:
                server = stack.enter_context(
                    _process(
                        [
                            "prefect",
                            "server",
                            "start",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(settings.prefect_port),
                        ],
                        env,
                        logs / "prefect-server.log",
                        grace=SERVER_GRACE_SECONDS,
                    )
                )
                _wait_healthy(api, server, logs / "prefect-server.log")
            served = stack.enter_context(
                _process(["donorflow.deployments"], env, logs / "deployments.log", grace=SERVED_GRACE_SECONDS)
            )
            if demo:
                threading.Thread(target=_show_demo_funnel, args=(api, stopping), daemon=True).start()
            _wait_registered(api, served, logs / "deployments.log")
            dashboard = _start_dashboard(stack, settings, env, logs)
            if dashboard is None:
                echo(f"a dashboard already answers at {dashboard_url(settings)}: using it")
            _say_where(echo, api, logs, dashboard_url(settings), login)
            echo("Stop with Ctrl-C (or SIGTERM/SIGHUP): everything stops within 15 s.")
            while served.poll() is None and (dashboard is None or dashboard.poll() is None):
                time.sleep(0.5)
            if served.poll() is not None:
                echo(f"the deployments process stopped; see {logs / 'deployments.log'}")
            else:
                echo(f"the dashboard stopped; see {logs / 'dashboard.log'}")
        finally:
            stopping.set()  # from here on a signal no longer interrupts: the stop below is bounded
            echo("stopping: the dashboard, the served deployments, then the Prefect server …")


def _start_dashboard(
    stack: ExitStack, settings: Settings, env: dict[str, str], logs: Path
) -> subprocess.Popen[bytes] | None:
    """The dashboard as the last child, so the ExitStack stops it first; None when one already answers
    on its port (a `donorflow dashboard` the user started)."""
    health = f"{dashboard_url(settings)}/healthz"
    if _healthy(health):
        return None
    log = logs / "dashboard.log"
    host, port = settings.dashboard_host, str(settings.dashboard_port)
    process = stack.enter_context(
        _process(["donorflow.web", "--host", host, "--port", port], env, log, grace=DASHBOARD_GRACE_SECONDS)
    )
    _wait_healthy(
        health,
        process,
        log,
        timeout=60,
        what=f"the dashboard (port {port} in use? set DONORFLOW_DASHBOARD_PORT)",
    )
    return process
