"""The funnel's breakdowns on both databases, against the hand-worked plan in tests/funnel_support.py."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from models.cases import (
    availability,
    district_outcomes,
    drive_outcomes,
    dropouts,
    period_funnel,
    stage_durations,
)
from models.core import ValidationError
from tests.funnel_support import EXPECTED, add_funnel_year

Y2021 = {"start": date(2021, 1, 1), "end": date(2021, 12, 31)}
Y2022 = {"start": date(2022, 1, 1), "end": date(2022, 12, 31)}


def test_period_funnel_counts_completed_collections_beside_cleared_donations(session: Session) -> None:
    add_funnel_year(session)
    funnel = period_funnel(session=session, **Y2021)
    counts = funnel.counts.model_dump()
    expected = EXPECTED["period_2021"]
    assert {key: counts[key] for key in expected if key in counts} == {
        key: value for key, value in expected.items() if key in counts
    }
    assert funnel.completed_collections == 1
    assert funnel.conversion["remobilisations"] == round(5 / 7, 4)
    assert funnel.conversion["donations"] == 0.5  # 1 cleared of 2 exams
    assert funnel.collected_of_donations == 1.0


def test_days_in_stage_are_nearest_rank_medians_and_90th_percentiles_of_stays_ended_in_the_period(
    session: Session,
) -> None:
    add_funnel_year(session)
    found = {
        row.stage: (row.stays, row.median_days, row.p90_days)
        for row in stage_durations(session=session, **Y2021)
    }
    assert found == EXPECTED["durations_2021"]
    # c7's re-mobilisation began 2021-12-31 16:30 UTC, already 1 January in Shanghai: its screening stay
    # ends in 2022, and its re-mobilisation has not ended at all.
    in_2022 = {
        row.stage: (row.stays, row.median_days, row.p90_days)
        for row in stage_durations(session=session, **Y2022)
    }
    for stage, expected in EXPECTED["durations_2022"].items():
        assert in_2022[stage] == expected


def test_drop_outs_are_counted_by_stage_and_reason_category(session: Session) -> None:
    add_funnel_year(session)
    found = {
        row.stage: {cat: n for cat, n in row.by_category.items() if n}
        for row in dropouts(session=session, **Y2021)
        if row.total
    }
    assert found == EXPECTED["dropouts_2021"]
    assert all(row.total == 0 for row in dropouts(session=session, **Y2022))


def test_availability_leaves_patient_side_closures_out_of_the_denominator(session: Session) -> None:
    add_funnel_year(session)
    found = {
        row.stage: (row.available, row.unavailable, row.excluded, row.share)
        for row in availability(session=session, **Y2021)
    }
    assert found == EXPECTED["availability_2021"]
    anchors = {row.stage: row.anchor for row in availability(session=session, **Y2021)}
    assert anchors == {"remobilising": 0.54, "exam": 0.68}


def test_drives_and_districts_count_distinct_members_who_went_on(session: Session) -> None:
    add_funnel_year(session)
    drives = drive_outcomes(session=session, **Y2021)
    assert [d.district for d in drives] == ["金水区", "二七区"]  # by date; no blood drive, no 2022 drive
    assert {d.district: (d.registered, d.reached) for d in drives} == EXPECTED["drives_2021"]
    districts = district_outcomes(session=session, **Y2021)
    assert [(d.district, d.drives) for d in districts] == [("金水区", 1), ("二七区", 1)]  # donors first
    assert {d.district: (d.registered, d.reached) for d in districts} == EXPECTED["drives_2021"]


@pytest.mark.parametrize(
    "query", [stage_durations, dropouts, availability, drive_outcomes, district_outcomes]
)
def test_a_period_ending_before_it_starts_is_refused(session: Session, query: object) -> None:
    with pytest.raises(ValidationError):
        query(session=session, start=date(2022, 1, 1), end=date(2021, 1, 1))  # type: ignore[operator]
