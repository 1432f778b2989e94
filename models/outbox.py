"""The transactional outbox: messages written with the state change, sent later by the dispatcher (§5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from models.db import UtcDateTime, utcnow

__all__ = ["Outbox"]


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
