"""Stage use cases behind the coordinator forms: each checks the answer against the case, records it
once (idempotent per case and key), and moves the case on or closes it, in one transaction.

Flows call these and nothing else; a flow that re-runs from the top after a suspend calls them again
with the same keys and gets the same outcome without a second record or transition.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

import hla
from models.cases.forms import (
    ContactAnswer,
    DonationBooked,
    DonationCompleted,
    ExamBooked,
    ExamResult,
    HighResResult,
    SampleSent,
    StageAnswer,
    masked_answer,
    today,
)
from models.cases.grading import grade_case
from models.cases.pipeline import STAGE_DEADLINES, CaseStage, CaseStatus, CloseReason
from models.cases.tables import CaseRecord, DonorCase, FollowUp
from models.cases.transitions import advance_case, close_case, get_case
from models.cases.typings import add_high_res_typing
from models.core import (
    SHANGHAI,
    ConflictError,
    IllegalTransitionError,
    ValidationError,
    audit_event,
    local_date,
    mask_text,
    transaction,
    utcnow,
)
from models.outreach import enqueue
from models.registry import HLA_COLUMNS, Donor, defer_member

__all__ = [
    "CLAIM_ENTITY",
    "FOLLOW_UP_SCHEDULE",
    "Outcome",
    "add_months",
    "book_donation",
    "book_exam",
    "claim_case",
    "enter_stage",
    "find_record",
    "follow_up_dates",
    "record_contact",
    "record_donation",
    "record_exam_result",
    "record_high_res_result",
    "record_sample",
    "release_case",
    "release_claim",
    "replayed_outcome",
    "start_contact_attempt",
]

# DKMS practice: day 2, week 1, month 1, month 6, then yearly for 10 years (DESIGN.md §6), as
# (label, days, calendar months) after the donation: anniversaries are calendar dates, not day counts.
FOLLOW_UP_SCHEDULE: tuple[tuple[str, int, int], ...] = (
    ("day-2", 2, 0),
    ("week-1", 7, 0),
    ("month-1", 0, 1),
    ("month-6", 0, 6),
    *((f"year-{n}", 0, 12 * n) for n in range(1, 11)),
)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later; past the end of a shorter month, its last day
    (31 Jan + 1 month → 28 or 29 Feb; 29 Feb + 1 year → 28 Feb in a common year)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def follow_up_dates(donated_on: date) -> list[tuple[str, date]]:
    """The follow-up schedule of a donation on `donated_on`: (label, due date), earliest first."""
    return [
        (label, add_months(donated_on, months) + timedelta(days=days))
        for label, days, months in FOLLOW_UP_SCHEDULE
    ]


@dataclass(frozen=True)
class Outcome:
    """What an answer did: the case moved to `stage`, closed, or needs another try (contact)."""

    result: Literal["advanced", "closed", "retry", "recorded"]
    stage: str
    closed_reason: str | None = None
    replayed: bool = False  # answered before (a re-run): nothing new happened, announce nothing


# -- the one live stage run per case ------------------------------------------------------------------
# Claims are audited as StageEvents of entity "claim" (the funnel counts only "case" and "donor" events):
# from_state is the case's stage, to_state what happened, flow_run_id the run that held the claim.
CLAIM_ENTITY = "claim"


def claim_case(
    *,
    session: Session,
    case_id: str,
    flow_run_id: str,
    holder_gone: Callable[[str], str | None] | None = None,
    actor: str = "flow",
) -> DonorCase:
    """Mark the case as worked on by this flow run; a second live run on the same case is refused.

    A claim held by a run that no longer runs is stale: `holder_gone(run_id)` says why (e.g. "Cancelled",
    "does not exist") or None while that run may still answer. A stale claim is taken over, audited.
    """
    case = get_case(session=session, case_id=case_id)
    if case.status != CaseStatus.ACTIVE:
        raise IllegalTransitionError(f"case {case_id} is closed ({case.closed_reason or case.stage})")
    if _set_claim(session, case_id, expected=None, flow_run_id=flow_run_id):
        session.refresh(case)
        return case
    session.refresh(case)
    holder = case.live_run_id
    why = holder_gone(holder) if holder and holder_gone is not None else None
    if holder is None or why is None:
        raise ConflictError(
            f"case {case_id} already has a live stage run ({holder}): answer or cancel that run, "
            f"or release the case with `donorflow cases release {case_id} --reason ...`"
        )
    if not _set_claim(
        session,
        case_id,
        expected=holder,
        flow_run_id=flow_run_id,
        event=(case, "taken_over", actor, f"run {holder} is no longer running ({why})"[:200], holder),
    ):
        session.refresh(case)
        raise ConflictError(f"case {case_id} already has a live stage run ({case.live_run_id})")
    session.refresh(case)
    return case


def _set_claim(
    session: Session,
    case_id: str,
    *,
    expected: str | None,
    flow_run_id: str | None,
    event: tuple[DonorCase, str, str, str, str | None] | None = None,
) -> bool:
    """Compare-and-set the case's claim; with `event`, audit it in the same transaction."""
    statement = update(DonorCase).where(col(DonorCase.id) == case_id)
    if flow_run_id is not None and expected is None:
        held = or_(col(DonorCase.live_run_id).is_(None), col(DonorCase.live_run_id) == flow_run_id)
        statement = statement.where(held)
    elif expected is not None:
        statement = statement.where(col(DonorCase.live_run_id) == expected)
    with transaction(session):
        changed = session.exec(statement.values(live_run_id=flow_run_id)).rowcount == 1
        if changed and event is not None:
            case, what, actor, reason, held_by = event
            session.add(
                audit_event(
                    entity=CLAIM_ENTITY,
                    donor_id=case.donor_id,
                    case_id=case.id,
                    from_state=case.stage,
                    to_state=what,
                    at=utcnow(),
                    actor=actor,
                    reason=reason,
                    flow_run_id=held_by,
                )
            )
    return changed


