"""Stage use cases behind the coordinator forms, all through one template, `apply_answer`: load the case,
replay an answer given before, require the step's stage, check its rule, record the answer once (per case
and key), write what else it causes and move or close the case — in the caller's transaction.

Flows call these and nothing else; a flow that re-runs from the top after a suspend calls them again
with the same keys and gets the same outcome without a second record or transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Any, Literal

from sqlmodel import select

from models.cases.alerts import alert_high_res_result
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
    masked_answer,
)
from models.cases.messages import remobilisation_contact
from models.cases.pipeline import STAGE_DEADLINES, CaseStage, CaseStatus, StepKey
from models.cases.rules import Answered
from models.cases.steps import STEPS, Advance, Close, Decision, StageStep, actor_of
from models.cases.tables import CaseRecord, DonorCase
from models.cases.transitions import advance_case, close_case, get_case
from models.core import SHANGHAI, IllegalTransitionError, Session, utcnow

__all__ = [
    "Outcome",
    "apply_answer",
    "book_donation",
    "book_exam",
    "book_sample",
    "enter_stage",
    "find_record",
    "record_contact",
    "record_donation",
    "record_exam_result",
    "record_high_res_result",
    "record_sample",
    "replayed_outcome",
    "start_contact_attempt",
]


@dataclass(frozen=True)
class Outcome:
    """What an answer did: the case moved to `stage`, closed, or needs another try (contact)."""

    result: Literal["advanced", "closed", "retry", "recorded"]
    stage: str
    closed_reason: str | None = None
    replayed: bool = False  # answered before (a re-run): nothing new happened, announce nothing


def apply_answer(
    *,
    session: Session,
    case_id: str,
    step: StepKey,
    answer: StageAnswer,
    flow_run_id: str | None = None,
    attempt: int = 1,
    max_attempts: int = 1,
) -> Outcome:
    """The one template of every stage step (STEPS says what differs). Raises ValidationError on a broken
    rule and ConflictError on a concurrent move; the caller's transaction then keeps nothing of it."""
    spec = STEPS[step]
    if not isinstance(answer, spec.form):  # a wiring mistake, not a coordinator's: fail loudly
        raise TypeError(f"step {step} takes a {spec.form.__name__}, not a {type(answer).__name__}")
    case = get_case(session=session, case_id=case_id)
    key = _key(spec, attempt)
    if (replay := _replayed(session, spec, case, key)) is not None:
        return replay
    answered = Answered(case, partial(_earlier, session, case.id), attempt, max_attempts)
    _require_stage(case, spec.stage)
    spec.rule(answered, answer)
    _record(session, case, key, answer, flow_run_id)
    if spec.writes is not None:
        spec.writes(session, answered, answer)
    decision = spec.decide(answered, answer)
    outcome = _carry_out(session, case, decision, actor_of(answer), flow_run_id)
    if spec.tells is not None:
        spec.tells(session, answered, answer, decision)
    return outcome


def replayed_outcome(*, session: Session, case_id: str, step: StepKey, attempt: int = 1) -> Outcome | None:
    """The outcome of the answer recorded for `step`, or None when that step is still to be answered."""
    spec = STEPS[step]
    return _replayed(session, spec, get_case(session=session, case_id=case_id), _key(spec, attempt))


def find_record(*, session: Session, case_id: str, key: str) -> CaseRecord | None:
    return session.exec(
        select(CaseRecord).where(CaseRecord.case_id == case_id, CaseRecord.key == key)
    ).first()


def _key(spec: StageStep[Any], attempt: int) -> str:
    return spec.key.record_key(attempt if spec.per_attempt else None)


def _earlier(session: Session, case_id: str, key: str) -> dict[str, Any] | None:
    record = find_record(session=session, case_id=case_id, key=key)
    return None if record is None else record.data


def _replayed(session: Session, spec: StageStep[Any], case: DonorCase, key: str) -> Outcome | None:
    """The outcome of an answer recorded before (a re-run after suspend), or None if it is new: read
    from the case and the step table (steps.py), not from the key."""
    if find_record(session=session, case_id=case.id, key=key) is None and not _moot(session, spec, case):
        return None
    session.refresh(case)
    if case.status == CaseStatus.CLOSED:
        return Outcome("closed", case.stage, case.closed_reason, replayed=True)
    if spec.moves and case.stage != spec.stage:
        return Outcome("advanced", case.stage, replayed=True)
    return Outcome(spec.pending, case.stage, replayed=True)


def _moot(session: Session, spec: StageStep[Any], case: DonorCase) -> bool:
    """The step is no longer to be asked: the later step that makes it pointless is recorded."""
    if spec.moot_once is None:
        return False
    return find_record(session=session, case_id=case.id, key=spec.moot_once.record_key()) is not None


def _carry_out(
    session: Session, case: DonorCase, decision: Decision, actor: str, flow_run_id: str | None
) -> Outcome:
    if isinstance(decision, Advance):
        advance_case(
            session=session,
            case_id=case.id,
            to=decision.to,
            actor=actor,
            flow_run_id=flow_run_id,
            at=None if decision.on is None else _local_noon(decision.on),
            due_at=None if decision.due is None else utcnow() + decision.due,
        )
        return Outcome("advanced", decision.to.value)
    if isinstance(decision, Close):
        close_case(
            session=session,
            case_id=case.id,
            reason=decision.reason,
            actor=actor,
            note=decision.note or None,
            flow_run_id=flow_run_id,
        )
        return Outcome("closed", case.stage, decision.reason.value)
    return Outcome(decision.result, case.stage)


