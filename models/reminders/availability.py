"""A member's answer to the 2-yearly availability check (DESIGN.md §6: DKMS re-checks every 2 years).

"Not available until …" is a pause, not a deferral: the member stays searchable and keeps their registry
status; only the availability checks wait until the pause ends. Audited like other registry changes
(a StageEvent on the member, from and to their unchanged status, with the answer as its reason).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlmodel import Session, col

from models.core import ConflictError, ValidationError, add_months, audit_event, local_date, utcnow
from models.registry import Donor, RegistryStatus

__all__ = ["record_availability"]


def record_availability(
    *,
    session: Session,
    donor: Donor,
    available: bool,
    until: date | None,
    actor: str,
    on: date | None = None,
    months: int = 24,
) -> Donor:
    """Record the member's answer on `on` (default today, Asia/Shanghai), in the caller's transaction.

    Available: checked today, the next check in `months`. Not available: paused until `until` (required,
    after today), asked again when the pause ends.
    """
    today = on or local_date(utcnow())
    if donor.status == RegistryStatus.WITHDRAWN:
        raise ValidationError(f"志愿者 {donor.code} 已退出 member has withdrawn: no availability to record")
    if donor.status == RegistryStatus.DECEASED:
        raise ValidationError(f"志愿者 {donor.code} 已登记为已故 member is recorded as deceased")
    if not available and (until is None or until <= today):
        raise ValidationError(
            f"志愿者 {donor.code}：暂停需要晚于 {today.isoformat()} 的截止日期 --until "
            f"(a pause needs an until date after {today.isoformat()})"
        )
    paused_until = None if available else until
    next_due = add_months(today, months) if available else until
    assert donor.id is not None
    result = session.exec(
        update(Donor)
        .where(col(Donor.id) == donor.id, col(Donor.version) == donor.version)
        .values(
            availability_checked_on=today,
            paused_until=paused_until,
            availability_due_on=next_due,
            version=donor.version + 1,
            updated_at=utcnow(),
        )
    )
    if result.rowcount != 1:
        raise ConflictError(f"志愿者 {donor.code} 刚被他人修改，请重试 member was changed by someone else")
    reason = "availability: available" if available else f"availability: paused until {until}"
    session.add(
        audit_event(
            entity="donor",
            donor_id=donor.id,
            from_state=donor.status,
            to_state=donor.status,
            at=utcnow(),
            actor=actor,
            reason=reason,
        )
    )
    session.flush()
    session.refresh(donor)
    return donor
