"""Grading a case: its member against its patient, at screening and again on the high-res result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

import hla
from models.cases.tables import CaseGrade, DonorCase
from models.matching import hla_tables, typing_genotype
from models.registry import HlaTyping

__all__ = ["GradeDetails", "PositionLevel", "grade_case", "grade_details"]

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
    # DPB1 is graded and its permissiveness kept, but left out of the score: a case reads "10/10, DPB1
    # permissive" as registries report it (issue 13 item 6), whichever way the search counted it.
    result = hla.grade(patient, typing_genotype(donor_typing, reference), loci, count_dpb1=False)
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


@dataclass(frozen=True)
class PositionLevel:
    """One patient position: the WMDA level that decided, ATLAS's confidence and the rule (hla.grading)."""

    level: str
    confidence: str
    rule: str


@dataclass(frozen=True)
class GradeDetails:
    """A stored grade's details as the case page reads them, each part in the grader's locus order."""

    nulls: list[tuple[str, list[str]]]  # locus -> how null alleles are involved, once each (NullMatch)
    dpb1_tce: str | None  # Dpb1Tce value; None when DPB1 was not graded
    patient_untyped: list[str]
    not_counted: list[str]
    levels: list[tuple[str, list[PositionLevel]]]  # locus -> its two positions


def grade_details(grade: CaseGrade) -> GradeDetails | None:
    """What ``grade_case`` stored beside the score; None for a grade written before migration 0013. Read
    leniently: a part of another shape (a later grader's) is left out rather than breaking the page."""
    stored = grade.details
    if not isinstance(stored, dict):
        return None
    nulls = stored.get("nulls")
    levels = stored.get("details")
    tce = stored.get("dpb1_tce")
    return GradeDetails(
        nulls=[
            (str(locus), list(dict.fromkeys(str(kind) for kind in kinds if kind)))
            for locus, kinds in (nulls.items() if isinstance(nulls, dict) else ())
            if isinstance(kinds, list) and any(kinds)
        ],
        dpb1_tce=str(tce) if tce else None,
        patient_untyped=_names(stored.get("patient_untyped")),
        not_counted=_names(stored.get("not_counted")),
        levels=[
            (str(locus), [_position(p) for p in positions if isinstance(p, dict)])
            for locus, positions in (levels.items() if isinstance(levels, dict) else ())
            if isinstance(positions, list)
        ],
    )


def _names(value: object) -> list[str]:
    return [str(name) for name in value] if isinstance(value, list) else []


def _position(stored: dict[str, Any]) -> PositionLevel:
    return PositionLevel(
        level=str(stored.get("level", "")),
        confidence=str(stored.get("confidence", "")),
        rule=str(stored.get("rule", "")),
    )
