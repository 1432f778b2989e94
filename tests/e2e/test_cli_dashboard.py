"""`donorflow dashboard` serves the app until Ctrl-C, and refuses a database it cannot use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.databases import fresh_database

DONORFLOW = str(Path(sys.executable).with_name("donorflow"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_dashboard_serves_until_ctrl_c_and_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {**os.environ, "DONORFLOW_VAR_DIR": str(tmp_path / "var"), "DONORFLOW_SECRETS_DIR": str(tmp_path)}
    empty = subprocess.run(
        [DONORFLOW, "dashboard", "--port", str(_free_port())],
        env=env | {"DONORFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert empty.returncode == 5 and "donorflow db upgrade" in empty.stderr

    with fresh_database("sqlite", tmp_path) as url:
        port = _free_port()
        process = subprocess.Popen(
            [DONORFLOW, "dashboard", "--port", str(port)],
            env=env | {"DONORFLOW_DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None and time.monotonic() < deadline, "the dashboard did not answer"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).text == "ok":
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 303
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
        assert process.stdout is not None
        assert f"Dashboard: http://127.0.0.1:{port}" in process.stdout.read()
