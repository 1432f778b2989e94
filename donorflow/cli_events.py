"""`donorflow pipeline …`: the pipeline's Prefect events in the outbox (`donorflow events` is taken by the
recruitment drives). `relay` emits what is pending, as the served process does at start; `pending` counts.
"""

from __future__ import annotations

from typing import Annotated

import typer

pipeline_app = typer.Typer(
    help="流程事件 The pipeline's events (what starts each next stage).", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


@pipeline_app.command("relay")
def pipeline_relay(json_: JsonFlag = False) -> None:
    """Emit the pending stage events to Prefect now (after a crash, or when Prefect was unreachable)."""
    from donorflow import cli
    from donorflow.deployments import relay_pending_events  # wires the flows' runtime to the settings

    with cli._session():  # the schema check and the exit codes every command shares
        pass
    emitted = relay_pending_events()
    if json_:
        cli._print_json({"emitted": emitted})
        return
    cli.out.print(f"已发出 emitted: {emitted}")


@pipeline_app.command("pending")
def pipeline_pending(json_: JsonFlag = False) -> None:
    """Count the stage events not emitted yet."""
    from donorflow import cli
    from models.outreach import count_pending_events

    with cli._session() as session:
        pending = count_pending_events(session=session)
    if json_:
        cli._print_json({"pending": pending})
        return
    cli.out.print(f"待发出 pending: {pending}")
