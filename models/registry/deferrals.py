"""Deferrals of a member: temporary (with `until`) or permanent; recorded, never deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, Session, SQLModel

from models.core import NotFoundError, UtcDateTime, local_date, utcnow
from models.registry.lifecycle import RegistryStatus
from models.registry.tables import Donor
from models.registry.transitions import change_registry_status

__all__ = ["Deferral", "defer_member"]


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


def defer_member(
    *, session: Session, donor_id: int, until: date, reason: str, actor: str, at: datetime | None = None
) -> Deferral:
    """A temporary deferral: the member is not searchable until `until` (in the caller's transaction).

    `at` is when it was decided (default now); the deferral starts that day, Asia/Shanghai.
    """
    when = at or utcnow()
    donor = session.get(Donor, donor_id)
    if donor is None:
        raise NotFoundError(f"member {donor_id} does not exist")
    deferral = Deferral(
        donor_id=donor_id, kind="temporary", reason=reason[:200], starts_on=local_date(when), until=until
    )
    session.add(deferral)
    if donor.status in (RegistryStatus.ACTIVE, RegistryStatus.REGISTERED):
        change_registry_status(
            session=session,
            donor=donor,
            to=RegistryStatus.DEFERRED,
            actor=actor,
            reason=reason[:200],
            until=until,
            at=when,
        )
    return deferral
