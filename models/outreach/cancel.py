"""Stopping messages not sent yet: a member who withdraws consent is told nothing more (DESIGN.md §5, §8).

Only `pending` rows are stopped. A row a dispatcher has claimed (`sending`) is past recall here; the
dispatcher looks the address up at send time, and the withdrawal erased it, so it skips that row too.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col

from models.outreach.outbox import KIND_MESSAGE, Outbox

__all__ = [
    "WITHDRAWN",
    "cancel_pending_for",
    "cancel_pending_for_members",
    "close_as_history",
    "skip_pending",
]

WITHDRAWN = "withdrawn"  # last_error of a message stopped by a withdrawal


def cancel_pending_for(*, session: Session, donor_id: int, reason: str, keep_key: str | None = None) -> int:
    """Mark every pending message to the member `skipped` with `reason` (e.g. WITHDRAWN), in the caller's
    transaction, except the one keyed `keep_key` (the withdrawal confirmation). Returns how many."""
    return cancel_pending_for_members(session=session, donor_ids=[donor_id], reason=reason, keep_key=keep_key)


def cancel_pending_for_members(
    *, session: Session, donor_ids: Collection[int], reason: str, keep_key: str | None = None
) -> int:
    """As cancel_pending_for, for many members in one UPDATE (an ATLAS file's deletions)."""
    if not donor_ids:
        return 0
    refs = [f"donor:{donor_id}" for donor_id in donor_ids]
    statement = (
        update(Outbox)
        .where(
            col(Outbox.kind) == KIND_MESSAGE,
            col(Outbox.status) == "pending",
            col(Outbox.recipient_ref).in_(refs),
        )
        # A skipped row keeps no address (outbox.py: the snapshot goes when a row is sent, dead or skipped).
        .values(status="skipped", last_error=reason[:500], address_snapshot=None)
    )
    if keep_key is not None:
        statement = statement.where(col(Outbox.idempotency_key) != keep_key)
    return int(session.exec(statement).rowcount)


def close_as_history(*, session: Session, created_since: datetime, reason: str) -> int:
    """Mark every pending row (message or pipeline event) created since `created_since` `skipped` with
    `reason`, in the caller's transaction: a replay of a past year (the demo) queued what was sent back
    then; sending it now, or emitting its events (each would start a stage run), would be wrong."""
    statement = (
        update(Outbox)
        .where(col(Outbox.status) == "pending", col(Outbox.created_at) >= created_since)
        .values(status="skipped", last_error=reason[:500], address_snapshot=None)
    )
    return int(session.exec(statement).rowcount)


def skip_pending(*, session: Session, key: str, reason: str) -> int:
    """Mark the pending message keyed `key`, and the pending copies an alert fanned out to its targets
    (`key:<target>`), `skipped` with `reason`: what it says is no longer true (a form it announces was
    answered). In the caller's transaction; rows being sent or already sent are left. Returns how many."""
    statement = (
        update(Outbox)
        .where(
            col(Outbox.kind) == KIND_MESSAGE,
            col(Outbox.status) == "pending",
            or_(
                col(Outbox.idempotency_key) == key,
                col(Outbox.idempotency_key).startswith(f"{key}:", autoescape=True),
            ),
        )
        .values(status="skipped", last_error=reason[:500], address_snapshot=None)
    )
    return int(session.exec(statement).rowcount)
