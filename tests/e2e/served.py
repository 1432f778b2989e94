"""Served deployments for the e2e tests that restart or kill them: one process serving some of
`donorflow.deployments`, as `make up` does, in a session of its own so a kill takes its children too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.cases import open_case
from models.core import transaction
from tests.factories import add_donor, add_search

ROOT = Path(__file__).resolve().parents[2]


class ServedProcess:
    """`serve_all(names)` in a child process; `kill` is SIGKILL, as a crash or a closed terminal would be:
    no shutdown code runs."""

    def __init__(self, env: dict[str, str], log: IO[bytes], names: Iterable[str]) -> None:
        self.env, self.log = env, log
        self.code = f"from donorflow.deployments import serve_all\nserve_all({set(names)!r})\n"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.code],
            cwd=ROOT,
            env={**self.env, **extra},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def served_env(prefect_server: str, database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a served process: this test's Prefect server, database and folders."""
    return {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "DONORFLOW_DATABASE_URL": database_url,
        "DONORFLOW_VAR_DIR": str(tmp_path / "var"),
        "DONORFLOW_ID_SALT": "e2e-salt",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        **extra,
    }


def screened_case(engine: Engine) -> str:
    """A new member and patient search with a case at `screened`; its id."""
    with Session(engine) as session, transaction(session):
        donor, search = add_donor(session), add_search(session)
        assert donor.id is not None
        return open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search").id
