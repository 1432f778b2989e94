"""Stuck cases on a served deployment: a run cancelled, crashed or left behind by a killed worker never
locks its case. One served process (the remobilise deployment only, SQLite) for the whole module.

What Prefect 3.9 does, checked here:
- cancelling a *suspended* run is done by the server alone (no process holds it: straight to Cancelled)
  and no state hook runs anywhere; the next stage run finds the claim stale and takes it over, audited;
- a flow-run process killed while running is reported Crashed by the served process, which then runs the
  flow's on_crashed hook: the case is released, audited;
- a worker killed with its run leaves the run Running; the coordinator's Cancel leaves it Cancelling (no
  worker finishes it), which counts as gone: the next run takes the case over.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Cancelling
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import CaseRecord, DonorCase
from models.core import StageEvent, mask_text
from tests.coordinator import Coordinator
from tests.databases import fresh_database
from tests.e2e.served import ServedProcess, screened_case, served_env
from tests.e2e.test_pipeline_deployed import _run

DEPLOYMENT = "remobilise/remobilise"


@pytest.fixture(scope="module")
def served(
    prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedProcess, Engine]]:
    tmp_path = tmp_path_factory.mktemp("stuck-cases")
    with fresh_database("sqlite", tmp_path) as url, (tmp_path / "serve.log").open("wb") as log:
        env = served_env(prefect_server, url, tmp_path, PREFECT_RESULTS_PERSIST_BY_DEFAULT="true")
        process = ServedProcess(env, log, {"remobilise"})
        process.start()
        engine = create_engine(url)
        try:
            yield process, engine
        finally:
            process.kill()  # every run left is suspended: nothing to shut down gracefully
            engine.dispose()


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
    case_id = screened_case(engine)
    cancelled = _waiting_run(engine, coordinator, case_id)
    _cancel_as_the_ui_does(coordinator, cancelled)

    following = _waiting_run(engine, coordinator, case_id)
    assert _claim_trail(engine, case_id) == [
        ("taken_over", str(cancelled), f"run {cancelled} is no longer running (Cancelled)")
    ]
    # The next run works normally; a note with a phone number is masked in Prefect, and the re-run after
    # the suspend reads the masked answer back, replays it and asks for the next attempt.
    note = "家属电话 13812345678"
    coordinator.answer(following, {"coordinator": "李老师", "reached": "no", "notes": note})
    key, _schema, _description = coordinator.next_form(following)
    assert key == "contact-2-1"
    with get_client(sync_client=True) as client:
        stored = client.filter_flow_run_input(following, key_prefix="", limit=100, exclude_keys=set())
    assert "13812345678" not in "".join(i.value for i in stored)
    with Session(engine) as session:
        notes = session.exec(select(CaseRecord).where(CaseRecord.case_id == case_id)).all()
        assert [r.data["notes"] for r in notes] == [mask_text(note)]
    assert _holder(engine, case_id) == str(following)


@contextmanager
def _running_run(engine: Engine, coordinator: Coordinator, case_id: str) -> Iterator[tuple[UUID, int]]:
    """A run that holds the case and is *running*, held there: it was waiting, is answered, and its
    re-run blocks on the database (the test holds SQLite's write lock) until the block exits."""
    run_id = _waiting_run(engine, coordinator, case_id)
    locker = sqlite3.connect(str(engine.url.database), isolation_level=None, timeout=30)
    locker.execute("BEGIN IMMEDIATE")  # writers wait (busy_timeout 30 s); readers go on
    try:
        coordinator.answer(
            run_id, {"coordinator": "李老师", "reached": "yes", "willing": "no", "health_ok": "yes"}
        )
        deadline = time.monotonic() + 60
        while _state(run_id) != "Running":  # the child reports Running, then runs the flow: it blocks
            assert time.monotonic() < deadline, f"run {run_id} did not start running"
            time.sleep(0.2)
        yield run_id, _flow_run_process(run_id)
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def _flow_run_process(run_id: UUID) -> int:
    """The pid of the served process's child now running `run_id` (the newest: the one that ran the run
    before its suspend may still be exiting)."""
    wanted = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    started: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and wanted in (proc / "environ").read_bytes().split(b"\0"):
                stat = (proc / "stat").read_text()
                started[int(proc.name)] = int(stat.rpartition(")")[2].split()[19])  # field 22: starttime
        except OSError:
            continue
    assert started, f"no process runs flow run {run_id}"
    return max(started, key=started.__getitem__)


def _state(run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        return state.name if state and state.name else ""


def test_a_run_whose_process_is_killed_releases_its_case(served: tuple[ServedProcess, Engine]) -> None:
    _process, engine = served
    coordinator = Coordinator(timeout=120)
    case_id = screened_case(engine)
    with _running_run(engine, coordinator, case_id) as (crashed, pid):
        os.kill(pid, signal.SIGKILL)
    assert coordinator.final_state(crashed) == "Crashed"  # the served process saw its child die

    # The served process saw its child die, reported Crashed, then ran the on_crashed hook: released.
    deadline = time.monotonic() + 60
    while not (trail := _claim_trail(engine, case_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert trail == [("released", str(crashed), "run Crashed")]
    _waiting_run(engine, coordinator, case_id)


def test_a_run_left_running_by_a_killed_worker_is_cancelled_and_the_next_run_claims(
    served: tuple[ServedProcess, Engine],
) -> None:
    process, engine = served
    coordinator = Coordinator(timeout=120)
    case_id = screened_case(engine)
    with _running_run(engine, coordinator, case_id) as (orphan, pid):
        process.kill()  # the worker, as a crash or a closed terminal would, and its process group
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # the flow-run process too, were it in a session of its own
    assert _state(orphan) == "Running"  # nobody is left to report it: it stays Running
    with get_client(sync_client=True) as client:  # the coordinator's Cancel in the UI
        client.set_flow_run_state(orphan, Cancelling())
    assert _state(orphan) == "Cancelling"  # no worker will ever finish the cancellation
    process.start()

    _waiting_run(engine, coordinator, case_id)
    assert _claim_trail(engine, case_id) == [
        ("taken_over", str(orphan), f"run {orphan} is no longer running (Cancelling)")
    ]
