"""The `make up` Prefect server (SQLite, or PostgreSQL) under coordinators pressing Resume at the same time.

    .venv/bin/python bench/prefect_server_load.py [--workers 10] [--seconds 20]
        [--prefect-defaults | --postgres postgresql+asyncpg://user@host/db]

Starts `prefect server start` on a free loopback port with the environment `make up` gives it
(donorflow/up.py: prefect_env), or with Prefect's defaults for the settings donorflow adds
(--prefect-defaults), then runs N workers for S seconds. Each worker loops as a coordinator and a flow
would: a flow run is created and suspended with a form, the form's schema is written (a run input), the
run is resumed, logs and an artifact are written. Prints how many resumes failed at the first try (what
the UI shows as "Oops. Something went wrong"), how many still failed after retries like Prefect's client
makes them, and the resume latency.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from donorflow.settings import Settings  # noqa: E402
from donorflow.up import SQLITE_SERVER_SETTINGS, prefect_env  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Tally:
    """Resume answers as the UI sees them (one try), and what a retrying client (Prefect's: 503 → back
    off and retry, up to 5 times) finally gets. Every other call retries like Prefect's client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first_try: Counter[str] = Counter()
        self.after_retries: Counter[str] = Counter()
        self.other: Counter[str] = Counter()
        self.seconds: list[float] = []

    def call(
        self, client: httpx.Client, path: str, body: object, resume: bool = False
    ) -> httpx.Response | None:
        response: httpx.Response | None = None
        for attempt in range(6):
            started = time.perf_counter()
            try:
                response = client.post(path, json=body)
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                response, key = None, type(exc).__name__
            with self.lock:
                if resume and attempt == 0:
                    self.first_try[key] += 1
                    self.seconds.append(time.perf_counter() - started)
                if not key.startswith("2") and not resume:
                    self.other[f"{path.split('/')[-1] or path.split('/')[1]} {key}"] += 1
            if key not in ("503", "ReadError", "RemoteProtocolError"):
                break
            time.sleep(2 ** (attempt + 1) * random.uniform(0.8, 1.2))  # Prefect's client: 2, 4, 8 … s
        if resume:
            with self.lock:
                self.after_retries[key] += 1
        return response


def _coordinator(api: str, flow_id: str, until: float, tally: Tally) -> None:
    with httpx.Client(base_url=api, timeout=90) as client:
        while time.monotonic() < until:
            body = {"flow_id": flow_id, "name": f"load-{uuid.uuid4().hex[:8]}", "state": {"type": "RUNNING"}}
            created = tally.call(client, "/flow_runs/", body)
            if created is None or created.status_code >= 300:
                continue
            run = created.json()["id"]
            key = "contact-1"
            keyset = {
                "description": f"{key}-description",
                "response": f"{key}-response",
                "schema": f"{key}-schema",
            }
            details = {"pause_key": key, "pause_reschedule": True, "run_input_keyset": keyset}
            tally.call(
                client,
                f"/flow_runs/{run}/set_state",
                {"state": {"type": "PAUSED", "name": "Suspended", "state_details": details}, "force": True},
            )
            schema = '{"type": "object", "properties": {}}'
            tally.call(client, f"/flow_runs/{run}/input", {"key": keyset["schema"], "value": schema})
            line = {"name": "load", "level": 20, "timestamp": "2026-01-01T00:00:00Z", "flow_run_id": run}
            tally.call(client, "/logs/", [{**line, "message": f"line {n}"} for n in range(5)])
            tally.call(client, f"/flow_runs/{run}/resume", {"run_input": {}}, resume=True)
            artifact = {"type": "table", "data": [{"case_id": "x", "result": "ok"}], "flow_run_id": run}
            tally.call(client, "/artifacts/", artifact)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--prefect-defaults", action="store_true")
    parser.add_argument("--postgres", default="", help="the server on this database (postgresql+asyncpg://…)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra server setting"
    )
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="prefect-load-"))
    settings = Settings(var_dir=var, prefect_port=_free_port(), prefect_database_url=args.postgres)
    env = prefect_env(settings)
    if args.prefect_defaults:
        for key in SQLITE_SERVER_SETTINGS:
            env.pop(key, None)
    env |= dict(item.split("=", 1) for item in args.set)
    api = env["PREFECT_API_URL"]
    log = var / "server.log"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(settings.prefect_port)]
    with log.open("wb") as handle:
        server = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        flow_id = httpx.post(f"{api}/flows/", json={"name": "load"}, timeout=30).json()["id"]
        tally = Tally()
        until = time.monotonic() + args.seconds
        workers = [
            threading.Thread(target=_coordinator, args=(api, flow_id, until, tally))
            for _ in range(args.workers)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    resumes = sum(tally.first_try.values())
    ui_failed = resumes - tally.first_try["200"] - tally.first_try["201"]
    still_failed = resumes - tally.after_retries["200"] - tally.after_retries["201"]
    locked = log.read_text(encoding="utf-8", errors="replace").count("database is locked")
    p50, p95 = statistics.quantiles(tally.seconds, n=20)[9], statistics.quantiles(tally.seconds, n=20)[18]
    label = (
        "PostgreSQL" if args.postgres else "SQLite, Prefect defaults" if args.prefect_defaults else "SQLite"
    )
    print(  # noqa: T201
        f"{label} {' '.join(args.set)}: {args.workers} workers × {args.seconds:.0f} s: {resumes} resumes; "
        f"failed at the first try (the UI): {ui_failed} ({100 * ui_failed / max(resumes, 1):.1f} %), "
        f"after retries (Prefect's client): {still_failed}; resume p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms; other calls retried: {sum(tally.other.values())}; "
        f"'database is locked' in the server log: {locked}"
    )


if __name__ == "__main__":
    main()
