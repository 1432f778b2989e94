"""Blood-donation aggregate: donations and deferrals (GB 18467-2011)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.db import UtcDateTime, utcnow

__all__ = ["BloodDonation", "Deferral"]


class BloodDonation(SQLModel, table=True):
    __tablename__ = "blood_donation"

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="recruitment_event.id")
    donated_at: datetime = Field(sa_type=UtcDateTime)
    kind: str = Field(max_length=20)  # whole_blood | platelets
    volume_ml: int | None = None  # whole blood: 200 / 300 / 400 mL
    therapeutic_doses: int | None = None  # apheresis platelets
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Deferral(SQLModel, table=True):
    """Temporary (with `until`) or permanent; voided with a reason, never deleted."""

    __tablename__ = "deferral"

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    kind: str = Field(max_length=10)  # temporary | permanent
    reason: str = Field(max_length=200)
    starts_on: date
    until: date | None = None
    voided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    void_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
