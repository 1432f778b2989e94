"""The reminder engine's tables (issue 11, DESIGN.md §6): a ledger that makes each reminder happen once,
and the coordinators' tasks it opens.

`Reminder` has one row per (kind, subject, step) the engine has dealt with, whatever became of it: a
message queued, a task opened, or missed (fell due longer ago than the catch-up window: not sent to the
member, listed for the coordinator). Its unique `key` is what makes a second run of a day, or two runs
at once, do nothing twice. No personal data: codes, ids, dates and kinds only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from models.core import UtcDateTime, utcnow

__all__ = ["CoordinatorTask", "Reminder"]


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (Index("ix_reminder_kind_due", "kind", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    # e.g. "follow_up:<case>:month_1", "availability:<donor>:2027-03-01", "appointment:<case>:exam"
    key: str = Field(unique=True, max_length=120)
    kind: str = Field(max_length=32)  # follow_up | availability_check | age_out | appointment | idle_case | …
    donor_id: int | None = Field(default=None, foreign_key="donor.id", index=True)
    case_id: str | None = Field(default=None, foreign_key="donor_case.id", index=True, max_length=36)
    due_on: date
    outcome: str = Field(max_length=16)  # enqueued | task | missed | skipped
    run_on: date  # the day of the run that dealt with it (Asia/Shanghai)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CoordinatorTask(SQLModel, table=True):
    """Something a coordinator must do: chase an unanswered follow-up, look at an idle case, a missed
    reminder, a serious adverse event to report. Open until a coordinator closes it."""

    __tablename__ = "coordinator_task"
    __table_args__ = (Index("ix_coordinator_task_open", "status", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)  # opened once per (kind, subject, step)
    kind: str = Field(max_length=32)
    case_id: str | None = Field(default=None, foreign_key="donor_case.id", index=True, max_length=36)
    donor_id: int | None = Field(default=None, foreign_key="donor.id", index=True)
    due_on: date
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # codes, dates, counts: no names
    status: str = Field(default="open", max_length=8)  # open | done
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_by: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=500)
