"""Use cases on registry members and drives: create a drive, look a member up, withdraw consent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from models.core import NotFoundError, ValidationError, utcnow
from models.registry.lifecycle import RegistryStatus
from models.registry.tables import Donor, DonorPublic, HlaTyping, RecruitmentEvent, RecruitmentEventCreate
from models.registry.transitions import change_registry_status

__all__ = [
    "create_event",
    "erase_withdrawn",
    "get_donor",
    "get_event",
    "latest_typing",
    "show_donor",
    "withdraw_donor",
]


def create_event(*, session: Session, data: RecruitmentEventCreate) -> RecruitmentEvent:
    event = RecruitmentEvent.model_validate(data)
    session.add(event)
    session.flush()
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
        shown = code.strip()[:32]
        raise NotFoundError(f"没有编号为 {shown} 的志愿者 no registry member with code {shown}")
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

    The status change is conditional on the version just read, like every write to a member: if an
    import (or a coordinator) changed the member in between, this raises ConflictError and changes
    nothing, and the withdrawal is simply given again. What is erased and kept: erase_withdrawn.

    This is the registry's half: a member's own withdrawal goes through models.outreach.withdraw_member,
    which also stops the messages still pending to them and queues the confirmation (the outbox refers
    to members, so the registry cannot call it: models/__init__.py).
    """
    donor = get_donor(session=session, code=code)
    if donor.status == RegistryStatus.WITHDRAWN:
        raise ValidationError(f"member {donor.code} has already withdrawn")
    assert donor.id is not None
    when = at or utcnow()
    change_registry_status(
        session=session,
        donor=donor,
        to=RegistryStatus.WITHDRAWN,
        actor=actor,
        at=when,
        reason="consent withdrawn",
    )
    erase_withdrawn(session=session, donor_ids=[donor.id], at=when)
    session.refresh(donor)
    return donor


def erase_withdrawn(*, session: Session, donor_ids: Sequence[int], at: datetime) -> None:
    """The one writer of a withdrawal's erasure (DESIGN.md §8), for a withdrawal and an ATLAS deletion.

    Runs in the caller's transaction, after its conditional move to `withdrawn` (which holds the row).
    Kept: the code, sex, birth year (anonymous statistics), the salted ID hash (so an old sheet
    re-imported later cannot silently re-register the person) and every StageEvent. Erased: name, phone,
    e-mail, WeChat openid, external id, the ID mask (even the region code left in it), the rest of the
    birth date and every HLA typing (so the search index drops the member at its next refresh).
    """
    if not donor_ids:
        return
    table = Donor.__table__  # type: ignore[attr-defined]
    births = session.execute(
        sql_select(table.c.id, table.c.birth_date).where(table.c.id.in_(list(donor_ids)))
    ).all()
    erase = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == RegistryStatus.WITHDRAWN.value)
        .values(
            name=None,
            phone=None,
            email=None,
            wechat_openid=None,  # identifies the person at the branch's official account
            external_id=None,
            national_id_masked="",
            birth_date=bindparam("b_birth_year"),
            withdrawn_at=at,
            updated_at=utcnow(),
        )
    )
    rows = [{"b_id": i, "b_birth_year": b.replace(month=1, day=1) if b else None} for i, b in births]
    connection = session.connection()
    connection.execute(erase, rows)
    connection.execute(delete(HlaTyping).where(col(HlaTyping.donor_id).in_(list(donor_ids))))
