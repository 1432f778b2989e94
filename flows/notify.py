"""The dispatcher's flow: every minute, send the outbox's due messages (DESIGN.md §5, issue 10 item 3).

The work is notifications.dispatch; the composition root (donorflow/deployments.py) hands this module
the one call that runs it with the installation's database, channels and templates. The flow's result
and logs are counts only: no recipient, no text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prefect import flow
from prefect.logging import get_run_logger

from flows.relay import relay_pending_events
from notifications.dispatch import DispatchResult

__all__ = ["Dispatcher", "configure_dispatch", "dispatch_notifications"]

Dispatcher = Callable[[], Awaitable[DispatchResult]]

_dispatcher: Dispatcher | None = None


def configure_dispatch(dispatcher: Dispatcher) -> None:
    global _dispatcher
    _dispatcher = dispatcher


@flow(name="dispatch-notifications", flow_run_name="dispatch-notifications", persist_result=False)
async def dispatch_notifications() -> dict[str, int]:
    """发送通知 — send the due outbox messages: opt-outs, withdrawals and quiet hours honoured, failures
    retried with backoff, dead letters reported to the coordinators. Safe to run at any time.

    It also relays the pipeline's events a crashed stage run left pending (flows/relay.py), so a lost
    emission is repaired within a minute even without a restart."""
    if _dispatcher is None:
        raise RuntimeError("the dispatcher is not wired: run the flow through donorflow/deployments.py")
    relayed = relay_pending_events()
    result = await _dispatcher()
    counts = {**result.as_dict(), "events_relayed": relayed}
    get_run_logger().info(
        "sent %(sent)d, retried %(retried)d, dead %(dead)d, skipped %(skipped)d, deferred %(deferred)d; "
        "pipeline events relayed %(events_relayed)d",
        counts,
    )
    return counts
