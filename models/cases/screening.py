"""Initial screening (初筛): a patient search and the candidate members it screens, as cases."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.cases.grading import grade_case
from models.cases.tables import DonorCase, PatientSearch, PatientSearchCreate
from models.cases.transitions import announce_stage, open_case
from models.matching import typing_columns
from models.registry import Donor, HlaTyping

__all__ = ["ScreeningReport", "ensure_search", "screen_candidates"]


class ScreeningReport(BaseModel):
    search_id: str
    opened: list[dict[str, str]] = Field(default_factory=list)  # {"case_id", "code"}
    already_open: list[dict[str, str]] = Field(default_factory=list)
    refused: list[dict[str, str]] = Field(default_factory=list)  # {"code", "reason"}


def ensure_search(*, session: Session, data: PatientSearchCreate, hla_text: str = "") -> PatientSearch:
    """The patient's search, created once per patient code (a re-run finds it), with the patient's typing."""
    existing = session.exec(
        select(PatientSearch).where(PatientSearch.patient_code == data.patient_code)
    ).first()
    if existing is not None:
        return existing
    columns = typing_columns(hla_text) if hla_text.strip() else {}
    search = PatientSearch.model_validate(data)
    session.add(search)
    session.flush()
    if columns:
        session.add(HlaTyping.model_validate({"search_id": search.id, "resolution": "high", **columns}))
        session.flush()
    session.refresh(search)
    return search


def screen_candidates(
    *,
    session: Session,
    search_id: str,
    codes: list[str],
    actor: str,
    at: datetime | None = None,
    flow_run_id: str | None = None,
) -> ScreeningReport:
    """Open a `screened` case per candidate; unknown or unavailable members are reported, not fatal.

    Each case opened here enqueues `donorflow.case.screened` with it (the relay emits it after commit).
    """
    report = ScreeningReport(search_id=search_id)
    wanted = [code.strip().upper() for code in codes if code.strip()]
    donors = {d.code: d for d in session.exec(select(Donor).where(col(Donor.code).in_(wanted)))}
    existing = {
        c.donor_id: c.id for c in session.exec(select(DonorCase).where(DonorCase.search_id == search_id))
    }
    for code in dict.fromkeys(wanted):
        donor = donors.get(code)
        if donor is None:
            report.refused.append({"code": code[:32], "reason": "no such registry member"})
            continue
        if donor.status != "active":
            report.refused.append({"code": code, "reason": f"member is {donor.status}, not active"})
            continue
        assert donor.id is not None
        if donor.id in existing:
            report.already_open.append({"case_id": existing[donor.id], "code": code})
            continue
        case = open_case(
            session=session,
            search_id=search_id,
            donor_id=donor.id,
            actor=actor,
            at=at,
            flow_run_id=flow_run_id,
        )
        grade_case(session=session, case_id=case.id, source="screening")
        announce_stage(session=session, case=case)
        report.opened.append({"case_id": case.id, "code": code})
    return report
