"""The rules an answer must keep against its case, one function per step: each raises ValidationError
with what to correct. Plain code over the answer and the earlier records (no I/O of its own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import hla
from models.cases.forms import (
    ContactAnswer,
    DonationBooked,
    DonationCompleted,
    ExamBooked,
    ExamResult,
    HighResResult,
    SampleBooked,
    SampleSent,
    today,
)
from models.cases.pipeline import CMDP_HIGH_RES_RESERVATION_WORKING_DAYS, StepKey
from models.cases.tables import DonorCase
from models.core import ValidationError, local_date
from models.registry import HLA_COLUMNS, column_locus

__all__ = [
    "GCSF_DAYS_MAX",
    "GCSF_DAYS_MIN",
    "Answered",
    "check_contact",
    "check_donation_booked",
    "check_donation_completed",
    "check_exam_booked",
    "check_exam_result",
    "check_high_res_result",
    "check_sample",
    "check_sample_booked",
    "reservation_ends",
    "sample_date",
]

# CMDP: G-CSF for ~4 days, collection on day 5 (DESIGN.md §6): a PBSC collection 3–6 days after the first
# G-CSF dose is accepted (4–7 days of G-CSF counting the collection day); outside it, a typo or a plan to ask.
GCSF_DAYS_MIN = 3
GCSF_DAYS_MAX = 6


@dataclass(frozen=True)
class Answered:
    """What a rule and a decision see: the case, which attempt this is, and the earlier answers' data."""

    case: DonorCase
    earlier: Callable[[str], dict[str, Any] | None]  # record key → the data recorded under it, or None
    attempt: int = 1
    max_attempts: int = 1


def sample_date(step: Answered) -> date:
    sample = step.earlier(StepKey.SAMPLE)
    if sample is None:
        raise ValidationError(f"案例 {step.case.id} 尚未记录采样 case {step.case.id}: no sample recorded yet")
    return date.fromisoformat(sample["sample_date"])


def _not_in_future(value: date, label: str) -> None:
    if value > today():
        raise ValidationError(f"{label} ({value}) 晚于今天 is in the future")


def check_contact(_step: Answered, answer: ContactAnswer) -> None:
    if answer.reached == "no":
        return
    unanswered = [
        ContactAnswer.model_fields[name].title or name
        for name in ("willing", "health_ok")
        if getattr(answer, name) == "not_asked"
    ]
    if unanswered:
        raise ValidationError(
            f"已联系上志愿者，请回答 yes 或 no the member was reached: answer {'、'.join(unanswered)}"
        )
    if answer.available_to < answer.available_from:
        raise ValidationError("可捐献截止日早于起始日 available until is before available from")


def reservation_ends(start: date) -> date:
    """The last day of a CMDP reservation of a member for high-res typing made on `start` (DESIGN.md §6):
    53 working days later, counted Monday to Friday. Public holidays only push the real end later."""
    day, left = start, CMDP_HIGH_RES_RESERVATION_WORKING_DAYS
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:  # Monday to Friday
            left -= 1
    return day


def check_sample_booked(_step: Answered, answer: SampleBooked) -> None:
    """What a coordinator needs from a booking: a day the member can still come (today or later: a past
    day would tell the member nothing, and is a typo), and no further ahead than one CMDP reservation
    from today (a year typed wrong lands there; no reservation, first or extended by the centre, reaches
    a day past it). Counted from today, not from the day the case entered high-res typing, so a case
    whose reservation the centre extended can still be booked.

    The day the sample is then taken is not held to the booking (check_sample): a member often comes a
    day early or late after a phone call; the booking is the plan told to the member, "Sample sent" the
    fact the lab and the rules use (a sample already taken when the form is first filled in is booked
    for today and recorded with its real date).
    """
    booked, now = answer.appointment_date, today()
    if booked < now:
        raise ValidationError(f"采样预约日期 {booked} 已过 the sample appointment {booked} is in the past")
    if booked > (furthest := reservation_ends(now)):
        raise ValidationError(
            f"采样预约日期 {booked} 超出 CMDP 预留期 the sample appointment {booked} is further ahead than a"
            " CMDP reservation lasts"
            f" ({CMDP_HIGH_RES_RESERVATION_WORKING_DAYS} working days: {furthest} at the latest)"
        )


