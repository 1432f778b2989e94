"""Use cases on registry members and drives: create a drive, look a member up, withdraw consent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models.db import transaction, utcnow
from models.errors import NotFoundError, ValidationError
from models.pipeline import RegistryStatus
from models.registry import Donor, DonorPublic, HlaTyping, RecruitmentEvent, RecruitmentEventCreate
from models.transitions import change_registry_status

__all__ = ["create_event", "get_donor", "get_event", "latest_typing", "show_donor", "withdraw_donor"]


def create_event(*, session: Session, data: RecruitmentEventCreate) -> RecruitmentEvent:
    event = RecruitmentEvent.model_validate(data)
    with transaction(session):
        session.add(event)
    session.refresh(event)
    return event


def get_event(*, session: Session, event_id: int) -> RecruitmentEvent:
    event = session.get(RecruitmentEvent, event_id)
    if event is None:
        raise NotFoundError(f"recruitment event {event_id} does not exist")
    return event


def get_donor(*, session: Session, code: str) -> Donor:
    donor = session.exec(select(Donor).where(Donor.code == code.strip().upper())).first()
    if donor is None:
        raise NotFoundError(f"no registry member with code {code.strip()[:32]}")
    return donor


def latest_typing(*, session: Session, donor_id: int) -> HlaTyping | None:
    return session.exec(
        select(HlaTyping).where(HlaTyping.donor_id == donor_id).order_by(col(HlaTyping.id).desc())
    ).first()


def show_donor(*, session: Session, code: str) -> DonorPublic:
    donor = get_donor(session=session, code=code)
    assert donor.id is not None
    return DonorPublic.from_donor(donor, latest_typing(session=session, donor_id=donor.id))


def withdraw_donor(*, session: Session, code: str, actor: str, at: datetime | None = None) -> Donor:
    """Consent withdrawn: erase personal data, keep the anonymous counts and the audit trail.

    Kept: the code, sex, birth year (for anonymous statistics), the salted ID hash (so an old sheet
    re-imported later cannot silently re-register the person) and every StageEvent. Erased: name,
    phone, e-mail, full birth date, external id and the HLA typing strings.
    """
    donor = get_donor(session=session, code=code)
    if donor.status == RegistryStatus.WITHDRAWN:
        raise ValidationError(f"member {donor.code} has already withdrawn")
    when = at or utcnow()
    with transaction(session):
        change_registry_status(
            session=session,
            donor=donor,
            to=RegistryStatus.WITHDRAWN,
            actor=actor,
            at=when,
            reason="consent withdrawn",
            commit=False,
        )
        session.refresh(donor)
        donor.name = None
        donor.phone = None
        donor.email = None
        donor.external_id = None
        if donor.birth_date is not None:
            donor.birth_date = donor.birth_date.replace(month=1, day=1)
        donor.withdrawn_at = when
        donor.updated_at = utcnow()
        session.add(donor)
        for typing in session.exec(select(HlaTyping).where(HlaTyping.donor_id == donor.id)):
            session.delete(typing)
    session.refresh(donor)
    return donor
