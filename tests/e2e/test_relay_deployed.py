"""The event relay on a served deployment (issue 10, must show): a stage run killed between its commit and
the emission of its event, a restart, and the next stage still starts exactly once.

One served process (remobilise and high-res-typing, SQLite), started as `make up` starts it
(donorflow.deployments.serve_all), with the test-only fault DONORFLOW_FAULT_KILL_BEFORE_RELAY: the flow's
own process SIGKILLs itself in `finish`, after the case moved on and was released, before relaying. Then
the served process is killed and started again; its relay at start emits what the crash left pending.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.relay import emit_to_prefect
from models.cases import CaseStage, advance_case
from models.core import transaction
from models.outreach import Outbox, PipelineEvent
from tests.coordinator import Coordinator
from tests.databases import fresh_database
from tests.e2e.served import ROOT, ServedProcess, screened_case, served_env
from tests.e2e.test_pipeline_deployed import DONORFLOW, _run


@pytest.fixture
def served(prefect_server: str, tmp_path: Path) -> Iterator[tuple[ServedProcess, Engine]]:
    with fresh_database("sqlite", tmp_path) as url, (tmp_path / "serve.log").open("wb") as log:
        env = served_env(prefect_server, url, tmp_path)
        process = ServedProcess(env, log, {"remobilise", "high-res-typing"})
        engine = create_engine(url)
        try:
            yield process, engine
        finally:
            process.kill()  # the one run left waits (suspended) for a form: nothing to stop gracefully
            engine.dispose()


def _event_row(engine: Engine, case_id: str, stage: str) -> Outbox:
    with Session(engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.template_key == f"donorflow.case.{stage}")).all()
        (row,) = [r for r in rows if r.context["case_id"] == case_id]
        return row


def _high_res_runs(case_id: str) -> list[UUID]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"high-res-typing-case-{case_id}"]))
        )
    assert all(run.parameters == {"case_id": case_id} for run in runs)
    return [run.id for run in runs]


def _until_sent(engine: Engine, case_id: str, stage: str, timeout: float = 60) -> Outbox:
    deadline = time.monotonic() + timeout
    while (row := _event_row(engine, case_id, stage)).status != "sent":
        assert time.monotonic() < deadline, f"{row} not emitted"
        time.sleep(0.3)
    return row


def test_a_run_killed_between_commit_and_emission_starts_the_next_stage_once_after_a_restart(
    served: tuple[ServedProcess, Engine],
) -> None:
    process, engine = served
    coordinator = Coordinator(timeout=120)
    process.start(DONORFLOW_FAULT_KILL_BEFORE_RELAY="1")
    case_id = screened_case(engine)
    remobilising = _run("remobilise/remobilise", {"case_id": case_id})
    coordinator.answer(
        remobilising, {"coordinator": "李老师", "reached": "yes", "willing": "yes", "health_ok": "yes"}
    )
    # The case moved on and the run released it; then its process died, before relaying the event.
    assert coordinator.final_state(remobilising) == "Crashed"
    pending = _event_row(engine, case_id, "high_res_typing")
    assert (pending.status, pending.attempts) == ("pending", 0)

    process.kill()  # the restart: as after a crash or a power cut, no shutdown code runs
    process.start()
    next_stage = coordinator.run_named(f"high-res-typing-case-{case_id}").id  # the relay at start
    coordinator.next_form(next_stage)  # it claimed the case and asks for the sample booking
    sent = _until_sent(engine, case_id, "high_res_typing")
    assert sent.attempts == 1

    # A relay killed after emitting and before marking emits it again, under the same id: dropped.
    emit_to_prefect([PipelineEvent(sent.id or 0, sent.idempotency_key, sent.template_key, sent.context)])
    # Then another case moves on and `donorflow pipeline relay` emits its events: once its next stage
    # has started, the duplicate sent before was long dealt with.
    other = screened_case(engine)
    with Session(engine) as session, transaction(session):
        for stage in (CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING):
            advance_case(session=session, case_id=other, to=stage, actor="coordinator:李老师")
    relayed = subprocess.run(
        [DONORFLOW, "pipeline", "relay", "--json"],
        cwd=ROOT,
        env=process.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert relayed.returncode == 0, relayed.stderr
    assert json.loads(relayed.stdout) == {"emitted": 2}
    coordinator.run_named(f"high-res-typing-case-{other}")

    assert _high_res_runs(case_id) == [next_stage]
