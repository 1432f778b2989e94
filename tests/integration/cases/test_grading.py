"""A case's grade keeps the grader's details beside the score (issue 13 items 4–7), on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hla import SHIPPED_DIR, Reference, load_reference
from models.cases import CaseGrade, grade_case, open_case
from models.registry import HlaTyping
from tests.factories import PATIENT_TYPING, add_donor, add_search

# The patient's DPB1: 01:01 and 04:01, both in TCE group 3 of the shipped dpb_tce.csv (3.58.0).
PATIENT = {**PATIENT_TYPING, "dpb1_1": "DPB1*01:01", "dpb1_2": "DPB1*04:01"}
# The member: C*04:09N (a null: expresses no C protein) beside C*03:04, and DPB1*02:01 (TCE group 3).
MEMBER = {**PATIENT, "c_1": "C*04:09N", "dpb1_1": "DPB1*02:01"}


@pytest.fixture(scope="module")
def shipped() -> Reference:
    return load_reference(SHIPPED_DIR)


def _graded_case(session: Session, member: dict[str, str], reference: Reference) -> int:
    """A case of a member typed `member` for a patient typed PATIENT, graded and committed; the grade id."""
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    session.add(HlaTyping.model_validate({"donor_id": donor.id, "resolution": "high", **member}))
    session.add(HlaTyping.model_validate({"search_id": search.id, "resolution": "high", **PATIENT}))
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="test")
    grade = grade_case(session=session, case_id=case.id, source="screening", reference=reference)
    assert grade is not None
    session.commit()
    assert grade.id is not None
    return grade.id


def test_the_TCE_groups_the_test_relies_on_are_those_shipped(shipped: Reference) -> None:
    assert {allele: shipped.tce.get(allele) for allele in ("01:01", "02:01", "04:01")} == {
        "01:01": 3,
        "02:01": 3,
        "04:01": 3,
    }


def test_a_grade_stores_the_null_allele_the_dpb1_permissiveness_and_each_positions_level(
    session: Session, engine: Engine, shipped: Reference
) -> None:
    grade_id = _graded_case(session, MEMBER, shipped)
    with Session(engine) as fresh:  # read back from the database, not the identity map
        stored = fresh.exec(select(CaseGrade).where(CaseGrade.id == grade_id)).one()
    # A, B, C, DRB1 counted (the patient has no DQB1): 7/8 for the null at C; DPB1 graded (a permissive
    # mismatch) but left out of the score, as registries report it.
    assert (stored.matched, stored.of, stored.mismatches) == (7, 8, 1)
    assert stored.details is not None
    assert set(stored.details) == {"nulls", "details", "patient_untyped", "dpb1_tce", "not_counted"}
    assert stored.details["nulls"] == {"C": [None, "expressed_vs_null"]}
    assert stored.details["dpb1_tce"] == "permissive"
    assert stored.details["patient_untyped"] == []
    assert stored.details["not_counted"] == ["DPB1"]
    assert list(stored.details["details"]) == ["A", "B", "C", "DRB1", "DPB1"]
    assert stored.details["details"]["DPB1"][0] == {
        "level": "first_field",
        "confidence": "mismatch",
        "rule": "first_field_mismatch",
    }
    assert stored.details["details"]["A"][0]["confidence"] == "definite"


def test_a_grade_keeps_grades_only_never_the_typings(
    session: Session, engine: Engine, shipped: Reference
) -> None:
    grade_id = _graded_case(session, MEMBER, shipped)
    with Session(engine) as fresh:
        stored = fresh.exec(select(CaseGrade).where(CaseGrade.id == grade_id)).one()
    written = json.dumps(stored.details)
    assert "*" not in written and "04:09" not in written and "02:01" not in written


def test_a_full_match_stores_no_nulls_and_no_dpb1_mismatch(
    session: Session, engine: Engine, shipped: Reference
) -> None:
    grade_id = _graded_case(session, PATIENT, shipped)
    with Session(engine) as fresh:
        stored = fresh.exec(select(CaseGrade).where(CaseGrade.id == grade_id)).one()
    assert stored.details is not None
    assert (stored.details["nulls"], stored.details["dpb1_tce"]) == ({}, "no_mismatch")
