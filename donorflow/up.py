"""`make up`: database and demo data, a local Prefect server, every deployment served, the URLs printed.

Everything runs on loopback. Ctrl-C (or SIGTERM) stops the served deployments first — they need ~15 s to
shut down gracefully — then the server; nothing is left running.
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

__all__ = ["prefect_env", "run_up"]


def prefect_env(settings: Settings) -> dict[str, str]:
    """The Prefect settings of a local branch: its own home and SQLite under var/, loopback, no analytics."""
    home = (settings.var_dir / "prefect").resolve()
    api = f"http://127.0.0.1:{settings.prefect_port}/api"
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
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "5",
        "DONORFLOW_VAR_DIR": str(settings.var_dir.resolve()),
    }


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_healthy(api: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(api):
            return
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server stopped while starting; see {log}")
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer within {timeout:.0f} s; see {log}")


@contextmanager
def _process(
    args: list[str], env: dict[str, str], log: Path, grace: float
) -> Iterator[subprocess.Popen[bytes]]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        process = subprocess.Popen(
            args, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _show_demo_funnel(env: dict[str, str]) -> None:
    """Run funnel-report for the demo year once the served deployments are registered."""
    command = [
        sys.executable,
        "-m",
        "prefect",
        "deployment",
        "run",
        "funnel-report/funnel-report",
        "--param",
        "start=2021-01-01",
        "--param",
        "end=2021-12-31",
    ]
    for _ in range(30):
        if subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 0:
            return
        time.sleep(2)


def run_up(echo: Callable[[str], None] = print) -> None:  # noqa: T201  (the CLI's voice)
    settings = bootstrap.get_settings()
    for line in bring_up():
        echo(line)
    env = prefect_env(settings)
    api = env["PREFECT_API_URL"]
    logs = settings.var_dir / "log"
    stop = {"now": False}

    def request_stop(_signum: int, _frame: object) -> None:
        stop["now"] = True

    with ExitStack() as stack:
        if _healthy(api):
            echo(f"a Prefect server already answers at {api}: using it")
        else:
            server = stack.enter_context(
                _process(
                    [
                        sys.executable,
                        "-m",
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
                    grace=30,
                )
            )
            _wait_healthy(api, server, logs / "prefect-server.log")
        served = stack.enter_context(
            _process([sys.executable, "-m", "donorflow.deployments"], env, logs / "deployments.log", grace=40)
        )
        threading.Thread(target=_show_demo_funnel, args=(env,), daemon=True).start()
        ui = api.removesuffix("/api")
        echo(f"Prefect UI:   {ui}")
        echo(f"Deployments:  {ui}/deployments   (served from one process; log: {logs / 'deployments.log'})")
        echo(f"First: {ui}/artifacts → 'funnel': the demo year's funnel (a funnel-report run makes it);")
        echo("       then Deployments → initial-screening → Run: a patient's HLA typing, no candidate codes,")
        echo("       and follow the case through remobilise (Runs → the suspended run → Resume).")
        echo("Stop with Ctrl-C (waits for the served flows to shut down cleanly).")
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["now"]:
            if served.poll() is not None:
                echo(f"the deployments process stopped; see {logs / 'deployments.log'}")
                break
            time.sleep(0.5)
        echo("stopping: served deployments first, then the Prefect server …")
    echo("stopped")
