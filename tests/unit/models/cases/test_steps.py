"""The step table: one entry per record key, decisions as plain functions, deadlines inside CMDP's limits."""

from __future__ import annotations

from datetime import date, timedelta

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
    SampleSent,
    StepKey,
)
from models.cases.rules import GCSF_DAYS_MAX, GCSF_DAYS_MIN, Answered, check_donation_booked
from models.cases.steps import Advance, Close, Decision, Stay
from models.core import ValidationError

STAGE_ANSWERS: list[type[BaseModel]] = [
    ContactAnswer,
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
