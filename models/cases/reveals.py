"""Contact details, audited (issue 12 item 4): a coordinator reveals a member's phone, e-mail and address
for a stated reason; every reveal is a row (who, when, which member, which case, why) that admins list.

The revealed values are returned to the caller only, never stored with the reveal nor logged. The reason's
free text is masked (ID and phone numbers) and cut, like every audit text (models.core.audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from models.cases.tables import DonorCase
from models.core import NotFoundError, UtcDateTime, ValidationError, mask_text, utcnow
from models.registry import Donor

__all__ = [
    "REVEAL_REASONS",
    "ContactDetails",
    "ContactReveal",
    "RevealRow",
    "list_reveals",
    "reveal_contact",
]

# Why a coordinator needs to reach the member (the form's short list); "other" needs the free text.
REVEAL_REASONS = ("contact_for_case", "arrange_appointment", "verify_identity", "follow_up", "other")
_NOTE_MAX = 200


class ContactReveal(SQLModel, table=True):
    """One reveal of a member's contact details: append-only, never updated."""

    __tablename__ = "contact_reveal"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    actor: str = Field(max_length=100)  # the user's name when they revealed
    donor_id: int = Field(foreign_key="donor.id", index=True)
    case_id: str | None = Field(default=None, foreign_key="donor_case.id", max_length=36)
    reason: str = Field(max_length=32)  # one of REVEAL_REASONS
    note: str | None = Field(default=None, max_length=_NOTE_MAX)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)


@dataclass(frozen=True)
class ContactDetails:
    """What a reveal shows once. Not a table, never logged: keep it out of repr."""

    member_code: str
    phone: str | None
    email: str | None
    address: str | None  # the city and district the member gave (the registry keeps no street address)

    def __repr__(self) -> str:
        return f"ContactDetails(member_code={self.member_code!r}, …)"

    __str__ = __repr__


@dataclass(frozen=True)
class RevealRow:
    at: datetime
    actor: str
    member_code: str
    case_id: str | None
    reason: str
    note: str | None


def reveal_contact(
    *,
    session: Session,
    case_id: str,
    user_id: int,
    actor: str,
    reason: str,
    note: str = "",
    at: datetime | None = None,
) -> ContactDetails:
    """The contact details of the case's member, the reveal recorded in the caller's transaction."""
    if reason not in REVEAL_REASONS:
        raise ValidationError(f"原因无效 unknown reason {reason!r}: one of {', '.join(REVEAL_REASONS)}")
    note = mask_text(note.strip())[:_NOTE_MAX]
    if reason == "other" and not note:
        raise ValidationError("选择“其他”时须说明原因 a reason 'other' needs a note")
    case = session.get(DonorCase, case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} does not exist")
    donor = session.get(Donor, case.donor_id)
    assert donor is not None and donor.id is not None  # a case's member is never deleted
    address = " ".join(part for part in (donor.city, donor.district) if part) or None
    if not (donor.phone or donor.email or address):
        raise ValidationError(
            f"志愿者 {donor.code} 无联系方式（已退出或未登记） member {donor.code} has no contact details"
        )
    session.add(
        ContactReveal(
            user_id=user_id,
            actor=actor[:100],
            donor_id=donor.id,
            case_id=case.id,
            reason=reason,
            note=note or None,
            at=at or utcnow(),
        )
    )
    session.flush()
    return ContactDetails(member_code=donor.code, phone=donor.phone, email=donor.email, address=address)


def list_reveals(*, session: Session, limit: int = 500) -> list[RevealRow]:
    """The latest reveals first: who looked at whose contact details, when and why."""
    rows = session.exec(
        select(ContactReveal, Donor.code)
        .join(Donor, col(Donor.id) == ContactReveal.donor_id)
        .order_by(col(ContactReveal.at).desc(), col(ContactReveal.id).desc())
        .limit(limit)
    ).all()
    return [
        RevealRow(reveal.at, reveal.actor, code, reveal.case_id, reveal.reason, reveal.note)
        for reveal, code in rows
    ]