def release_case(
    *,
    session: Session,
    case_id: str,
    flow_run_id: str | None = None,
    actor: str = "",
    reason: str | None = None,
) -> bool:
    """Free the case for the next stage run; with `flow_run_id`, only if this run holds it.

    With a `reason` (a cancelled, crashed or failed run) the release is audited. True if it was held.
    """
    case = session.get(DonorCase, case_id)
    if case is None:
        return False
    holder = flow_run_id or case.live_run_id
    if holder is None:
        return False
    event = (case, "released", actor or "flow", reason, holder) if reason else None
    return _set_claim(session, case_id, expected=holder, flow_run_id=None, event=event)


def release_claim(*, session: Session, case_id: str, actor: str, reason: str) -> str:
    """A coordinator frees a stuck case (its run is gone or will never be answered); audited with who,
    when, why and which run held it. Returns that run's id."""
    if not reason.strip():
        raise ValidationError("a reason is required to release a case (it goes into the audit log)")
    case = get_case(session=session, case_id=case_id)
    holder = case.live_run_id
    if holder is None:
        raise ValidationError(f"case {case_id} is not claimed by any stage run: nothing to release")
    event = (case, "released", actor, reason.strip(), holder)
    if not _set_claim(session, case_id, expected=holder, flow_run_id=None, event=event):
        raise ConflictError(f"case {case_id} changed hands while releasing it: look again")
    return holder


# -- stage entry and records ----------------------------------------------------------------------------
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


def find_record(*, session: Session, case_id: str, key: str) -> CaseRecord | None:
    return session.exec(
        select(CaseRecord).where(CaseRecord.case_id == case_id, CaseRecord.key == key)
    ).first()


def _record(
    session: Session, case: DonorCase, key: str, answer: StageAnswer, flow_run_id: str | None
) -> None:
    session.add(
        CaseRecord(
            case_id=case.id,
            stage=case.stage,
            key=key,
            data=masked_answer(answer).model_dump(mode="json"),  # free text: no ID or phone numbers
            actor=_actor(answer),
            flow_run_id=flow_run_id,
        )
    )


def _actor(answer: StageAnswer) -> str:
    return f"coordinator:{answer.coordinator.strip()}"


def _require_stage(case: DonorCase, stage: CaseStage) -> None:
    if case.status != CaseStatus.ACTIVE or case.stage != stage:
        raise IllegalTransitionError(
            f"case {case.id} is {case.status} at {case.stage}: this answer belongs to {stage.value}"
        )


def _not_in_future(value: date, label: str) -> None:
    if value > today():
        raise ValidationError(f"{label} ({value}) is in the future")


