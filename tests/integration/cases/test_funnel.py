"""Funnel counts come from the StageEvent log, per local (Asia/Shanghai) day, person-times per stage."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session

from models.cases import (
    FUNNEL_KEYS,
    CaseStage,
    CloseReason,
    FunnelCounts,
    advance_case,
    close_case,
    funnel_counts,
    open_case,
)
from models.core import ValidationError
from models.registry import RecruitmentEventCreate, create_event
from tests.factories import add_donor, add_search

NEW_YEAR_SHANGHAI = datetime(2021, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 2022-01-01 in Shanghai


def test_counts_are_person_times_and_use_shanghai_days(session: Session) -> None:
    create_event(
        session=session, data=RecruitmentEventCreate(name="a", held_on=date(2021, 3, 1), location="x")
    )
    create_event(
        session=session, data=RecruitmentEventCreate(name="b", held_on=date(2022, 1, 1), location="x")
    )
    create_event(
        session=session,
        data=RecruitmentEventCreate(name="blood", held_on=date(2021, 3, 1), location="x", kind="blood"),
    )
    donor = add_donor(session)
    assert donor.id is not None
    in_2021 = datetime(2021, 5, 1, tzinfo=UTC)
    for patient in ("P-1", "P-2"):  # the same member screened for two patients: two screenings
        search = add_search(session, patient_code=patient)
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a", at=in_2021)
        case = advance_case(
            session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="a", at=in_2021
        )
        if patient == "P-1":
            close_case(session=session, case_id=case.id, reason=CloseReason.DECLINED, actor="a", at=in_2021)
        else:
            advance_case(
                session=session,
                case_id=case.id,
                to=CaseStage.HIGH_RES_TYPING,
                actor="a",
                at=NEW_YEAR_SHANGHAI,
            )
    counts = funnel_counts(session=session, start=date(2021, 1, 1), end=date(2021, 12, 31))
    assert tuple(counts.model_dump()) == FUNNEL_KEYS
    assert counts.model_dump() == {
        "recruitment_events": 1,
        "registered": 0,
        "initial_screenings": 2,
        "remobilisations": 2,
        "high_res_samples": 0,
        "pre_donation_exams": 0,
        "donations": 0,
    }
    next_year = funnel_counts(session=session, start=date(2022, 1, 1), end=date(2022, 1, 1))
    assert (next_year.recruitment_events, next_year.high_res_samples) == (1, 1)
    assert counts.conversion()["remobilisations"] == 1.0


def test_conversion_is_shown_only_between_case_stages_never_screenings_over_registrations() -> None:
    counts = FunnelCounts(
        recruitment_events=73,
        registered=2358,
        initial_screenings=2369,
        remobilisations=307,
        high_res_samples=89,
        pre_donation_exams=50,
        donations=39,
    )
    rates = counts.conversion()
    assert set(rates) == {"remobilisations", "high_res_samples", "pre_donation_exams", "donations"}
    assert rates["remobilisations"] == round(307 / 2369, 4) and rates["donations"] == 0.78


def test_a_period_that_ends_before_it_starts_is_our_validation_error(session: Session) -> None:
    with pytest.raises(ValidationError, match="the period ends before it starts: to 2021-01-01 is before"):
        funnel_counts(session=session, start=date(2021, 12, 31), end=date(2021, 1, 1))