def check_sample(step: Answered, answer: SampleSent) -> None:
    _not_in_future(answer.sample_date, "采样日期 the sample date")
    entered = local_date(step.case.stage_entered_at)
    if answer.sample_date < entered:
        raise ValidationError(
            f"采样日期 {answer.sample_date} 早于进入高分辨阶段的日期 {entered}"
            " the sample date is before the case entered high-res typing"
        )


def check_high_res_result(step: Answered, answer: HighResResult) -> None:
    sample = sample_date(step)
    _not_in_future(answer.result_date, "结果日期 the result date")
    if answer.result_date < sample:
        raise ValidationError(
            f"结果日期 {answer.result_date} 早于采样日期 {sample} the result date is before the sample date"
        )
    # Every typed field must follow WHO nomenclature at its locus: a typo (`A*02:0x`) is asked again
    # with the field and the reason, like a broken date rule, instead of failing the run in grading.
    for column in HLA_COLUMNS:
        text = getattr(answer, column).strip()
        if not text:
            continue
        try:
            hla.parse_typing(text, column_locus(column))
        except hla.HlaError as exc:
            field = HighResResult.model_fields[column].title or column
            raise ValidationError(f"{field}: {exc}") from exc


def check_exam_booked(step: Answered, answer: ExamBooked) -> None:
    sample = sample_date(step)
    if answer.exam_date < sample:
        raise ValidationError(
            f"体检日期 {answer.exam_date} 早于采样日期 {sample} the exam date is before the sample date"
        )


def check_exam_result(step: Answered, answer: ExamResult) -> None:
    booked = step.earlier(StepKey.EXAM_BOOKED)
    exam_date = date.fromisoformat(booked["exam_date"]) if booked else sample_date(step)
    _not_in_future(answer.result_date, "结果日期 the result date")
    if answer.result_date < exam_date:
        raise ValidationError(
            f"结果日期 {answer.result_date} 早于体检日期 {exam_date} the result date is before the exam date"
        )
    panel = answer.panel.model_dump()
    unticked = [name for name, value in panel.items() if value is False]
    if answer.result == "passed" and unticked:
        raise ValidationError(
            f"结果为合格，但以下项目未勾选 result is passed but not ticked: {', '.join(unticked)}"
        )
    if answer.result == "deferred" and answer.deferred_until <= answer.result_date:
        raise ValidationError(
            "暂缓需要晚于结果日期的截止日期 a deferral needs an until date after the result date"
        )
    if answer.result != "passed" and not answer.reason.strip():
        raise ValidationError(f"体检结果 {answer.result} 需要填写原因 a {answer.result} exam needs a reason")


def check_donation_booked(step: Answered, answer: DonationBooked) -> None:
    result = step.earlier(StepKey.EXAM_RESULT)
    if result is not None and answer.collection_date < date.fromisoformat(result["result_date"]):
        raise ValidationError("采集日期早于体检结果日期 the collection date is before the exam result")
    if answer.product == "PBSC":
        days = (answer.collection_date - answer.gcsf_start).days
        if not GCSF_DAYS_MIN <= days <= GCSF_DAYS_MAX:
            raise ValidationError(
                f"外周血采集在动员剂开始后第 {days} 天，应为 4–5 天"
                f" PBSC collection is {days} days after G-CSF starts; expected 4–5 days of G-CSF first"
            )


def check_donation_completed(step: Answered, answer: DonationCompleted) -> None:
    if not answer.completed:
        raise ValidationError(
            "采集尚未完成：完成后再回答，或结案"
            " the collection is not completed: answer again when it is, or close the case"
        )
    _not_in_future(answer.collected_on, "采集日期 the collection date")
    booked = step.earlier(StepKey.DONATION_BOOKED)
    if booked is not None and answer.collected_on < date.fromisoformat(booked["gcsf_start"]):
        raise ValidationError("采集日期早于动员剂开始日期 the collection date is before G-CSF started")
