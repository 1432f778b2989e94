"""What a form's header says about a case: codes and names only, never personal data."""

from __future__ import annotations

from dataclasses import dataclass

from models.cases.tables import PatientSearch
from models.cases.transitions import get_case
from models.core import Session
from models.registry import Donor

__all__ = ["CaseSummary", "describe_case"]


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    member_code: str  # "?" if the member is gone
    patient: str  # patient code and centre, "?" if the search is gone
    stage: str


def describe_case(*, session: Session, case_id: str) -> CaseSummary:
    case = get_case(session=session, case_id=case_id)
    donor = session.get(Donor, case.donor_id)
    search = session.get(PatientSearch, case.search_id)
    return CaseSummary(
        case_id=case.id,
        member_code=donor.code if donor else "?",
        patient=f"{search.patient_code} at {search.centre}" if search else "?",
        stage=case.stage,
    )
