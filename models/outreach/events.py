"""The pipeline's events through the outbox (issue 10 item 2): claimed by one relay at a time, emitted after
the commit that made them true, marked once emitted.

A transition enqueues its event in its own transaction (models/cases/transitions.py), so a rolled-back
transition leaves none and a crash after the commit leaves it pending. `relay_events` claims pending rows
(a lease, like the dispatcher's: a relay killed mid-batch is succeeded once the lease lapses), emits them
outside any transaction and marks them emitted. A relay killed between emitting and marking emits the same
rows again with the same idempotency keys: the emitter turns a key into the event's id, and the Prefect
server drops an id it has seen (flows/relay.py says for how long).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from models.core import DonorflowError, utcnow
from models.outreach.outbox import KIND_EVENT, Outbox

__all__ = [
    "EVENT_LEASE",
    "EVENT_RETRY",
    "PipelineEvent",
    "claim_events",
    "count_pending_events",
    "defer_events",
    "mark_emitted",
    "relay_events",
]

# A relay emits a batch in well under a second; the lease only has to outlast a slow Prefect server
# (the events client retries its connection ~10 times). A killed relay's rows come back after it.
EVENT_LEASE = timedelta(minutes=2)
# A row held back (its case is still held by a live run) or whose emission failed is due again after this:
# the one-minute dispatcher flow then takes it on its next run.
EVENT_RETRY = timedelta(minutes=1)


@dataclass(frozen=True)
class PipelineEvent:
    """A claimed event row, detached from the session: what the emitter needs and nothing else."""

    id: int
    key: str  # the idempotency key, one per transition
    event: str  # e.g. "donorflow.case.exam"
    resource: dict[str, str]  # the Prefect resource: ids and stage only, no personal data


def _claimable(now: datetime, key_prefix: str | None, any_due_time: bool) -> Any:
    pending = col(Outbox.status) == "pending"
    if not any_due_time:
        pending = and_(pending, col(Outbox.next_attempt_at) <= now)
    lapsed = and_(col(Outbox.status) == "sending", col(Outbox.claimed_until) < now)
    condition = and_(col(Outbox.kind) == KIND_EVENT, or_(pending, lapsed))
    if key_prefix is not None:
        condition = and_(condition, col(Outbox.idempotency_key).startswith(key_prefix, autoescape=True))
    return condition


def claim_events(
    *,
    session: Session,
    worker: str,
    now: datetime | None = None,
    limit: int = 100,
    lease: timedelta = EVENT_LEASE,
    key_prefix: str | None = None,
    any_due_time: bool = False,
) -> list[PipelineEvent]:
    """Take up to `limit` event rows that are pending and due, or claimed by a relay whose lease lapsed:
    marked `sending` by `worker` until now + lease, in the caller's transaction (commit it before emitting).

    Two relays never take the same row. PostgreSQL: the candidates are locked with FOR UPDATE SKIP LOCKED,
    so a concurrent relay passes over them instead of waiting. SQLite (one writer at a time): the UPDATE
    below is atomic and re-checks the claimable condition, so a relay that read the same candidates
    before the other committed updates none of them. `key_prefix` keeps to one case's events;
    `any_due_time` also takes rows held back until later (the caller knows they are ready now).
    """
    now = now or utcnow()
    claimable = _claimable(now, key_prefix, any_due_time)
    candidates = session.exec(
        select(Outbox.id)
        .where(claimable)
        .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    ).all()
    if not candidates:
        return []
    claimed = session.exec(
        update(Outbox)
        .where(col(Outbox.id).in_(candidates), claimable)
        .values(
            status="sending",
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=col(Outbox.attempts) + 1,
        )
        .returning(col(Outbox.id), col(Outbox.idempotency_key), col(Outbox.template_key), col(Outbox.context))
    ).all()
    return sorted(
        (
            PipelineEvent(id=row_id, key=key, event=event, resource={k: str(v) for k, v in context.items()})
            for row_id, key, event, context in claimed
        ),
        key=lambda event: event.id,
    )


def mark_emitted(*, session: Session, ids: Sequence[int], worker: str, now: datetime | None = None) -> int:
    """The rows `worker` still holds are emitted (status `sent`); returns how many. A row whose lease
    lapsed and that another relay took is left to that relay (it emits it again, under the same id)."""
    if not ids:
        return 0
    result = session.exec(
        update(Outbox)
        .where(col(Outbox.id).in_(ids), col(Outbox.claimed_by) == worker, col(Outbox.status) == "sending")
        .values(status="sent", sent_at=now or utcnow(), claimed_by=None, claimed_until=None, last_error=None)
    )
    return int(result.rowcount)


def defer_events(
    *,
    session: Session,
    ids: Sequence[int],
    worker: str,
    reason: str,
    until: datetime | None = None,
) -> int:
    """Give rows `worker` holds back, pending again from `until` (now + EVENT_RETRY), with the reason."""
    if not ids:
        return 0
    result = session.exec(
        update(Outbox)
        .where(col(Outbox.id).in_(ids), col(Outbox.claimed_by) == worker, col(Outbox.status) == "sending")
        .values(
            status="pending",
            next_attempt_at=until or utcnow() + EVENT_RETRY,
            claimed_by=None,
            claimed_until=None,
            last_error=reason[:500],
        )
    )
    return int(result.rowcount)


def count_pending_events(*, session: Session) -> int:
    """Events not emitted yet: pending, or claimed by a relay that has not marked them."""
    statement = select(func.count()).where(
        col(Outbox.kind) == KIND_EVENT, col(Outbox.status).in_(("pending", "sending"))
    )
    return int(session.exec(statement).one())


Emit = Callable[[Sequence[PipelineEvent]], None]


def relay_events(
    *,
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    emit: Emit,
    worker: str,
    held: Callable[[PipelineEvent], str | None] | None = None,
    key_prefix: str | None = None,
    any_due_time: bool = False,
    limit: int = 100,
    lease: timedelta = EVENT_LEASE,
) -> int:
    """Claim, emit, mark, batch after batch, until nothing claimable is left; returns how many it emitted.

    The one service that spans transactions, on purpose: the claim commits before the emission and the
    mark after it (an event emitted inside the transaction that enqueued it is the bug this relay exists
    to avoid), so it takes a unit-of-work factory instead of a session. `held(event)` says why an event
    must wait (e.g. its case is still held by the run that moved it) or None: held events are deferred.
    `emit` raises a DonorflowError when the events did not reach Prefect: the batch is deferred, with the
    reason, and the error raised.
    """
    emitted = 0
    while True:
        with unit_of_work() as session:
            claimed = claim_events(
                session=session,
                worker=worker,
                limit=limit,
                lease=lease,
                key_prefix=key_prefix,
                any_due_time=any_due_time,
            )
        if not claimed:
            return emitted
        waiting = {event.id: why for event in claimed if held and (why := held(event)) is not None}
        ready = [event for event in claimed if event.id not in waiting]
        try:
            if ready:
                emit(ready)
        except DonorflowError as exc:
            with unit_of_work() as session:
                defer_events(
                    session=session, ids=[e.id for e in claimed], worker=worker, reason=f"not emitted: {exc}"
                )
            raise
        with unit_of_work() as session:
            emitted += mark_emitted(session=session, ids=[e.id for e in ready], worker=worker)
            for reason in set(waiting.values()):
                ids = [event_id for event_id, why in waiting.items() if why == reason]
                defer_events(session=session, ids=ids, worker=worker, reason=reason)
        if len(claimed) < limit or not ready:  # all held back: the next relay looks again
            return emitted
