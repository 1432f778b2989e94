"""Moving a member between registry states: the change and its StageEvent in the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import Session, col

from models.core import (
    ConflictError,
    IllegalTransitionError,
    ValidationError,
    audit_event,
    utcnow,
)
from models.registry.lifecycle import REGISTRY_MOVES, RegistryStatus, allowed_registry_moves
from models.registry.tables import Donor

__all__ = ["change_registry_status"]


def change_registry_status(
    *,
    session: Session,
    donor: Donor,
    to: RegistryStatus,
    actor: str,
    at: datetime | None = None,
    reason: str | None = None,
    until: date | None = None,
) -> Donor:
    """Move a member between registry states, with its StageEvent (the donor side of the audit log)."""
    current = RegistryStatus(donor.status)
    if to not in REGISTRY_MOVES[current]:
        raise IllegalTransitionError(
            f"member {donor.code} is {current.value}: cannot become {to.value}; "
            f"allowed: {', '.join(allowed_registry_moves(current)) or 'none'}"
        )
    if to is RegistryStatus.DEFERRED and until is None:
        raise ValidationError(f"member {donor.code}: a deferral needs an `until` date")
    assert donor.id is not None
    when = at or utcnow()
    result = session.exec(
        update(Donor)
        .where(col(Donor.id) == donor.id, col(Donor.version) == donor.version)
        .values(status=to.value, status_until=until, version=donor.version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise ConflictError(f"member {donor.code} was changed by someone else; reload and try again")
    event = audit_event(
        entity="donor",
        donor_id=donor.id,
        from_state=current.value,
        to_state=to.value,
        at=when,
        actor=actor,
        reason=reason,
    )
    session.add(event)
    session.flush()
    session.refresh(donor)  # the UPDATE bypassed the ORM: read the new status and version back
    return donor
