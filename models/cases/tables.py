"""Case aggregate: patient searches, one case per member considered, its records, follow-ups, grades."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.core import UtcDateTime, utcnow

__all__ = [
    "CaseGrade",
    "CaseRecord",
    "DonorCase",
    "DonorCasePublic",
    "FollowUp",
    "PatientSearch",
    "PatientSearchCreate",
]


def _new_id() -> str:
    # String UUIDs: Prefect event labels are strings, so ids travel through triggers unchanged.
    return str(uuid.uuid4())


class PatientSearchBase(SQLModel):
    patient_code: str = Field(min_length=1, max_length=64)
    centre: str = Field(min_length=1, max_length=200)
    diagnosis: str | None = Field(default=None, max_length=200)
    urgency: str = Field(default="routine", max_length=10)


class PatientSearchCreate(PatientSearchBase):
    urgency: Literal["routine", "urgent"] = "routine"


class PatientSearch(PatientSearchBase, table=True):
    __tablename__ = "patient_search"

    id: str = Field(default_factory=_new_id, primary_key=True, max_length=36)
    patient_code: str = Field(unique=True, max_length=64)
    status: str = Field(default="open", max_length=10)
    requested_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class DonorCase(SQLModel, table=True):
    """One registry member considered for one patient search; `version` is the optimistic lock."""

    __tablename__ = "donor_case"
    __table_args__ = (UniqueConstraint("search_id", "donor_id", name="uq_case_search_donor"),)

    id: str = Field(default_factory=_new_id, primary_key=True, max_length=36)
    search_id: str = Field(foreign_key="patient_search.id", index=True, max_length=36)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    stage: str = Field(default="screened", max_length=20, index=True)
    status: str = Field(default="active", max_length=10, index=True)
    closed_reason: str | None = Field(default=None, max_length=20)
    version: int = 1
    stage_entered_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    live_run_id: str | None = Field(default=None, max_length=36)  # the one stage flow run working on it
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class DonorCasePublic(SQLModel):
    id: str
    search_id: str
    donor_code: str
    stage: str
    status: str
    closed_reason: str | None
    version: int
    stage_entered_at: datetime
    due_at: datetime | None


class CaseRecord(SQLModel, table=True):
    """What a coordinator answered at a stage (contact attempt, sample, result, booking), kept as given.

    `key` makes each answer idempotent: a flow that re-runs from the top after a suspend finds its
    earlier answers here instead of recording them twice.
    """

    __tablename__ = "case_record"
    __table_args__ = (UniqueConstraint("case_id", "key", name="uq_case_record_key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="donor_case.id", index=True, max_length=36)
    stage: str = Field(max_length=20)
    key: str = Field(max_length=64)  # e.g. "contact-2", "sample", "exam-result"
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    actor: str = Field(max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    flow_run_id: str | None = Field(default=None, max_length=36)


class FollowUp(SQLModel, table=True):
    """A due follow-up contact after a stem-cell donation (DKMS: day 2, week 1, month 1, month 6, yearly)."""

    __tablename__ = "follow_up"
    __table_args__ = (
        UniqueConstraint("case_id", "label", name="uq_follow_up_label"),
        # The reminder engine's daily scans (issue 11, migration 0007): due ones by date, reminded ones by
        # the date of their last reminder; answered and finished follow-ups are never read.
        Index("ix_follow_up_status_due", "status", "due_on"),
        Index("ix_follow_up_status_reminded", "status", "last_reminded_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="donor_case.id", index=True, max_length=36)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    label: str = Field(max_length=16)
    due_on: date = Field(index=True)
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    outcome: str | None = Field(default=None, max_length=200)
    # due → reminded (questionnaire sent) → answered | missed (fell due before the catch-up window) |
    # lost (unanswered after the last reminder) | cancelled (withdrawal, death)
    status: str = Field(default="due", max_length=12, index=True)
    reminders_sent: int = 0
    last_reminded_on: date | None = None
    answers: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # recovered, symptoms, days off, …
    spear_category: str | None = Field(default=None, max_length=32)  # WMDA S(P)EAR, when serious
    answered_by: str | None = Field(default=None, max_length=100)


class CaseGrade(SQLModel, table=True):
    """How well the member matches the patient, graded at screening and again on the high-res result.

    Kept as history: a coordinator sees whether confirmatory typing confirmed, improved or broke the match.
    """

    __tablename__ = "case_grade"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="donor_case.id", index=True, max_length=36)
    source: str = Field(max_length=16)  # screening | high_res
    matched: int
    of: int
    mismatches: int
    certainty: str = Field(max_length=10)
    loci: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # Issue 13 items 4–7 beside the score (migration 0013): nulls, per-position WMDA level and ATLAS
    # confidence, patient loci untyped, DPB1 permissiveness, loci left out of the total. Grades only,
    # never a typing. NULL for grades written before 0013.
    details: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