def _local_noon(day: date) -> datetime:
    """Business time of a dated answer: noon Shanghai that day (the audit log keeps the real time too)."""
    return datetime.combine(day, time(12), SHANGHAI).astimezone(UTC)


def replayed_outcome(*, session: Session, case_id: str, key: str) -> Outcome | None:
    """The outcome of the answer recorded under `key`, or None when that step is still to be answered."""
    return _replayed(session, get_case(session=session, case_id=case_id), key)


def _replayed(session: Session, case: DonorCase, key: str) -> Outcome | None:
    """The outcome of an answer recorded before (a re-run after suspend), or None if it is new."""
    if find_record(session=session, case_id=case.id, key=key) is None:
        return None
    session.refresh(case)
    if case.status == CaseStatus.CLOSED:
        return Outcome("closed", case.stage, case.closed_reason, replayed=True)
    result: Literal["advanced", "recorded"] = (
        "advanced" if key.endswith(("result", "completed")) else "recorded"
    )
    return Outcome(result, case.stage, replayed=True)


# -- re-mobilisation --------------------------------------------------------------------------------
def record_contact(
    *,
    session: Session,
    case_id: str,
    attempt: int,
    answer: ContactAnswer,
    max_attempts: int,
    flow_run_id: str | None = None,
) -> Outcome:
    """One contact attempt: reached and willing and healthy → high-res typing; declined or unhealthy →
    closed; not reached → try again, and after `max_attempts` closed as unreachable."""
    case = get_case(session=session, case_id=case_id)
    key = f"contact-{attempt}"
    record = find_record(session=session, case_id=case_id, key=key)
    if record is not None:
        session.refresh(case)
        if case.status == CaseStatus.CLOSED:
            return Outcome("closed", case.stage, case.closed_reason, replayed=True)
        moved = case.stage != CaseStage.REMOBILISING
        return Outcome("advanced" if moved else "retry", case.stage, replayed=True)
    _require_stage(case, CaseStage.REMOBILISING)
    if answer.reached and answer.available_to < answer.available_from:
        raise ValidationError("available until is before available from")
    actor = _actor(answer)
    # The answer is added now and committed with the transition it causes: both or neither.
    _record(session, case, key, answer, flow_run_id)
    if not answer.reached:
        if attempt >= max_attempts:
            return _close(session, case, CloseReason.UNREACHABLE, actor, f"{attempt} attempts", flow_run_id)
        session.commit()
        return Outcome("retry", case.stage)
    if not answer.willing:
        return _close(session, case, CloseReason.DECLINED, actor, answer.notes, flow_run_id)
    if not answer.health_ok:
        return _close(session, case, CloseReason.MEDICAL_DEFERRAL, actor, "health questions", flow_run_id)
    advance_case(
        session=session,
        case_id=case_id,
        to=CaseStage.HIGH_RES_TYPING,
        actor=actor,
        flow_run_id=flow_run_id,
        due_at=utcnow() + STAGE_DEADLINES[CaseStage.HIGH_RES_TYPING],
    )
    return Outcome("advanced", CaseStage.HIGH_RES_TYPING.value)


def _close(
    session: Session, case: DonorCase, reason: CloseReason, actor: str, note: str, flow_run_id: str | None
) -> Outcome:
    close_case(
        session=session,
        case_id=case.id,
        reason=reason,
        actor=actor,
        note=note or None,
        flow_run_id=flow_run_id,
    )
    return Outcome("closed", case.stage, reason.value)


# -- high-resolution typing -------------------------------------------------------------------------
def record_sample(
    *, session: Session, case_id: str, answer: SampleSent, flow_run_id: str | None = None
) -> Outcome:
    case = get_case(session=session, case_id=case_id)
    if (replay := _replayed(session, case, "sample")) is not None:
        return replay
    _require_stage(case, CaseStage.HIGH_RES_TYPING)
    _not_in_future(answer.sample_date, "the sample date")
    entered = local_date(case.stage_entered_at)
    if answer.sample_date < entered:
        raise ValidationError(
            f"the sample date {answer.sample_date} is before the case entered high-res typing ({entered})"
        )
    with transaction(session):
        _record(session, case, "sample", answer, flow_run_id)
    return Outcome("recorded", case.stage)


