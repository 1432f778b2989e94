"""The step table: one entry per record key, decisions as plain functions, deadlines inside CMDP's limits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.cases import (
    CMDP_HIGH_RES_RESERVATION_WORKING_DAYS,
    STAGE_DEADLINES,
    STEPS,
    CaseStage,
    CloseReason,
    ContactAnswer,
    DonationBooked,
    DonorCase,
    StepKey,
)
from models.cases.rules import GCSF_DAYS_MAX, GCSF_DAYS_MIN, Answered, check_donation_booked
from models.cases.steps import Advance, Close, Decision, Stay
from models.core import ValidationError


def _answered(attempt: int = 1, max_attempts: int = 3) -> Answered:
    return Answered(DonorCase(search_id="s", donor_id=1), lambda _key: None, attempt, max_attempts)


def test_every_step_key_has_one_step_and_contact_is_keyed_per_attempt() -> None:
    assert set(STEPS) == set(StepKey)
    assert [key for key, step in STEPS.items() if step.per_attempt] == [StepKey.CONTACT]
    assert StepKey.CONTACT.record_key(2) == "contact-2" and StepKey.SAMPLE.record_key() == "sample"


@pytest.mark.parametrize(
    ("answer", "attempt", "decision"),
    [
        ({"reached": False}, 1, Stay("retry")),
        ({"reached": False}, 3, Close(CloseReason.UNREACHABLE, "3 attempts")),
        ({"reached": True, "willing": False, "notes": "no"}, 1, Close(CloseReason.DECLINED, "no")),
        (
            {"reached": True, "willing": True, "health_ok": False},
            1,
            Close(CloseReason.MEDICAL_DEFERRAL, "health questions"),
        ),
        (
            {"reached": True, "willing": True, "health_ok": True},
            1,
            Advance(CaseStage.HIGH_RES_TYPING, None, STAGE_DEADLINES[CaseStage.HIGH_RES_TYPING]),
        ),
    ],
)
def test_a_contact_answer_decides_retry_close_or_high_res_with_its_deadline(
    answer: dict[str, object], attempt: int, decision: Decision
) -> None:
    step = STEPS[StepKey.CONTACT]
    assert (
        step.decide(_answered(attempt), ContactAnswer.model_validate({"coordinator": "a", **answer}))
        == decision
    )


def test_high_res_is_flagged_overdue_well_inside_the_cmdp_reservation() -> None:
    """The 30-day stage deadline must fall before 53 working days (≥ 74 calendar days) have passed."""
    reservation = timedelta(days=CMDP_HIGH_RES_RESERVATION_WORKING_DAYS // 5 * 7)
    assert STAGE_DEADLINES[CaseStage.HIGH_RES_TYPING] < reservation


@pytest.mark.parametrize(
    ("days", "accepted"), [(2, False), (GCSF_DAYS_MIN, True), (GCSF_DAYS_MAX, True), (7, False)]
)
def test_pbsc_collection_is_accepted_only_inside_the_gcsf_window(days: int, accepted: bool) -> None:
    start = date(2021, 6, 1)
    booked = DonationBooked(
        coordinator="a",
        product="PBSC",
        hospital="h",
        gcsf_start=start,
        collection_date=start + timedelta(days=days),
    )
    if accepted:
        check_donation_booked(_answered(), booked)
    else:
        with pytest.raises(ValidationError, match=f"{days} days after G-CSF"):
            check_donation_booked(_answered(), booked)
