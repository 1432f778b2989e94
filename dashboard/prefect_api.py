"""The few Prefect REST calls the dashboard makes, with httpx (the dashboard never imports prefect: an
import-linter contract). Shapes as Prefect 3 answers them (prefect/client/orchestration/_flow_runs and
_deployments: `POST /flow_runs/filter`, `GET /flow_runs/{id}/input/{key}`, `GET /deployments/name/{flow}/
{deployment}`, `POST /deployments/{id}/create_flow_run`).

A run waiting for a coordinator is PAUSED (suspended runs are PAUSED too, named "Suspended"); its state's
`pause_key` is the form's key and `run_input_keyset["description"]` names the run input holding the form's
markdown (prefect/input/run_input.py: keyset_from_paused_state), whose `### …` heading is what it asks
(flows/runtime.py: describe). Parameters hold case ids only (no personal data goes to Prefect).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

__all__ = ["PrefectApi", "PrefectUnavailable", "WaitingRun"]

_CASE_IN_NAME = re.compile(r"-case-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_MARKDOWN_ESCAPE = re.compile(r"\\(.)")
_MOST_WAITING = 200


class PrefectUnavailable(Exception):
    """Prefect's API did not answer, or not as expected (the page says so instead of a 500)."""


class _Retryable(Exception):
    """An answer worth asking again (5xx; a deployment not registered yet)."""


def _raise_for(response: httpx.Response, *, retry_not_found: bool) -> None:
    if response.status_code >= 500 or (retry_not_found and response.status_code == 404):
        raise _Retryable(f"HTTP {response.status_code}")
    response.raise_for_status()


@dataclass(frozen=True)
class WaitingRun:
    run_id: str
    name: str
    state_name: str  # "Suspended" (a deployed run) or "Paused" (in-process)
    since: datetime
    form_key: str | None
    asks: str | None  # the form's heading: what the coordinator is asked
    not_accepted: str | None  # the reason a previous answer was refused, when the form is asked again
    case_id: str | None


def _case_of(run: dict[str, Any]) -> str | None:
    parameters = run.get("parameters") or {}
    if isinstance(parameters.get("case_id"), str):
        return str(parameters["case_id"])
    found = _CASE_IN_NAME.search(str(run.get("name", "")))
    return found.group(1) if found else None


def _what_it_asks(markdown: str) -> tuple[str | None, str | None]:
    """The form's `### heading`, and its bold first paragraph (the reason a previous answer was refused)."""
    asks = refused = None
    for line in markdown.splitlines():
        text = line.strip()
        if text.startswith("### ") and asks is None:
            asks = _MARKDOWN_ESCAPE.sub(r"\1", text[4:]).strip()
        elif text.startswith("**") and text.endswith("**") and refused is None and asks is None:
            refused = _MARKDOWN_ESCAPE.sub(r"\1", text.strip("*")).strip()
    return asks, refused


class PrefectApi:
    def __init__(self, api_url: str, timeout: float = 5.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=self.timeout)

    def waiting_runs(self) -> list[WaitingRun]:
        """Flow runs paused or suspended for an answer, the longest waiting first."""
        if not self.api_url:
            raise PrefectUnavailable("no Prefect API URL configured")
        body = {
            "flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": _MOST_WAITING,
        }
        try:
            with self._client() as client:
                answer = client.post("/flow_runs/filter", json=body)
                answer.raise_for_status()
                runs = [self._waiting(client, run) for run in answer.json()]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise PrefectUnavailable(type(exc).__name__) from None
        return sorted(runs, key=lambda run: run.since)

    def _waiting(self, client: httpx.Client, run: dict[str, Any]) -> WaitingRun:
        state = run.get("state") or {}
        details = state.get("state_details") or {}
        asks = refused = None
        description_key = (details.get("run_input_keyset") or {}).get("description")
        if description_key:
            found = client.get(f"/flow_runs/{run['id']}/input/{description_key}")
            if found.status_code == 200:
                try:
                    markdown = json.loads(found.text)
                except ValueError:
                    markdown = found.text
                asks, refused = _what_it_asks(str(markdown))
        return WaitingRun(
            run_id=str(run["id"]),
            name=str(run.get("name", "")),
            state_name=str(state.get("name") or "Paused"),
            since=datetime.fromisoformat(str(state.get("timestamp") or run["updated"])),
            form_key=details.get("pause_key"),
            asks=asks,
            not_accepted=refused,
            case_id=_case_of(run),
        )

    def start_deployment(
        self,
        flow: str,
        deployment: str,
        parameters: dict[str, Any],
        idempotency_key: str | None = None,
        attempts: int = 3,
    ) -> tuple[str, bool]:
        """A new flow run of the deployment `flow/deployment` (what `donorflow up` does for the demo's
        funnel report, donorflow/up.py): its id, and whether it is new. With an `idempotency_key` the
        server gives back the run already made under that key instead of a second one (201 new, 200 the
        existing run): a button pressed twice before the first run claimed its case starts one run.

        With a key, a call that may not have reached the server, or reached it and got no answer (a
        timeout, a refused connection, a 5xx, the deployment not registered yet while `make up` starts)
        is made again, up to `attempts` times: the key makes that safe, and a run created before a lost
        answer is given back, not made twice. (Found by the e2e test in a full, busy run: a start refused
        with "无法连接 Prefect" that a second press would have made.)"""
        if not self.api_url:
            raise PrefectUnavailable("no Prefect API URL configured")
        tries = attempts if idempotency_key is not None else 1
        for attempt in range(1, tries + 1):
            try:
                return self._create_run(flow, deployment, parameters, idempotency_key)
            except (httpx.TransportError, _Retryable) as exc:
                if attempt == tries:
                    raise PrefectUnavailable(type(exc).__name__) from None
                time.sleep(0.5 * attempt)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                raise PrefectUnavailable(type(exc).__name__) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_run(
        self, flow: str, deployment: str, parameters: dict[str, Any], idempotency_key: str | None
    ) -> tuple[str, bool]:
        with self._client() as client:
            found = client.get(f"/deployments/name/{flow}/{deployment}")
            _raise_for(found, retry_not_found=True)
            body: dict[str, Any] = {"parameters": parameters}
            if idempotency_key is not None:
                body["idempotency_key"] = idempotency_key
            created = client.post(f"/deployments/{found.json()['id']}/create_flow_run", json=body)
            _raise_for(created, retry_not_found=False)
            return str(created.json()["id"]), created.status_code == httpx.codes.CREATED
