"""Prefect's composition root: wires the flows to settings, builds every deployment from prefect.yaml
and serves them from one process (`make up`). It is also the entrypoint module of every deployment, so
a flow run started in a fresh process (after a suspend, by a trigger) is wired the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

import yaml
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.exceptions import TerminationSignal
from prefect.runner import Runner
from prefect.schedules import Cron, Interval, Schedule
from sqlmodel import Session

from donorflow import bootstrap
from flows import runtime
from flows.donation import donation
from flows.exam import pre_donation_exam
from flows.follow_up import follow_up
from flows.high_res import high_res_typing
from flows.notify import configure_dispatch, dispatch_notifications
from flows.relay import relay_pending_events
from flows.reminders import configure_reminders, daily_reminders
from flows.remobilise import remobilise
from flows.reports import flag_overdue, funnel_report
from flows.screening import initial_screening
from flows.signups import import_signups_flow, watch_inbox
from models.core import install_record_masking

__all__ = [
    "PREFECT_YAML",
    "deployments",
    "daily_reminders",
    "dispatch_notifications",
    "donation",
    "flag_overdue",
    "follow_up",
    "funnel_report",
    "high_res_typing",
    "import_signups_flow",
    "initial_screening",
    "pre_donation_exam",
    "relay_pending_events",
    "remobilise",
    "serve_all",
    "watch_inbox",
    "wire",
]

ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = ROOT / "prefect.yaml"


def wire() -> None:
    install_record_masking()  # flow-run logs go to the Prefect API: mask there too
    settings = bootstrap.get_settings()
    engine = bootstrap.get_engine(settings)
    runtime.configure(
        runtime.FlowConfig(
            session_factory=lambda: Session(engine),
            import_policy=bootstrap.import_policy(settings),
            inbox_dir=settings.var_dir / "inbox",
            max_contact_attempts=settings.max_contact_attempts,
            hla_index=bootstrap.hla_index_store(settings).open,
            hla_reference=bootstrap.hla_reference,
            hla_haplotypes=bootstrap.hla_haplotypes,
            prefect_ui_url=settings.prefect_ui_url,
            before_relay=_kill_this_process if settings.fault_kill_before_relay else None,
        )
    )
    configure_dispatch(lambda: bootstrap.dispatch_once(settings))
    configure_reminders(lambda day: bootstrap.run_reminders(day, settings))


def _kill_this_process() -> None:
    """TEST ONLY (Settings.fault_kill_before_relay): die as a crash would, no cleanup code run."""
    os.kill(os.getpid(), signal.SIGKILL)


wire()


def _schedule(spec: dict[str, Any]) -> Schedule:
    if "cron" in spec:
        return Cron(spec["cron"], timezone=spec.get("timezone"))
    return Interval(spec["interval"], timezone=spec.get("timezone"))


def _trigger(spec: dict[str, Any]) -> DeploymentEventTrigger:
    fields = {key: value for key, value in spec.items() if key != "type"}
    return DeploymentEventTrigger(**fields)


def deployments(names: set[str] | None = None) -> list[RunnerDeployment]:
    """Every deployment of prefect.yaml (or the named ones) as served deployments of this process."""
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    built = []
    for entry in spec["deployments"]:
        if names is not None and entry["name"] not in names:
            continue
        _path, _, attribute = entry["entrypoint"].partition(":")
        entrypoint = f"{os.path.relpath(Path(__file__), Path.cwd())}:{attribute}"
        built.append(
            RunnerDeployment.from_entrypoint(
                entrypoint,
                name=entry["name"],
                description=entry.get("description"),
                tags=entry.get("tags"),
                schedules=[_schedule(s) for s in entry.get("schedules", [])] or None,
                triggers=[_trigger(t) for t in entry.get("triggers", [])] or None,
                enforce_parameter_schema=entry.get("enforce_parameter_schema", True),
            )
        )
    return built


def serve_all(names: set[str] | None = None) -> None:
    """Serve every deployment (or the named ones) from this process until interrupted (Ctrl-C pauses
    their schedules).

    What prefect.serve does, with one step between registering and running: the pipeline events a crash
    left pending are relayed once the deployments and their triggers exist (an event emitted before its
    trigger exists starts nothing).
    """
    runner = Runner(pause_on_shutdown=True, limit=None)
    for deployment in deployments(names):
        runner.add_deployment(deployment)
    relayed = relay_pending_events()
    logging.getLogger("donorflow.relay").info("at start: %d pending pipeline event(s) emitted", relayed)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as exc:
        logging.getLogger("donorflow.deployments").info("%s: shutting down", type(exc).__name__)


if __name__ == "__main__":
    serve_all()
