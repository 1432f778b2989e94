"""A stored grade's details as the case page reads them: none before migration 0013, lenient on shapes."""

from __future__ import annotations

from typing import Any

from models.cases import CaseGrade, GradeDetails, PositionLevel, grade_details


def _grade(details: dict[str, Any] | None) -> CaseGrade:
    return CaseGrade(
        case_id="c", source="screening", matched=8, of=8, mismatches=0, certainty="potential", details=details
    )


def test_a_grade_from_before_0013_has_no_details() -> None:
    assert grade_details(_grade(None)) is None


def test_null_kinds_are_named_once_per_locus_and_loci_without_a_null_are_left_out() -> None:
    read = grade_details(
        _grade(
            {
                "nulls": {"C": ["expressed_vs_null", "expressed_vs_null"], "A": [None, None]},
                "details": {"C": [{"level": "null", "confidence": "mismatch", "rule": "expressed_vs_null"}]},
                "patient_untyped": ["DQB1"],
                "dpb1_tce": "permissive",
                "not_counted": ["DPB1"],
            }
        )
    )
    assert read == GradeDetails(
        nulls=[("C", ["expressed_vs_null"])],
        dpb1_tce="permissive",
        patient_untyped=["DQB1"],
        not_counted=["DPB1"],
        levels=[("C", [PositionLevel("null", "mismatch", "expressed_vs_null")])],
    )


def test_parts_of_another_shape_are_left_out_rather_than_breaking_the_page() -> None:
    read = grade_details(_grade({"nulls": ["C"], "details": {"A": "allele", "B": [1, {"level": "protein"}]}}))
    assert read == GradeDetails(
        nulls=[],
        dpb1_tce=None,
        patient_untyped=[],
        not_counted=[],
        levels=[("B", [PositionLevel("protein", "", "")])],
    )
