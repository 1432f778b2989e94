"""A coordinator at the Prefect UI, in code: find the paused run, wait for its form, answer it."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input
from prefect.input.run_input import keyset_from_paused_state


class Coordinator:
    def __init__(self, timeout: float = 90) -> None:
        self.timeout = timeout
        self.answered: set[tuple[UUID, str]] = set()

    def run_named(self, name: str) -> FlowRun:
        deadline = time.monotonic() + self.timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
                )
                if runs:
                    return runs[0]
                time.sleep(0.3)
        raise TimeoutError(f"no flow run named {name}")

    def next_form(self, run_id: UUID) -> tuple[str, dict[str, Any], str]:
        """Wait until the run pauses on a form not answered yet; returns (pause key, schema, description)."""
        deadline = time.monotonic() + self.timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                run = client.read_flow_run(run_id)
                state = run.state
                if state is not None and state.is_final():
                    raise AssertionError(f"run {run.name} ended ({state.name}) while a form was expected")
                if state is not None and state.is_paused():
                    key = str(state.state_details.pause_key)
                    if (run_id, key) not in self.answered:
                        keyset = keyset_from_paused_state(state)
                        try:  # the schema is written just after the state (PrefectHQ/prefect#11905)
                            schema = read_flow_run_input(keyset["schema"], flow_run_id=run_id)
                        except Exception:  # noqa: BLE001  (not there yet: poll again)
                            schema = None
                        if isinstance(schema, dict) and schema:
                            description = read_flow_run_input(keyset["description"], flow_run_id=run_id) or ""
                            return key, schema, str(description)
                time.sleep(0.3)
        raise TimeoutError(f"run {run_id} did not pause for a new form within {self.timeout:.0f} s")

    def answer(self, run_id: UUID, values: dict[str, Any]) -> tuple[str, str]:
        """Answer the run's next form; returns its pause key and the description it showed."""
        key, _schema, description = self.next_form(run_id)
        self.answered.add((run_id, key))
        resume_flow_run(run_id, run_input=values)
        return key, description

    def final_state(self, run_id: UUID) -> str:
        deadline = time.monotonic() + self.timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    return state.name or state.type.value
                time.sleep(0.3)
        raise TimeoutError(f"run {run_id} did not finish")
