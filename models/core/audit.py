"""The audit log: one append-only row per registry status change and per case stage change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.core.db import UtcDateTime, utcnow
from models.core.masking import mask_text

__all__ = ["StageEvent", "StageEventPublic", "audit_event", "audit_values"]

_ACTOR_MAX = 100
_REASON_MAX = 200


class StageEvent(SQLModel, table=True):
    """Append-only audit of every case stage change and every registry status change. Never updated."""

    __tablename__ = "stage_event"
    # The funnel dashboard's aggregates (issue 12, migration 0010, bench/funnel.py): a period's events by
    # time with what they count (index-only on SQLite and PostgreSQL), a case's stages for the days spent
    # in each, a period's closures by stage.
    __table_args__ = (
        Index("ix_stage_event_at_cover", "at", "entity", "to_state", "from_state", "case_id"),
        Index("ix_stage_event_case_state", "case_id", "to_state", "at"),
        Index("ix_stage_event_state_at", "to_state", "at"),
        # Days in stage: a period's moves out of a stage with the entry time they carry, from the index.
        Index("ix_stage_event_stays", "at", "from_state", "stage_days"),
    )

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
    # A case's move out of a stage carries when the case entered that stage, so the days spent in each
    # stage are read from one row (the funnel's days-in-stage over 1 M cases: a self-join of the audit log
    # took 1–11 s, bench/funnel.py). None on a case's first row and on a member's rows.
    from_state_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    stage_days: float | None = None  # at − from_state_since in days: counted without parsing timestamps


class StageEventPublic(SQLModel):
    entity: str
    case_id: str | None
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    reason: str | None
    flow_run_id: str | None


def audit_values(
    *,
    entity: str,
    donor_id: int,
    to_state: str,
    at: datetime,
    actor: str,
    case_id: str | None = None,
    from_state: str | None = None,
    reason: str | None = None,
    flow_run_id: str | None = None,
    recorded_at: datetime | None = None,
    from_state_since: datetime | None = None,
) -> dict[str, Any]:
    """One audit row's column values: the only place an audit row is built (ORM writes and bulk inserts).

    Actor and reason may be typed by a person: ID and phone numbers in them are masked and both are cut to
    their column's length, so the audit log never holds a number in full nor fails on a long note.
    """
    return {
        "entity": entity,
        "donor_id": donor_id,
        "case_id": case_id,
        "from_state": from_state,
        "to_state": to_state,
        "at": at,
        "recorded_at": recorded_at or utcnow(),
        "actor": mask_text(actor)[:_ACTOR_MAX],
        "reason": None if reason is None else mask_text(reason)[:_REASON_MAX],
        "flow_run_id": flow_run_id,
        "from_state_since": from_state_since,
        "stage_days": None if from_state_since is None else (at - from_state_since).total_seconds() / 86400,
    }


def audit_event(**values: Any) -> StageEvent:
    """The audit row as a table object to add to a session; same arguments as audit_values."""
    return StageEvent(**audit_values(**values))
