"""The audit log: one append-only row per registry status change and per case stage change."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.core.db import UtcDateTime, utcnow

__all__ = ["StageEvent", "StageEventPublic"]


class StageEvent(SQLModel, table=True):
    """Append-only audit of every case stage change and every registry status change. Never updated."""

    __tablename__ = "stage_event"

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=8)  # "donor" | "case"
    donor_id: int = Field(foreign_key="donor.id", index=True)
    case_id: str | None = Field(default=None, foreign_key="donor_case.id", index=True, max_length=36)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20, index=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)  # when it happened (business time)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    actor: str = Field(max_length=100)
    reason: str | None = Field(default=None, max_length=200)
    flow_run_id: str | None = Field(default=None, max_length=36)


class StageEventPublic(SQLModel):
    entity: str
    case_id: str | None
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    reason: str | None
    flow_run_id: str | None
