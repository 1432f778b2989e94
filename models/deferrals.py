"""Deferrals of a member: temporary (with `until`) or permanent; recorded, never deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from models.blood import Deferral
from models.clock import local_date
from models.db import utcnow
from models.errors import NotFoundError
from models.pipeline import RegistryStatus
from models.registry import Donor
from models.transitions import change_registry_status

__all__ = ["defer_member"]


def defer_member(
    *, session: Session, donor_id: int, until: date, reason: str, actor: str, at: datetime | None = None
) -> Deferral:
    """A temporary deferral: the member is not searchable until `until` (commits with the caller).

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
            commit=False,
        )
    return deferral
