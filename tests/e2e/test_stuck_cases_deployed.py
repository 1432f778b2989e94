"""Stuck cases on a served deployment: a run cancelled, crashed or left behind by a killed worker never
locks its case. One served process (the remobilise deployment only, SQLite) for the whole module.

What Prefect 3.9 does, checked here: cancelling a *suspended* run is done by the server alone (no process
holds it, so it goes straight to Cancelled) and no state hook runs anywhere; the next stage run finds the
claim stale (the holder's state is final) and takes it over, audited.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Cancelling, Crashed
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import CaseRecord, DonorCase, StageEvent
from models.transitions import open_case
from tests.coordinator import Coordinator
from tests.databases import fresh_database
from tests.e2e.test_pipeline_deployed import _run
from tests.factories import add_donor, add_search

ROOT = Path(__file__).resolve().parents[2]
SERVE_REMOBILISE = (
    "from prefect import serve\n"
    "from donorflow.deployments import deployments\n"
    "serve(*deployments({'remobilise'}), print_starting_message=False)\n"
)
DEPLOYMENT = "remobilise/remobilise"


class ServedProcess:
    """`donorflow.deployments` serving the remobilise deployment, as `make up` would, in its own session."""

    def __init__(self, env: dict[str, str], log: IO[bytes]) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE_REMOBILISE],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL, as a crash or a closed terminal would: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(
    prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedProcess, Engine]]:
    tmp_path = tmp_path_factory.mktemp("stuck-cases")
    with fresh_database("sqlite", tmp_path) as url, (tmp_path / "serve.log").open("wb") as log:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_server,
            "DONORFLOW_DATABASE_URL": url,
            "DONORFLOW_VAR_DIR": str(tmp_path / "var"),
            "DONORFLOW_ID_SALT": "e2e-salt",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        }
        process = ServedProcess(env, log)
        process.start()
        engine = create_engine(url)
        try:
            yield process, engine
        finally:
            process.kill()  # every run left is suspended: nothing to shut down gracefully
            engine.dispose()


def _screened_case(engine: Engine) -> str:
    with Session(engine) as session:
        donor, search = add_donor(session), add_search(session)
        assert donor.id is not None
        return open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search").id


def _holder(engine: Engine, case_id: str) -> str | None:
    with Session(engine) as session:
        case = session.get(DonorCase, case_id)
        assert case is not None
        return case.live_run_id


def _claim_trail(engine: Engine, case_id: str) -> list[tuple[str, str | None, str | None]]:
    with Session(engine) as session:
        events = session.exec(
            select(StageEvent)
            .where(StageEvent.case_id == case_id, StageEvent.entity == "claim")
            .order_by(col(StageEvent.id))
        ).all()
        return [(e.to_state, e.flow_run_id, e.reason) for e in events]


def _waiting_run(engine: Engine, coordinator: Coordinator, case_id: str) -> UUID:
    """A remobilise run that claimed the case and waits (suspended) for the contact form."""
    run_id = _run(DEPLOYMENT, {"case_id": case_id})
    coordinator.next_form(run_id)
    assert _holder(engine, case_id) == str(run_id)
    return run_id


def _cancel_as_the_ui_does(coordinator: Coordinator, run_id: UUID) -> None:
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Cancelling())
    assert coordinator.final_state(run_id) == "Cancelled"


def test_cancelling_a_waiting_run_lets_the_next_run_claim_the_case(
    served: tuple[ServedProcess, Engine],
) -> None:
    _process, engine = served
    coordinator = Coordinator(timeout=120)
    case_id = _screened_case(engine)
    cancelled = _waiting_run(engine, coordinator, case_id)
    _cancel_as_the_ui_does(coordinator, cancelled)

    following = _waiting_run(engine, coordinator, case_id)
    assert _claim_trail(engine, case_id) == [
        ("taken_over", str(cancelled), f"run {cancelled} is no longer running (Cancelled)")
    ]
    # The next run works normally; a note with a phone number is masked in Prefect, and the re-run after
    # the suspend reads the masked answer back, replays it and asks for the next attempt.
    coordinator.answer(
        following, {"coordinator": "李老师", "reached": False, "notes": "家属电话 13812345678"}
    )
    key, _schema, _description = coordinator.next_form(following)
    assert key == "contact-2-1"
    with get_client(sync_client=True) as client:
        stored = client.filter_flow_run_input(following, key_prefix="", limit=100, exclude_keys=set())
    assert "13812345678" not in "".join(i.value for i in stored)
    with Session(engine) as session:
        notes = session.exec(select(CaseRecord).where(CaseRecord.case_id == case_id)).all()
        assert [r.data["notes"] for r in notes] == ["家属电话 138****5678"]
    assert _holder(engine, case_id) == str(following)


def test_a_crashed_run_does_not_lock_its_case(served: tuple[ServedProcess, Engine]) -> None:
    _process, engine = served
    coordinator = Coordinator(timeout=120)
    case_id = _screened_case(engine)
    crashed = _waiting_run(engine, coordinator, case_id)
    with get_client(sync_client=True) as client:  # what the runner reports when a run's process dies
        client.set_flow_run_state(crashed, Crashed(message="process exited with -9"), force=True)

    _waiting_run(engine, coordinator, case_id)
    assert _claim_trail(engine, case_id) == [
        ("taken_over", str(crashed), f"run {crashed} is no longer running (Crashed)")
    ]


def test_a_run_left_waiting_by_a_killed_worker_is_cancelled_and_the_next_run_claims(
    served: tuple[ServedProcess, Engine],
) -> None:
    process, engine = served
    coordinator = Coordinator(timeout=120)
    case_id = _screened_case(engine)
    orphan = _waiting_run(engine, coordinator, case_id)
    process.kill()
    _cancel_as_the_ui_does(coordinator, orphan)  # no worker needed: the server cancels a suspended run
    process.start()

    _waiting_run(engine, coordinator, case_id)
    assert [what for what, _, _ in _claim_trail(engine, case_id)] == ["taken_over"]
