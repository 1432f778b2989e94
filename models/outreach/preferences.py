"""A member's choices about being contacted: opting out of (or back into) a channel, audited."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from models.core import ConflictError, ValidationError, audit_event, utcnow
from models.outreach.policy import MEMBER_CHANNELS
from models.registry import Donor, get_donor

__all__ = ["CONTACT_ENTITY", "set_opt_out"]

# Opt-outs are audited as StageEvents of entity "contact" (the funnel counts only "case" and "donor"
# events, and the HLA index refreshes on "donor" ones): from_state the channel, to_state what changed.
CONTACT_ENTITY = "contact"


def set_opt_out(*, session: Session, code: str, channel: str, opted_out: bool, actor: str) -> Donor:
    """Record that the member does (or, undone, no longer does) refuse messages on `channel`.

    Conditional on the member's version like every write to a member (a concurrent change is a
    ConflictError, nothing half-written). Already in that state: nothing changes, nothing is audited.
    Pending messages are not touched: the dispatcher reads the choice when it sends.
    """
    if channel not in MEMBER_CHANNELS:
        raise ValidationError(f"渠道无效 unknown channel {channel!r}: one of {', '.join(MEMBER_CHANNELS)}")
    donor = get_donor(session=session, code=code)
    assert donor.id is not None
    column = f"opt_out_{channel}"
    if getattr(donor, column) == opted_out:
        return donor
    result = session.exec(
        update(Donor)
        .where(col(Donor.id) == donor.id, col(Donor.version) == donor.version)
        .values({column: opted_out, "version": donor.version + 1, "updated_at": utcnow()})
    )
    if result.rowcount != 1:
        raise ConflictError(f"member {donor.code} was changed by someone else; reload and try again")
    session.add(
        audit_event(
            entity=CONTACT_ENTITY,
            donor_id=donor.id,
            from_state=channel,
            to_state="opted_out" if opted_out else "opted_in",
            at=utcnow(),
            actor=actor,
            reason=f"{channel} opt-out {'given' if opted_out else 'withdrawn'}",
        )
    )
    session.flush()
    session.refresh(donor)
    return donor
