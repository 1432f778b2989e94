"""The one-line summary of a high-res grade that the coordinators' alert carries."""

from __future__ import annotations

import pytest

from models.cases.alerts import result_summary
from models.cases.tables import CaseGrade


def _grade(matched: int, of: int, mismatches: int, certainty: str) -> CaseGrade:
    return CaseGrade(
        case_id="c", source="high_res", matched=matched, of=of, mismatches=mismatches, certainty=certainty
    )


@pytest.mark.parametrize(
    ("grade", "summary"),
    [
        (_grade(10, 10, 0, "definite"), "10/10 allele"),
        (_grade(10, 10, 0, "potential"), "10/10 potential"),
        (_grade(9, 10, 1, "potential"), "9/10"),
        (None, "ungraded"),
    ],
)
def test_the_result_summary_names_the_score_and_whether_every_position_is_an_allele_match(
    grade: CaseGrade | None, summary: str
) -> None:
    assert result_summary(grade) == summary
