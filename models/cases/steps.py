"""The stage steps as data: per step its form, record key, rule, decision, side writes and who is told
what (STEPS).

A decision is a pure function of the case and the answer: what the answer does to the case. A replayed
answer (a re-run after a suspend) reports what it did from the table and the case, never from its key:
closed if the case is closed, "advanced" if the step `moves` the case and the case has left the step's
stage, else the step's `pending` result ("recorded" for a booking, "retry" for an unanswered contact).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, Literal, TypeVar

import hla
from models.cases import messages, rules
from models.cases.follow_ups import follow_up_dates
from models.cases.forms import (
    ContactAnswer,
    DonationBooked,
    DonationCompleted,
    ExamBooked,
    ExamResult,
    HighResResult,
    SampleBooked,
    SampleSent,
    StageAnswer,
)
from models.cases.grading import grade_case
from models.cases.pipeline import STAGE_DEADLINES, CaseStage, CloseReason, StepKey
from models.cases.rules import Answered
from models.cases.tables import FollowUp
from models.cases.typings import add_high_res_typing
from models.core import Session, ValidationError, mask_text
from models.registry import defer_member

__all__ = ["STEPS", "Advance", "Close", "Decision", "StageStep", "Stay"]

A = TypeVar("A", bound=StageAnswer)


@dataclass(frozen=True)
class Advance:
    """The case moves to `to`, at noon Shanghai on `on` (None: now), due within `due` (None: no deadline)."""

    to: CaseStage
    on: date | None
    due: timedelta | None


@dataclass(frozen=True)
class Close:
    reason: CloseReason
    note: str


@dataclass(frozen=True)
class Stay:
    """The answer is recorded and the case stays where it is: a booking, or a contact to try again."""

    result: Literal["recorded", "retry"]


Decision = Advance | Close | Stay


@dataclass(frozen=True)
class StageStep(Generic[A]):
    """One coordinator step: the stage it belongs to, the form, the rule it must keep, what it decides,
    and what else it writes (in the same transaction, before the case moves)."""

    key: StepKey
    stage: CaseStage
    form: type[A]
    rule: Callable[[Answered, A], None]
    decide: Callable[[Answered, A], Decision]
    writes: Callable[[Session, Answered, A], None] | None = None
    # The messages the answer sends (models.cases.messages), queued once the case moved or stayed, in the
    # same transaction: a move that fails queues nothing, a unit of work rolled back later drops them.
    tells: Callable[[Session, Answered, A, Decision], None] | None = None
    moves: bool = False  # the answer may move the case on to the next stage
    pending: Literal["recorded", "retry"] = "recorded"  # what it reports while the case stays
    per_attempt: bool = False  # recorded once per attempt (contact-1, contact-2, …)
    # A booking made pointless by a later step already recorded: not asked, and reported as `pending`
    # (a case whose sample was recorded before the sample booking existed, or a run resumed there).
    moot_once: StepKey | None = None


def _to(stage: CaseStage, on: date | None = None) -> Advance:
    return Advance(stage, on, STAGE_DEADLINES[stage])


def _recorded(_step: Answered, _answer: StageAnswer) -> Decision:
    return Stay("recorded")


def _contact(step: Answered, answer: ContactAnswer) -> Decision:
    """Reached, willing and healthy → high-res typing; declined or unhealthy → closed; not reached → try
    again, and after the last attempt closed as unreachable."""
    if answer.reached == "no":
        if step.attempt >= step.max_attempts:
            return Close(CloseReason.UNREACHABLE, f"{step.attempt} attempts")
        return Stay("retry")
    if answer.willing == "no":
        return Close(CloseReason.DECLINED, answer.notes)
    if answer.health_ok == "no":
        return Close(CloseReason.MEDICAL_DEFERRAL, "health questions")
    return _to(CaseStage.HIGH_RES_TYPING)


def _tell_consented(session: Session, step: Answered, _answer: ContactAnswer, decision: Decision) -> None:
    """Consent given: the member hears that a coordinator will call to arrange the confirmatory sample."""
    if isinstance(decision, Advance) and decision.to is CaseStage.HIGH_RES_TYPING:
        messages.sample_appointment(session=session, case=step.case)


def _high_res(_step: Answered, answer: HighResResult) -> Decision:
    """The centre proceeds to work-up, or chooses another donor."""
    if answer.centre_decision == "not_selected":
        return Close(CloseReason.NOT_SELECTED, "centre chose another donor")
    return _to(CaseStage.EXAM, answer.result_date)


def _store_typing(session: Session, step: Answered, answer: HighResResult) -> None:
    """The confirmatory typing goes on the member and the case is graded again (the history shows what
    changed)."""
    case = step.case
    sample = rules.sample_date(step)
    add_high_res_typing(session=session, donor_id=case.donor_id, answer=answer, sampled_on=sample)
    try:
        grade_case(session=session, case_id=case.id, source="high_res")
    except hla.HlaError as exc:  # e.g. a pair the fields allow one by one but the locus does not
        raise ValidationError(f"the high-resolution typing: {exc}") from exc


def _exam(_step: Answered, answer: ExamResult) -> Decision:
    """Passed → donation; deferred or failed → closed (a deferral also defers the member)."""
    if answer.result == "passed":
        return _to(CaseStage.DONATION, answer.result_date)
    return Close(CloseReason.MEDICAL_DEFERRAL, f"{answer.result}: {answer.reason}")


def _defer_member(session: Session, step: Answered, answer: ExamResult) -> None:
    if answer.result == "deferred":
        defer_member(
            session=session,
            donor_id=step.case.donor_id,
            until=answer.deferred_until,
            reason=mask_text(answer.reason),
            actor=actor_of(answer),
        )


def _donated(_step: Answered, answer: DonationCompleted) -> Decision:
    # No stage deadline: the follow-ups carry their own due dates.
    return Advance(CaseStage.FOLLOW_UP, answer.collected_on, None)


def _schedule_follow_ups(session: Session, step: Answered, answer: DonationCompleted) -> None:
    """The follow-up schedule, with the move to follow-up."""
    case = step.case
    for label, due_on in follow_up_dates(answer.collected_on):
        session.add(FollowUp(case_id=case.id, donor_id=case.donor_id, label=label, due_on=due_on))


def _tell_sample(session: Session, step: Answered, answer: SampleBooked, _decision: Decision) -> None:
    messages.sample_booking(session=session, case=step.case, booking=answer)


def _tell_exam(session: Session, step: Answered, answer: ExamBooked, _decision: Decision) -> None:
    messages.exam_booking(session=session, case=step.case, booking=answer)


def _tell_gcsf(session: Session, step: Answered, answer: DonationBooked, _decision: Decision) -> None:
    messages.gcsf_schedule(session=session, case=step.case, booking=answer)


def _tell_thanks(session: Session, step: Answered, _answer: DonationCompleted, _decision: Decision) -> None:
    messages.donation_thanks(session=session, case=step.case)


def actor_of(answer: StageAnswer) -> str:
    return f"coordinator:{answer.coordinator.strip()}"


_STEPS: tuple[StageStep[Any], ...] = (
    StageStep(
        StepKey.CONTACT,
        CaseStage.REMOBILISING,
        ContactAnswer,
        rules.check_contact,
        _contact,
        moves=True,
        pending="retry",
        per_attempt=True,
        tells=_tell_consented,
    ),
    StageStep(
        StepKey.SAMPLE_BOOKED,
        CaseStage.HIGH_RES_TYPING,
        SampleBooked,
        rules.check_sample_booked,
        _recorded,
        tells=_tell_sample,
        moot_once=StepKey.SAMPLE,
    ),
    StageStep(StepKey.SAMPLE, CaseStage.HIGH_RES_TYPING, SampleSent, rules.check_sample, _recorded),
    StageStep(
        StepKey.HIGH_RES_RESULT,
        CaseStage.HIGH_RES_TYPING,
        HighResResult,
        rules.check_high_res_result,
        _high_res,
        _store_typing,
        moves=True,
    ),
    StageStep(
        StepKey.EXAM_BOOKED, CaseStage.EXAM, ExamBooked, rules.check_exam_booked, _recorded, tells=_tell_exam
    ),
    StageStep(
        StepKey.EXAM_RESULT,
        CaseStage.EXAM,
        ExamResult,
        rules.check_exam_result,
        _exam,
        _defer_member,
        moves=True,
    ),
    StageStep(
        StepKey.DONATION_BOOKED,
        CaseStage.DONATION,
        DonationBooked,
        rules.check_donation_booked,
        _recorded,
        tells=_tell_gcsf,
    ),
    StageStep(
        StepKey.DONATION_COMPLETED,
        CaseStage.DONATION,
        DonationCompleted,
        rules.check_donation_completed,
        _donated,
        _schedule_follow_ups,
        moves=True,
        tells=_tell_thanks,
    ),
)
STEPS: dict[StepKey, StageStep[Any]] = {step.key: step for step in _STEPS}
