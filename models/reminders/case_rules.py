"""Rules over cases in work-up and waiting ones (DESIGN.md §6).

- appointment: the day before the confirmatory sample (`sample-booked`, stage high_res_typing), the
  pre-donation exam (`exam-booked`, stage exam), the first G-CSF injection and the collection
  (`donation-booked`, stage donation), the member is reminded with the preparation notes: the
  `sample_booking` template (no fasting, eat normally, ID card), the `exam_booking` template (fasting from
  midnight, ID card) and the `gcsf_schedule` template (the injection days and the collection). A sample
  booking whose sample is already recorded (`sample`: the member came early) is reminded of no more: the
  case stays at high-res typing until the result, unlike the exam and the donation, whose last step
  moves the case on. An appointment already past when the engine gets to it is missed, not sent.
- idle_case: an active case past its stage's limit (`DonorCase.due_at`, or stage_entered_at plus the
  configured limit of its stage) → a coordinator task and the `alert_case_overdue` alert, once per case,
  stage and day the stage was entered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from models.cases import (
    CaseRecord,
    CaseStage,
    CaseStatus,
    DonorCase,
    OverdueCase,
    StepKey,
    alert_case_overdue,
)
from models.core import local_date
from models.outreach import enqueue
from models.registry import NOT_CONTACTED, Donor
from models.reminders.config import ReminderConfig
from models.reminders.ledger import Action, missed_task, open_task

__all__ = ["scan_appointments", "scan_idle_cases"]

APPOINTMENT = "appointment"
IDLE = "idle_case"
# (record key, the case's stage, the date field, what the reminder is for, its template)
_BOOKINGS = (
    (StepKey.SAMPLE_BOOKED, CaseStage.HIGH_RES_TYPING, "appointment_date", "sample", "sample_booking"),
    (StepKey.EXAM_BOOKED, CaseStage.EXAM, "exam_date", "exam", "exam_booking"),
    (StepKey.DONATION_BOOKED, CaseStage.DONATION, "gcsf_start", "gcsf", "gcsf_schedule"),
    (StepKey.DONATION_BOOKED, CaseStage.DONATION, "collection_date", "collection", "gcsf_schedule"),
)
_CONTEXT = {
    "sample_booking": ("site", "appointment_date"),
    "exam_booking": ("hospital", "exam_date"),
    "gcsf_schedule": ("hospital", "gcsf_start", "collection_date"),
}
# A booking's later step that makes its reminder pointless while the case stays at the stage.
_DONE_BY = {StepKey.SAMPLE_BOOKED.value: StepKey.SAMPLE.value}


def _active_cases(session: Session, stages: list[str], *where: Any) -> list[tuple[DonorCase, str, str]]:
    """Active cases at these stages with their member's code and status (a few hundred at most: the
    cases in work-up, not the registry)."""
    statement = (
        select(DonorCase, Donor.code, Donor.status)
        .join(Donor, col(Donor.id) == DonorCase.donor_id)
        .where(col(DonorCase.status) == CaseStatus.ACTIVE, col(DonorCase.stage).in_(stages), *where)
        .order_by(col(DonorCase.id))
    )
    return list(session.exec(statement).all())


def scan_appointments(session: Session, day: date, config: ReminderConfig) -> Iterator[list[Action]]:
    stages = sorted({stage.value for _step, stage, *_rest in _BOOKINGS})
    cases = {case.id: (case, code, status) for case, code, status in _active_cases(session, stages)}
    if not cases:
        return
    keys = {step.value for step, *_rest in _BOOKINGS} | set(_DONE_BY.values())
    records = session.exec(
        select(CaseRecord).where(col(CaseRecord.case_id).in_(list(cases)), col(CaseRecord.key).in_(keys))
    ).all()
    done = {(record.case_id, record.key) for record in records}
    start = config.window_start(day)
    actions = []
    for record in records:
        case, code, donor_status = cases[record.case_id]
        if donor_status in NOT_CONTACTED:
            continue
        if (case.id, _DONE_BY.get(record.key)) in done:  # the sample was taken: nothing to remind of
            continue
        for step, stage, field, what, template in _BOOKINGS:
            if record.key != step.value or case.stage != stage.value or field not in record.data:
                continue
            on = date.fromisoformat(str(record.data[field]))
            due = on - timedelta(days=1)
            if due > day:
                continue
            context = {"code": code, **{name: str(record.data[name]) for name in _CONTEXT[template]}}
            key = f"reminder:{APPOINTMENT}:{case.id}:{what}:{on.isoformat()}"
            actions.append(_appointment(case, key, due, template, context, missed=due < start or on < day))
    if actions:
        yield actions


def _appointment(
    case: DonorCase, key: str, due: date, template: str, context: dict[str, Any], *, missed: bool
) -> Action:
    ids: dict[str, Any] = {"donor_id": case.donor_id, "case_id": case.id}
    if missed:

        def note(session: Session) -> None:
            missed_task(session, key, APPOINTMENT, due, **ids)

        return Action(APPOINTMENT, key, due, "missed", note, tasks=("missed_reminder",), **ids)

    def send(session: Session) -> None:
        donor = session.get(Donor, case.donor_id)
        assert donor is not None
        enqueue(session=session, donor=donor, template_key=template, context=context, key=key)

    return Action(APPOINTMENT, key, due, "enqueued", send, enqueues=(APPOINTMENT,), **ids)


def scan_idle_cases(session: Session, day: date, config: ReminderConfig) -> Iterator[list[Action]]:
    """Active cases whose stage limit ended before `day` (Asia/Shanghai)."""
    stages = [stage.value for stage in CaseStage if stage is not CaseStage.COMPLETED]
    # A deadline of its own, or a stage with a configured limit (follow-up cases have neither, usually).
    limited = col(DonorCase.due_at).is_not(None) | col(DonorCase.stage).in_(list(config.stage_limits))
    actions = []
    for case, code, _status in _active_cases(session, stages, limited):
        due_at = _due_at(case, config)
        if due_at is None or local_date(due_at) >= day:
            continue
        actions.append(_idle(case, code, due_at, config))
    if actions:
        yield actions


def _due_at(case: DonorCase, config: ReminderConfig) -> datetime | None:
    limit = config.stage_limit(case.stage)
    return case.stage_entered_at + limit if limit is not None else case.due_at


def _idle(case: DonorCase, code: str, due_at: datetime, config: ReminderConfig) -> Action:
    entered = local_date(case.stage_entered_at).isoformat()
    suffix = f"{case.id}:{case.stage}:{entered}"
    key = f"reminder:{IDLE}:{suffix}"
    overdue = OverdueCase(case.id, code, case.stage, due_at, case.live_run_id)
    link = (
        f"{config.ui_url}/runs/flow-run/{case.live_run_id}"
        if _is_uuid(case.live_run_id)
        else f"{config.ui_url}/runs"
    )
    due_on = local_date(due_at)

    def effect(session: Session) -> None:
        open_task(
            session,
            key=f"task:{IDLE}:{suffix}",
            kind=IDLE,
            due_on=due_on,
            detail={"member_code": code, "stage": case.stage, "due_at": due_at.isoformat()},
            case_id=case.id,
            donor_id=case.donor_id,
        )
        alert_case_overdue(session=session, case=overdue, link=link)

    # The alert is the coordinators' (not counted with the members' messages; flag-overdue may have sent it).
    return Action(IDLE, key, due_on, "task", effect, donor_id=case.donor_id, case_id=case.id, tasks=(IDLE,))


def _is_uuid(value: str | None) -> bool:
    return value is not None and len(value) == 36 and value.count("-") == 4
