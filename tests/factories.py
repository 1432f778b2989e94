"""Small builders for test data that goes straight into the database (no import sheet needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

from sqlmodel import Session

from models.cases import CaseStage, DonorCase, PatientSearch, open_case
from models.registry import Donor

_serial = count(1)

# A common Chinese 8/8 typing (HlaTyping columns), used as a patient and as its perfect donor.
PATIENT_TYPING = {
    "a_1": "A*02:01", "a_2": "A*24:02", "b_1": "B*40:01", "b_2": "B*46:01",
    "c_1": "C*01:02", "c_2": "C*03:04", "drb1_1": "DRB1*09:01", "drb1_2": "DRB1*15:01",
}  # fmt: skip


def add_donor(session: Session, *, status: str = "active", name: str = "王小明") -> Donor:
    n = next(_serial)
    donor = Donor(
        code=f"TT21-{n:06d}",
        name=name,
        sex="M",
        birth_date=date(1995, 5, 17),
        phone="13800138000",
        national_id_hash=f"hash-{n}-{datetime.now(UTC).timestamp()}",
        national_id_masked="410102************",
        consent_at=datetime(2021, 3, 1, 2, tzinfo=UTC),
        status=status,
    )
    session.add(donor)
    session.commit()
    session.refresh(donor)
    return donor


def add_search(session: Session, *, patient_code: str | None = None) -> PatientSearch:
    search = PatientSearch(patient_code=patient_code or f"P-{next(_serial)}", centre="河南省肿瘤医院")
    session.add(search)
    session.commit()
    session.refresh(search)
    return search


def add_case(
    session: Session,
    *,
    stage: CaseStage = CaseStage.EXAM,
    due_at: datetime | None = None,
    status: str = "active",
    name: str = "王小明",
) -> DonorCase:
    """A case for a new member, put straight into `stage` with its deadline at `due_at` (committed)."""
    donor, search = add_donor(session, name=name), add_search(session)
    assert donor.id is not None
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="test")
    case.stage, case.due_at, case.status = stage.value, due_at, status
    session.add(case)
    session.commit()
    session.refresh(case)
    return case
