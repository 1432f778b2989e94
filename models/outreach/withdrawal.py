"""A member withdraws consent: the registry erases them, and they are told so, and nothing else, after.

This use case lives here, not in models.registry, because the registry is the lower room: the outbox
refers to its members, so the registry cannot call the outbox (models/__init__.py: registry ← outreach).
models.registry.withdraw_donor is the registry's half (the status change and the erasure); this adds,
in the same transaction, what the member hears.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from models.core import utcnow
from models.outreach.cancel import WITHDRAWN, cancel_pending_for
from models.outreach.outbox import enqueue
from models.registry import Donor, get_donor, withdraw_donor

__all__ = ["confirmation_channel", "withdraw_member"]


def withdraw_member(*, session: Session, code: str, actor: str, at: datetime | None = None) -> Donor:
    """Withdraw the member's consent (models.registry.withdraw_donor) and, in the caller's transaction:
    stop every message still pending to them (skipped, "withdrawn") and queue the confirmation.

    The confirmation must reach an address the withdrawal erases, so it keeps a copy of it
    (`keep_address`), taken before the erasure; the dispatcher clears the copy once the row is done.
    A ValidationError (already withdrawn) or ConflictError (changed meanwhile) leaves the caller's
    transaction to roll back: no confirmation, nothing skipped.
    """
    donor = get_donor(session=session, code=code)
    when = at or utcnow()
    assert donor.id is not None
    key = f"member:{donor.id}:withdrawal:{when:%Y%m%dT%H%M%S}"  # a re-joined member may withdraw again
    cancel_pending_for(session=session, donor_id=donor.id, reason=WITHDRAWN, keep_key=key)
    channel = confirmation_channel(donor)
    if channel is not None:
        enqueue(
            session=session,
            donor=donor,
            template_key="withdrawal_confirmation",
            context={"code": donor.code},
            key=key,
            channel=channel,
            keep_address=True,
        )
    return withdraw_donor(session=session, code=code, actor=actor, at=when)


def confirmation_channel(donor: Donor) -> str | None:
    """SMS if the member has a phone they did not opt out of, else e-mail likewise, else none (we have
    no address left to confirm to: an openid alone is not kept, the erasure drops it too)."""
    if donor.phone and not donor.opt_out_sms:
        return "sms"
    if donor.email and not donor.opt_out_email:
        return "email"
    return None
