"""The step table: one entry per record key, decisions as plain functions, deadlines inside CMDP's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import BaseModel

from models.cases import (
    CMDP_HIGH_RES_RESERVATION_WORKING_DAYS,
    STAGE_DEADLINES,
    STEPS,
    CaseStage,
    CloseReason,
    ContactAnswer,
    DonationBooked,
    DonationCompleted,
    DonorCase,
    ExamBooked,
    ExamResult,
    HighResResult,
    SampleBooked,
    SampleSent,
    StepKey,
    today,
)
from models.cases.rules import (
    GCSF_DAYS_MAX,
    GCSF_DAYS_MIN,
    Answered,
    check_donation_booked,
    check_sample_booked,
    reservation_ends,
)
from models.cases.steps import Advance, Close, Decision, Stay
from models.core import ValidationError

STAGE_ANSWERS: list[type[BaseModel]] = [
    ContactAnswer,
    SampleBooked,
    SampleSent,
    HighResResult,
    ExamBooked,
    ExamResult,
    DonationBooked,
    DonationCompleted,
]


def _answered(attempt: int = 1, max_attempts: int = 3) -> Answered:
    return Answered(DonorCase(search_id="s", donor_id=1), lambda _key: None, attempt, max_attempts)


def test_every_step_key_has_one_step_and_contact_is_keyed_per_attempt() -> None:
    assert set(STEPS) == set(StepKey)
    assert [key for key, step in STEPS.items() if step.per_attempt] == [StepKey.CONTACT]
    assert StepKey.CONTACT.record_key(2) == "contact-2" and StepKey.SAMPLE.record_key() == "sample"


@pytest.mark.parametrize(
    ("answer", "attempt", "decision"),
    [
        ({"reached": "no"}, 1, Stay("retry")),
        ({"reached": "no"}, 3, Close(CloseReason.UNREACHABLE, "3 attempts")),
        (
            {"reached": "yes", "willing": "no", "health_ok": "yes", "notes": "no"},
            1,
            Close(CloseReason.DECLINED, "no"),
        ),
        (
            {"reached": "yes", "willing": "yes", "health_ok": "no"},
            1,
            Close(CloseReason.MEDICAL_DEFERRAL, "health questions"),
        ),
        (
            {"reached": "yes", "willing": "yes", "health_ok": "yes"},
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


@pytest.mark.parametrize(
    "left_alone", [{}, {"willing": "yes"}, {"health_ok": "yes"}], ids=["both", "health", "willing"]
)
def test_a_reached_member_is_never_closed_by_questions_left_unanswered(left_alone: dict[str, str]) -> None:
    """Consent and health decide whether a case closes: they are explicit choices, never a default."""
    schema = ContactAnswer.model_json_schema()
    assert "reached" in schema["required"] and "default" not in schema["properties"]["reached"]
    answer = ContactAnswer.model_validate({"coordinator": "a", "reached": "yes", **left_alone})
    with pytest.raises(ValidationError, match="Willing|Health"):
        STEPS[StepKey.CONTACT].rule(_answered(), answer)


def test_every_decisive_yes_no_of_every_form_is_a_choice_not_a_switch() -> None:
    """A switch starts off and sends false untouched: none may decide an outcome (panel items only
    re-ask a pass, and a collection not completed is asked again)."""
    switches = {
        (form.__name__, name)
        for form in STAGE_ANSWERS
        for name, field in form.model_fields.items()
        if field.annotation is bool
    }
    assert switches == {("DonationCompleted", "completed")}


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


@pytest.mark.parametrize(
    ("start", "ends"),
    [
        (date(2026, 6, 1), date(2026, 8, 13)),  # a Monday: 10 weeks (50 working days), then Tue–Thu
        (date(2026, 6, 6), date(2026, 8, 19)),  # a Saturday: counting starts on Monday 8 June
    ],
)
def test_a_cmdp_reservation_ends_53_working_days_after_it_starts(start: date, ends: date) -> None:
    assert reservation_ends(start) == ends
    assert sum((start + timedelta(days=n)).weekday() < 5 for n in range(1, (ends - start).days + 1)) == 53


def _in_high_res_since(entered: date) -> Answered:
    case = DonorCase(search_id="s", donor_id=1, stage="high_res_typing")
    case.stage_entered_at = datetime(entered.year, entered.month, entered.day, 4, tzinfo=UTC)  # noon Shanghai
    return Answered(case, lambda _key: None)


def _booked(day: date) -> SampleBooked:
    return SampleBooked(coordinator="a", site="s", appointment_date=day)


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-1, False), (0, True), (1, True)], ids=["yesterday", "today", "tomorrow"]
)
def test_a_sample_is_booked_for_today_or_later_never_a_day_gone_by(offset: int, accepted: bool) -> None:
    booked = _booked(today() + timedelta(days=offset))
    if accepted:
        check_sample_booked(_in_high_res_since(today()), booked)
    else:
        with pytest.raises(ValidationError, match=f"appointment {booked.appointment_date} is in the past"):
            check_sample_booked(_in_high_res_since(today()), booked)


@pytest.mark.parametrize(("offset", "accepted"), [(0, True), (1, False)], ids=["last-day", "day-after"])
def test_a_sample_is_booked_no_further_ahead_than_a_cmdp_reservation_lasts(
    offset: int, accepted: bool
) -> None:
    booked = _booked(reservation_ends(today()) + timedelta(days=offset))
    if accepted:
        check_sample_booked(_in_high_res_since(today()), booked)
    else:
        with pytest.raises(ValidationError, match="further ahead than a CMDP reservation lasts"):
            check_sample_booked(_in_high_res_since(today()), booked)


def test_a_case_whose_reservation_lapsed_can_still_be_booked_after_the_centre_extended_it() -> None:
    entered = today() - timedelta(days=120)  # well past 53 working days
    check_sample_booked(_in_high_res_since(entered), _booked(today() + timedelta(days=7)))


def test_the_sample_booking_is_recorded_first_and_moot_once_the_sample_is() -> None:
    order = [key for key, step in STEPS.items() if step.stage is CaseStage.HIGH_RES_TYPING]
    assert order == [StepKey.SAMPLE_BOOKED, StepKey.SAMPLE, StepKey.HIGH_RES_RESULT]
    booking = STEPS[StepKey.SAMPLE_BOOKED]
    assert (booking.moot_once, booking.moves, booking.pending) == (StepKey.SAMPLE, False, "recorded")
    assert [key for key, step in STEPS.items() if step.moot_once is not None] == [StepKey.SAMPLE_BOOKED]
