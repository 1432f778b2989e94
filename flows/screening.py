"""初筛: a patient search from the national registry and its candidate members become screened cases."""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel, Field

from flows.runtime import current_run_id, emit_case_event, session
from models.cases import PatientSearchCreate
from models.screening import ensure_search, screen_candidates

__all__ = ["PatientSearchForm", "initial_screening"]


class PatientSearchForm(BaseModel):
    """The patient's search as the national registry sends it (no patient names here: codes only)."""

    patient_code: str = Field(
        min_length=1, max_length=64, title="Patient code", json_schema_extra={"position": 0}
    )
    centre: str = Field(
        min_length=1, max_length=200, title="Transplant centre", json_schema_extra={"position": 1}
    )
    diagnosis: str = Field(default="", max_length=200, title="Diagnosis", json_schema_extra={"position": 2})
    urgency: Literal["routine", "urgent"] = Field(
        default="routine", title="Urgency", json_schema_extra={"position": 3}
    )
    hla: str = Field(
        default="",
        max_length=500,
        title="Patient HLA typing (GL string or space-separated)",
        json_schema_extra={"position": 4},
    )


@flow(name="initial-screening", flow_run_name="initial-screening-{search.patient_code}", persist_result=True)
def initial_screening(
    search: PatientSearchForm, candidate_codes: list[str], coordinator: str
) -> dict[str, int]:
    """Open screened cases for the candidates the national search proposed for this patient.

    Args:
        search: the patient search (code, centre, diagnosis, urgency, HLA typing).
        candidate_codes: registry codes of the candidate members, e.g. ZZ21-000123.
        coordinator: your name (goes into the audit log).
    """
    logger = get_run_logger()
    with session() as db_session:
        patient = ensure_search(
            session=db_session,
            data=PatientSearchCreate(
                patient_code=search.patient_code,
                centre=search.centre,
                diagnosis=search.diagnosis or None,
                urgency=search.urgency,
            ),
        )
        report = screen_candidates(
            session=db_session,
            search_id=patient.id,
            codes=candidate_codes,
            actor=f"coordinator:{coordinator}",
            flow_run_id=current_run_id(),
        )
    for opened in report.opened:
        emit_case_event(opened["case_id"], "screened")
    rows = [{"case_id": r["case_id"], "member": r["code"], "result": "screened"} for r in report.opened]
    rows += [
        {"case_id": r["case_id"], "member": r["code"], "result": "already screened"}
        for r in report.already_open
    ]
    rows += [{"case_id": "", "member": r["code"], "result": r["reason"]} for r in report.refused]
    create_table_artifact(
        rows,
        key=f"screening-{_slug(search.patient_code)}",
        description=f"Initial screening for patient {search.patient_code}: cases opened",
    )
    for refused in report.refused:
        logger.warning("candidate %s not screened: %s", refused["code"], refused["reason"])
    return {
        "opened": len(report.opened),
        "already_open": len(report.already_open),
        "refused": len(report.refused),
    }


def _slug(text: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes only."""
    return (
        "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in text.lower()).strip("-") or "patient"
    )
