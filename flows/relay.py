"""The pipeline's event relay: emits the outbox's pending `donorflow.case.<stage>` events to Prefect, after
the commit that made them true, and marks them emitted (models/outreach/events.py holds the discipline).

Who runs it: `finish` (flows/runtime.py) after a stage released its case, the screening flow after it
opened cases, the served process once at start (donorflow/deployments.py: what a crash left pending), the
one-minute dispatcher flow, and `donorflow pipeline relay`.

None lost: a row is marked emitted only after Prefect's events endpoint took it (the events client below
raises otherwise, and the row waits for the next relay). None twice for one transition: the event id is
derived from the row's idempotency key, so a relay killed between emitting and marking emits the same id
again, and the Prefect server drops an event id it has seen. What holds in Prefect 3.9
(prefect/server/events/triggers.py `consumer`: `if await ordering.event_has_been_seen(event_id): return`,
before any trigger is evaluated; the id is recorded as seen once evaluated, in
prefect/server/events/ordering/memory.py, the default `server.events.causal_ordering`): the server keeps
the last 10,000 seen ids for 30 minutes (SEEN_EXPIRATION), in its own memory. Event storage keeps one row
per id as well (storage/database.py: INSERT … ON CONFLICT DO NOTHING). A re-emission after a server
restart or more than 30 minutes later does start the stage's flow again; that run then finds the case
held by the first run (refused) or its answers recorded (replayed, nothing new): the stage's own
idempotency, not the relay's, covers that rare case.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from uuid import UUID, uuid4, uuid5

from prefect.events import Event
from prefect.events.clients import get_events_client
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync

from flows.runtime import holder_gone, session
from models.cases import case_events_prefix, get_case
from models.core import DonorflowError, NotFoundError, TransientDeliveryError
from models.outreach import PipelineEvent, relay_events
from models.outreach.events import Emit

__all__ = ["EVENT_NAMESPACE", "emit_to_prefect", "event_id", "relay_pending_events"]

EVENT_NAMESPACE = UUID("3d1c6f0e-5b8a-4f2e-9c71-0a6b2d4e8f19")  # donorflow pipeline events: never change


def event_id(key: str) -> UUID:
    """The Prefect event id of an outbox row: the same row, the same id, in every relay and process."""
    return uuid5(EVENT_NAMESPACE, key)


async def _emit_all(events: Sequence[PipelineEvent]) -> None:
    # Not prefect.events.emit_event: it queues the event for a background worker that logs and drops an
    # event it could not send, so the row would be marked emitted with nothing sent. This client raises
    # instead, and closing it ends the websocket with a close handshake, which the server answers only
    # after reading every event sent before: when the block exits, Prefect has them all.
    # Three tries, not ten: a relay that cannot reach Prefect leaves the rows for the next relay, and a
    # stage's `finish` should not hang on it.
    async with get_events_client(reconnection_attempts=3) as client:
        for event in events:
            await client.emit(Event(event=event.event, resource=event.resource, id=event_id(event.key)))


def emit_to_prefect(events: Sequence[PipelineEvent]) -> None:
    """Send the events to the Prefect server before returning; TransientDeliveryError if it did not take
    them all (the relay then leaves them pending)."""
    try:
        run_coro_as_sync(_emit_all(events))
    except Exception as exc:  # noqa: BLE001  (websocket, HTTP and settings errors alike: retry later)
        raise TransientDeliveryError(
            f"the Prefect server did not take {len(events)} event(s): {type(exc).__name__}: {exc}"[:300]
        ) from exc


def _held(event: PipelineEvent) -> str | None:
    """Why a case's event must wait: its case is still held by a live run (the run that moved it, between
    its commit and its release). The next stage's run could not claim the case yet and would fail, and
    the event would be spent. A claim of a run that is gone (crashed, cancelled) does not hold it back:
    the next stage's run takes such a claim over (models/cases/claims.py)."""
    case_id = event.resource.get("case_id")
    if not case_id:
        return None
    with session() as db_session:
        try:
            holder = get_case(session=db_session, case_id=case_id).live_run_id
        except NotFoundError:
            return None
    if holder is None:
        return None
    try:
        if holder_gone(holder) is not None:
            return None
    except Exception as exc:  # noqa: BLE001  (Prefect unreachable: cannot tell, wait)
        return f"case {case_id} is held by run {holder}, state unknown: {type(exc).__name__}"
    return f"case {case_id} is still held by run {holder}"


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()  # in a flow run: the warning shows in the run's log in the UI
    except MissingContextError:
        return logging.getLogger("donorflow.relay")


def relay_pending_events(*, case_id: str | None = None, emit: Emit | None = None) -> int:
    """Emit the pipeline's pending events; returns how many were emitted.

    With `case_id`: only that case's events, due or held back (the caller has just released the case).
    Never raises for Prefect being unreachable: the events stay pending, a warning says so, and the next
    relay (dispatcher, restart, `donorflow pipeline relay`) emits them. `emit` replaces the Prefect
    emitter in tests.
    """
    worker = f"relay-{os.getpid()}-{uuid4().hex[:8]}"
    try:
        return relay_events(
            unit_of_work=session,
            emit=emit or emit_to_prefect,
            worker=worker,
            held=_held,
            key_prefix=case_events_prefix(case_id) if case_id else None,
            any_due_time=case_id is not None,
        )
    except DonorflowError as exc:
        _logger().warning("pipeline events left pending for the next relay: %s", exc)
        return 0