def record_high_res_result(
    *, session: Session, case_id: str, answer: HighResResult, flow_run_id: str | None = None
) -> Outcome:
    """Store the confirmatory typing on the member; the centre proceeds to work-up or chooses another."""
    case = get_case(session=session, case_id=case_id)
    if (replay := _replayed(session, case, "high-res-result")) is not None:
        return replay
    _require_stage(case, CaseStage.HIGH_RES_TYPING)
    sample = _sample_date(session, case)
    _not_in_future(answer.result_date, "the result date")
    if answer.result_date < sample:
        raise ValidationError(f"the result date {answer.result_date} is before the sample date {sample}")
    _check_typing(answer)
    actor = _actor(answer)
    _record(session, case, "high-res-result", answer, flow_run_id)
    add_high_res_typing(session=session, donor_id=case.donor_id, answer=answer, sampled_on=sample)
    try:
        grade_case(session=session, case_id=case.id, source="high_res")  # the history shows what changed
    except hla.HlaError as exc:  # e.g. a pair the fields allow one by one but the locus does not
        session.rollback()
        raise ValidationError(f"the high-resolution typing: {exc}") from exc
    if answer.centre_decision == "not_selected":
        return _close(
            session, case, CloseReason.NOT_SELECTED, actor, "centre chose another donor", flow_run_id
        )
    advance_case(
        session=session,
        case_id=case_id,
        to=CaseStage.EXAM,
        actor=actor,
        flow_run_id=flow_run_id,
        at=_local_noon(answer.result_date),
        due_at=utcnow() + STAGE_DEADLINES[CaseStage.EXAM],
    )
    return Outcome("advanced", CaseStage.EXAM.value)


def _check_typing(answer: HighResResult) -> None:
    """Every typed field must follow WHO nomenclature at its locus: a typo (`A*02:0x`) is asked again
    with the field and the reason, like a broken date rule, instead of failing the run in grading."""
    for column in HLA_COLUMNS:
        text = getattr(answer, column).strip()
        if not text:
            continue
        try:
            hla.parse_typing(text, column.rpartition("_")[0].upper())
        except hla.HlaError as exc:
            field = HighResResult.model_fields[column].title or column
            raise ValidationError(f"{field}: {exc}") from exc


def _sample_date(session: Session, case: DonorCase) -> date:
    sample = find_record(session=session, case_id=case.id, key="sample")
    if sample is None:
        raise ValidationError(f"case {case.id}: no sample recorded yet")
    return date.fromisoformat(sample.data["sample_date"])


# -- pre-donation exam ------------------------------------------------------------------------------
def book_exam(
    *, session: Session, case_id: str, answer: ExamBooked, flow_run_id: str | None = None
) -> Outcome:
    case = get_case(session=session, case_id=case_id)
    if (replay := _replayed(session, case, "exam-booked")) is not None:
        return replay
    _require_stage(case, CaseStage.EXAM)
    sample = _sample_date(session, case)
    if answer.exam_date < sample:
        raise ValidationError(f"the exam date {answer.exam_date} is before the sample date {sample}")
    with transaction(session):
        _record(session, case, "exam-booked", answer, flow_run_id)
    return Outcome("recorded", case.stage)


def record_exam_result(
    *, session: Session, case_id: str, answer: ExamResult, flow_run_id: str | None = None
) -> Outcome:
    """Passed → donation; deferred → closed with a temporary deferral of the member; failed → closed."""
    case = get_case(session=session, case_id=case_id)
    if (replay := _replayed(session, case, "exam-result")) is not None:
        return replay
    _require_stage(case, CaseStage.EXAM)
    booked = find_record(session=session, case_id=case_id, key="exam-booked")
    exam_date = date.fromisoformat(booked.data["exam_date"]) if booked else _sample_date(session, case)
    _not_in_future(answer.result_date, "the result date")
    if answer.result_date < exam_date:
        raise ValidationError(f"the result date {answer.result_date} is before the exam date {exam_date}")
    panel = answer.panel.model_dump()
    unticked = [name for name, value in panel.items() if value is False]
    if answer.result == "passed" and unticked:
        raise ValidationError(f"result is passed but these panel items are not ticked: {', '.join(unticked)}")
    if answer.result == "deferred" and answer.deferred_until <= answer.result_date:
        raise ValidationError("a deferral needs an until date after the result date")
    if answer.result != "passed" and not answer.reason.strip():
        raise ValidationError(f"a {answer.result} exam needs a reason")
    actor = _actor(answer)
    _record(session, case, "exam-result", answer, flow_run_id)
    if answer.result == "passed":
        advance_case(
            session=session,
            case_id=case_id,
            to=CaseStage.DONATION,
            actor=actor,
            flow_run_id=flow_run_id,
            at=_local_noon(answer.result_date),
            due_at=utcnow() + STAGE_DEADLINES[CaseStage.DONATION],
        )
        return Outcome("advanced", CaseStage.DONATION.value)
    if answer.result == "deferred":
        defer_member(
            session=session,
            donor_id=case.donor_id,
            until=answer.deferred_until,
            reason=mask_text(answer.reason),
            actor=actor,
        )
    return _close(
        session, case, CloseReason.MEDICAL_DEFERRAL, actor, f"{answer.result}: {answer.reason}", flow_run_id
    )


