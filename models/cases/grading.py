"""Grading a case: its member against its patient, at screening and again on the high-res result."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

import hla
from models.cases.tables import CaseGrade, DonorCase
from models.matching import hla_tables, typing_genotype
from models.registry import HlaTyping

__all__ = ["grade_case"]

# What a case's grade keeps of the grader's answer beside the score (issue 13 items 4–7): per-position
# null alleles, WMDA level / ATLAS confidence / rule, patient loci untyped, DPB1 permissiveness by TCE
# group, and loci graded but left out of the total. Grades and rule names only: never a typing.
_DETAIL_KEYS = ("nulls", "details", "patient_untyped", "dpb1_tce", "not_counted")


def grade_case(
    *, session: Session, case_id: str, source: str, reference: hla.Reference | None = None
) -> CaseGrade | None:
    """Grade the case's member against its patient on the loci both are typed at; None if either is
    untyped. Added to the session (the caller's transaction), never replacing an earlier grade.
    ``reference`` defaults to the tables the search uses (models.matching.hla_tables)."""
    case = session.get(DonorCase, case_id)
    if case is None:
        return None
    patient_typing = session.exec(select(HlaTyping).where(HlaTyping.search_id == case.search_id)).first()
    donor_typing = session.exec(
        select(HlaTyping).where(HlaTyping.donor_id == case.donor_id).order_by(col(HlaTyping.id).desc())
    ).first()
    if patient_typing is None or donor_typing is None:
        return None
    reference = reference if reference is not None else hla_tables()
    patient = typing_genotype(patient_typing, reference)
    loci = tuple(locus for locus in hla.LOCI if locus in patient.loci)
    if not {"A", "B", "DRB1"} <= set(loci):
        return None
    result = hla.grade(patient, typing_genotype(donor_typing, reference), loci)
    summary = result.as_dict()
    grade = CaseGrade(
        case_id=case_id,
        source=source,
        matched=result.matched,
        of=result.of,
        mismatches=result.mismatches,
        certainty=str(result.certainty),
        loci=summary["loci"] if isinstance(summary["loci"], dict) else {},
        details=_details(summary),
    )
    session.add(grade)
    return grade


def _details(summary: dict[str, object]) -> dict[str, Any]:
    """The _DETAIL_KEYS of ``hla.MatchResult.as_dict()``; a key the grader does not give (``not_counted``
    until DPB1 may be left out of the total) is stored empty rather than missing."""
    empty: dict[str, Any] = {
        "nulls": {},
        "details": {},
        "patient_untyped": [],
        "dpb1_tce": None,
        "not_counted": [],
    }
    return {key: summary.get(key, empty[key]) for key in _DETAIL_KEYS}
