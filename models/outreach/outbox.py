"""The transactional outbox (DESIGN.md §5): what must leave the system, written with the state change.

Three kinds of row share one table and one relay discipline:
- a message to a member (`recipient_ref="donor:<id>"`): the address is looked up at send time, so an
  opt-out or a withdrawal in between is honoured and no phone number sits in the outbox;
- a coordinator alert (`recipient_ref="coordinators"`): to the configured e-mail and/or group-bot webhook;
- a pipeline event (`kind="event"`, `recipient_ref="prefect"`): a Prefect event that starts the next
  stage, emitted by the relay after the commit that made it true (none lost on a crash, none twice).

A rolled-back transaction leaves no row; the idempotency key stores each message or event once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, Session, SQLModel, select

from models.core import UtcDateTime, utcnow
from models.registry import Donor

__all__ = [
    "COORDINATORS",
    "KIND_EVENT",
    "KIND_MESSAGE",
    "STATUSES",
    "Outbox",
    "enqueue",
    "enqueue_alert",
    "enqueue_event",
]

KIND_MESSAGE = "message"
KIND_EVENT = "event"
COORDINATORS = "coordinators"
# pending: due at next_attempt_at · sending: claimed by a dispatcher until claimed_until · sent · dead:
# failed for good (last_error says why) · skipped: not sent on purpose (opt-out, withdrawal; last_error why)
STATUSES = ("pending", "sending", "sent", "dead", "skipped")


class Outbox(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=KIND_MESSAGE, max_length=8)
    # None: the member's preferred channel, then the fallbacks, chosen at send time; set to the one used.
    channel: str | None = Field(default=None, max_length=16)
    recipient_ref: str = Field(max_length=64)  # "donor:123" | "coordinators" | "prefect"
    template_key: str = Field(max_length=64)  # a message's template, or an event's name
    language: str = Field(default="zh-CN", max_length=8)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # no secrets, no raw ID numbers
    idempotency_key: str = Field(unique=True, max_length=128)
    urgent: bool = False
    status: str = Field(default="pending", max_length=10, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    provider_message_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = Field(default=None, max_length=500)
    # The text the recipient was sent, as rendered here (the audit copy; for a provider's registered
    # template it is the preview of what the donor saw). Templates carry no names, phones or ID numbers.
    rendered: str | None = Field(default=None, sa_type=Text)
    # Only for a message that must reach a member whose contact details are erased meanwhile (the
    # withdrawal confirmation): the address, cleared as soon as the row is sent, dead or skipped.
    address_snapshot: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

    def __repr__(self) -> str:
        return (
            f"Outbox(id={self.id}, kind={self.kind!r}, key={self.idempotency_key!r}, "
            f"template={self.template_key!r}, status={self.status!r}, attempts={self.attempts})"
        )

    __str__ = __repr__


def _add_once(session: Session, row: Outbox) -> Outbox | None:
    existing = session.exec(select(Outbox.id).where(Outbox.idempotency_key == row.idempotency_key)).first()
    if existing is not None:
        return None
    session.add(row)
    return row


def enqueue(
    *,
    session: Session,
    donor: Donor,
    template_key: str,
    context: dict[str, Any],
    key: str,
    channel: str | None = None,
    urgent: bool = False,
    keep_address: bool = False,
) -> Outbox | None:
    """A message to a member, in the caller's transaction; the same key twice adds it once.

    `channel=None` (the default) sends on the member's preferred channel, then the fallbacks.
    `keep_address=True` copies the address now, for a message that must outlive its erasure.
    """
    assert donor.id is not None
    snapshot = None
    if keep_address:
        snapshot = donor.email if channel == "email" else donor.phone
    return _add_once(
        session,
        Outbox(
            channel=channel,
            recipient_ref=f"donor:{donor.id}",
            template_key=template_key,
            language=donor.language,
            context=context,
            idempotency_key=key,
            urgent=urgent,
            address_snapshot=snapshot,
        ),
    )


def enqueue_alert(
    *,
    session: Session,
    template_key: str,
    context: dict[str, Any],
    key: str,
    language: str = "zh-CN",
    urgent: bool = True,
) -> Outbox | None:
    """An alert to the coordinators (e-mail and/or group bot, per settings); coordinators are alerted
    at any hour by default: a dead letter or a waiting form should not wait for the morning."""
    return _add_once(
        session,
        Outbox(
            recipient_ref=COORDINATORS,
            template_key=template_key,
            language=language,
            context=context,
            idempotency_key=key,
            urgent=urgent,
        ),
    )


def enqueue_event(*, session: Session, event: str, resource: dict[str, str], key: str) -> Outbox | None:
    """A pipeline event, emitted by the relay after this transaction commits (never before, never lost)."""
    return _add_once(
        session,
        Outbox(
            kind=KIND_EVENT,
            channel="prefect",
            recipient_ref="prefect",
            template_key=event,
            context=dict(resource),
            idempotency_key=key,
            urgent=True,
        ),
    )