# -- donation -----------------------------------------------------------------------------------------
def book_donation(
    *, session: Session, case_id: str, answer: DonationBooked, flow_run_id: str | None = None
) -> Outcome:
    case = get_case(session=session, case_id=case_id)
    if (replay := _replayed(session, case, "donation-booked")) is not None:
        return replay
    _require_stage(case, CaseStage.DONATION)
    result = find_record(session=session, case_id=case_id, key="exam-result")
    if result is not None and answer.collection_date < date.fromisoformat(result.data["result_date"]):
        raise ValidationError("the collection date is before the exam result")
    if answer.product == "PBSC":
        days = (answer.collection_date - answer.gcsf_start).days
        if not 3 <= days <= 6:  # CMDP: G-CSF for ~4 days, collection on day 5 (allowing 4–7)
            raise ValidationError(
                f"PBSC collection is {days} days after G-CSF starts; expected 4–5 days of G-CSF first"
            )
    with transaction(session):
        _record(session, case, "donation-booked", answer, flow_run_id)
    return Outcome("recorded", case.stage)


def record_donation(
    *, session: Session, case_id: str, answer: DonationCompleted, flow_run_id: str | None = None
) -> Outcome:
    """Collection done → follow-up, with the follow-up schedule; not done → the case stays to re-book."""
    case = get_case(session=session, case_id=case_id)
    if (replay := _replayed(session, case, "donation-completed")) is not None:
        return replay
    _require_stage(case, CaseStage.DONATION)
    if not answer.completed:
        raise ValidationError("the collection is not completed: answer again when it is, or close the case")
    _not_in_future(answer.collected_on, "the collection date")
    booked = find_record(session=session, case_id=case_id, key="donation-booked")
    if booked is not None and answer.collected_on < date.fromisoformat(booked.data["gcsf_start"]):
        raise ValidationError("the collection date is before G-CSF started")
    actor = _actor(answer)
    _record(session, case, "donation-completed", answer, flow_run_id)
    for label, due_on in follow_up_dates(answer.collected_on):
        session.add(FollowUp(case_id=case.id, donor_id=case.donor_id, label=label, due_on=due_on))
    donor = session.get(Donor, case.donor_id)
    assert donor is not None
    enqueue(
        session=session,
        channel="sms",
        donor=donor,
        template_key="donation_thanks",
        context={"code": donor.code},
        key=f"case:{case.id}:thanks",
    )
    advance_case(
        session=session,
        case_id=case_id,
        to=CaseStage.FOLLOW_UP,
        actor=actor,
        flow_run_id=flow_run_id,
        at=_local_noon(answer.collected_on),
    )
    return Outcome("advanced", CaseStage.FOLLOW_UP.value)


def start_contact_attempt(*, session: Session, case_id: str, attempt: int) -> DonorCase:
    """Queue the re-mobilisation message for this attempt (once) and give the coordinator a deadline."""
    case = get_case(session=session, case_id=case_id)
    _require_stage(case, CaseStage.REMOBILISING)
    donor = session.get(Donor, case.donor_id)
    assert donor is not None
    with transaction(session):
        enqueue(
            session=session,
            channel="sms",
            donor=donor,
            template_key="remobilisation_contact",
            context={"code": donor.code, "attempt": attempt},
            key=f"case:{case.id}:contact:{attempt}",
        )
        case.due_at = utcnow() + STAGE_DEADLINES[CaseStage.REMOBILISING]
        session.add(case)
    session.refresh(case)
    return case