def _record(
    session: Session, case: DonorCase, key: str, answer: StageAnswer, flow_run_id: str | None
) -> None:
    session.add(
        CaseRecord(
            case_id=case.id,
            stage=case.stage,
            key=key,
            data=masked_answer(answer).model_dump(mode="json"),  # free text: no ID or phone numbers
            actor=actor_of(answer),
            flow_run_id=flow_run_id,
        )
    )
    session.flush()


def _require_stage(case: DonorCase, stage: CaseStage) -> None:
    if case.status != CaseStatus.ACTIVE or case.stage != stage:
        raise IllegalTransitionError(
            f"case {case.id} is {case.status} at {case.stage}: this answer belongs to {stage.value}"
        )


def _local_noon(day: date) -> datetime:
    """Business time of a dated answer: noon Shanghai that day (the audit log keeps the real time too)."""
    return datetime.combine(day, time(12), SHANGHAI).astimezone(UTC)


# -- stage entry ------------------------------------------------------------------------------------
def enter_stage(
    *, session: Session, case_id: str, stage: CaseStage, actor: str, flow_run_id: str | None = None
) -> DonorCase:
    """Move the case into `stage` unless it is already there (idempotent for re-runs)."""
    case = get_case(session=session, case_id=case_id)
    if case.stage == stage and case.status == CaseStatus.ACTIVE:
        return case
    return advance_case(
        session=session,
        case_id=case_id,
        to=stage,
        actor=actor,
        flow_run_id=flow_run_id,
        due_at=utcnow() + STAGE_DEADLINES[stage],
    )


def start_contact_attempt(*, session: Session, case_id: str, attempt: int) -> DonorCase:
    """Queue the re-mobilisation message for this attempt (once; urgent when the patient's search is)
    and give the coordinator a deadline."""
    case = get_case(session=session, case_id=case_id)
    _require_stage(case, CaseStage.REMOBILISING)
    remobilisation_contact(session=session, case=case, attempt=attempt)
    case.due_at = utcnow() + STAGE_DEADLINES[CaseStage.REMOBILISING]
    session.add(case)
    session.flush()
    session.refresh(case)
    return case


# -- the steps by name (what the flows' step lists and the tests call) -----------------------------
def record_contact(
    *,
    session: Session,
    case_id: str,
    attempt: int,
    answer: ContactAnswer,
    max_attempts: int,
    flow_run_id: str | None = None,
) -> Outcome:
    """One contact attempt (STEPS[CONTACT]): see `steps._contact` for where it leads."""
    return apply_answer(
        session=session,
        case_id=case_id,
        step=StepKey.CONTACT,
        answer=answer,
        flow_run_id=flow_run_id,
        attempt=attempt,
        max_attempts=max_attempts,
    )


def book_sample(
    *, session: Session, case_id: str, answer: SampleBooked, flow_run_id: str | None = None
) -> Outcome:
    """The confirmatory sample is booked (STEPS[SAMPLE_BOOKED]); moot once the sample is recorded."""
    return apply_answer(
        session=session, case_id=case_id, step=StepKey.SAMPLE_BOOKED, answer=answer, flow_run_id=flow_run_id
    )


def record_sample(
    *, session: Session, case_id: str, answer: SampleSent, flow_run_id: str | None = None
) -> Outcome:
    """The confirmatory sample was sent (STEPS[SAMPLE])."""
    return apply_answer(
        session=session, case_id=case_id, step=StepKey.SAMPLE, answer=answer, flow_run_id=flow_run_id
    )


def record_high_res_result(
    *,
    session: Session,
    case_id: str,
    answer: HighResResult,
    flow_run_id: str | None = None,
    link: str = "",
) -> Outcome:
    """The typing goes on the member; the centre proceeds to work-up or chooses another. The
    coordinators are alerted with the new grade (`link`: the run's page, which the flow knows)."""
    outcome = apply_answer(
        session=session, case_id=case_id, step=StepKey.HIGH_RES_RESULT, answer=answer, flow_run_id=flow_run_id
    )
    if not outcome.replayed:
        alert_high_res_result(session=session, case_id=case_id, link=link)
    return outcome


def book_exam(
    *, session: Session, case_id: str, answer: ExamBooked, flow_run_id: str | None = None
) -> Outcome:
    """The work-up exam is booked (STEPS[EXAM_BOOKED])."""
    return apply_answer(
        session=session, case_id=case_id, step=StepKey.EXAM_BOOKED, answer=answer, flow_run_id=flow_run_id
    )


def record_exam_result(
    *, session: Session, case_id: str, answer: ExamResult, flow_run_id: str | None = None
) -> Outcome:
    """Passed → donation; deferred → closed with a temporary deferral of the member; failed → closed."""
    return apply_answer(
        session=session, case_id=case_id, step=StepKey.EXAM_RESULT, answer=answer, flow_run_id=flow_run_id
    )


def book_donation(
    *, session: Session, case_id: str, answer: DonationBooked, flow_run_id: str | None = None
) -> Outcome:
    """The collection is booked (STEPS[DONATION_BOOKED])."""
    return apply_answer(
        session=session, case_id=case_id, step=StepKey.DONATION_BOOKED, answer=answer, flow_run_id=flow_run_id
    )


def record_donation(
    *, session: Session, case_id: str, answer: DonationCompleted, flow_run_id: str | None = None
) -> Outcome:
    """Collection done → follow-up, with the follow-up schedule and a thank-you message."""
    return apply_answer(
        session=session,
        case_id=case_id,
        step=StepKey.DONATION_COMPLETED,
        answer=answer,
        flow_run_id=flow_run_id,
    )
