"""Blood-donation aggregate: donations (GB 18467-2011); deferrals live in models.registry."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.core import UtcDateTime, utcnow

__all__ = ["BloodDonation"]


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
