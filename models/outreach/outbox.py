"""The transactional outbox: messages written with the state change, sent later by the dispatcher (§5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, Session, SQLModel, select

from models.core import UtcDateTime, utcnow
from models.registry import Donor

__all__ = ["Outbox", "enqueue"]


class Outbox(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)  # sms | email | webhook
    recipient_ref: str = Field(max_length=64)  # e.g. "donor:123"; the address is looked up at send time
    template_key: str = Field(max_length=64)
    language: str = Field(default="zh-CN", max_length=8)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # no secrets, no raw ID numbers
    idempotency_key: str = Field(unique=True, max_length=128)
    urgent: bool = False
    status: str = Field(default="pending", max_length=10, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    provider_message_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


def enqueue(
    *,
    session: Session,
    channel: str,
    donor: Donor,
    template_key: str,
    context: dict[str, Any],
    key: str,
    urgent: bool = False,
) -> Outbox | None:
    """Add a message to the outbox in the caller's transaction; the same key twice adds it once.

    The address is not copied here: the dispatcher looks it up at send time, so an opt-out or a
    withdrawal in between is honoured and no phone number sits in the outbox.
    """
    existing = session.exec(select(Outbox).where(Outbox.idempotency_key == key)).first()
    if existing is not None:
        return None
    assert donor.id is not None
    message = Outbox(
        channel=channel,
        recipient_ref=f"donor:{donor.id}",
        template_key=template_key,
        language=donor.language,
        context=context,
        idempotency_key=key,
        urgent=urgent,
    )
    session.add(message)
    return message
