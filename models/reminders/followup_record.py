"""Recording a follow-up (issue 11 item 2): the coordinator enters the donor's answers; a serious adverse
event or reaction (WMDA S(P)EAR) opens a review task and alerts the coordinators; the last follow-up
completes the case. In the caller's transaction, like every service (README: one unit of work).

Each follow-up is answered once: a conditional UPDATE on its status (a second answer, or two coordinators
at once, get a ConflictError, never two answers), and the case's `version` goes up with every answer, so
the answers of one case are applied one at a time and the move to `completed` happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from models.cases import (
    CaseRecord,
    CaseStage,
    CaseStatus,
    DonorCase,
    FollowUp,
    Outcome,
    advance_case,
    alert_spear,
    get_case,
    masked_answer,
)
from models.cases.follow_ups import FOLLOW_UP_SCHEDULE
from models.core import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    Session,
    ValidationError,
    audit_event,
    local_date,
    utcnow,
)
from models.registry import Donor
from models.reminders.followup_answers import (
    FollowUpAnswer,
    check_follow_up_answer,
    follow_up_label,
)
from models.reminders.tables import CoordinatorTask

__all__ = [
    "ANSWERABLE",
    "EARLY_DAYS",
    "FOLLOW_UP_ENTITY",
    "SPEAR_TASK",
    "follow_up_record_key",
    "follow_up_to_answer",
    "record_follow_up",
    "recorded_follow_up",
]

# A follow-up may be answered while it waits (due, reminded), and late: one listed as missed or lost may
# still reach the donor (the case, if it was closed as lost, refuses the answer: it is no longer active).
ANSWERABLE = ("due", "reminded", "missed", "lost")
OPEN = ("due", "reminded")
# A donor who calls a few days before the date is followed up then (branch practice): up to two weeks
# early. Not earlier: answering year 10 in year 1 would complete the case nine years too soon.
EARLY_DAYS = 14
LAST_LABEL = FOLLOW_UP_SCHEDULE[-1][0]
FOLLOW_UP_ENTITY = "followup"  # StageEvent.entity (8 characters at most); the funnel counts case/donor only
SPEAR_TASK = "spear_review"


def follow_up_record_key(kind: str) -> str:
    """The CaseRecord key of a follow-up's answer (`follow-up-month_1`): unique per case."""
    return f"follow-up-{kind}"


def recorded_follow_up(*, session: Session, case_id: str, kind: str, flow_run_id: str) -> Outcome | None:
    """What the flow run `flow_run_id` already recorded for this follow-up (a run re-running from the
    top after a suspend), or None when it is still to be answered. ConflictError if it was answered
    elsewhere: by another run, or from another place."""
    follow_up = _find(session, case_id, follow_up_label(kind))
    if follow_up.status != "answered":
        return None
    record = session.exec(
        select(CaseRecord).where(CaseRecord.case_id == case_id, CaseRecord.key == follow_up_record_key(kind))
    ).first()
    if record is None or record.flow_run_id != flow_run_id:
        raise _already_answered(case_id, kind, follow_up)
    case = get_case(session=session, case_id=case_id)
    if case.stage == CaseStage.COMPLETED:
        return Outcome("advanced", case.stage, replayed=True)
    return Outcome("recorded", case.stage, replayed=True)


def record_follow_up(
    *,
    session: Session,
    case_id: str,
    kind: str,
    answer: FollowUpAnswer,
    actor: str,
    flow_run_id: str | None = None,
    link: str = "",
    now: datetime | None = None,
) -> Outcome:
    """Record the answers of the follow-up `kind` (`month_1`, `year_10`, …) of a case at follow-up.

    Raises NotFoundError (no such case or follow-up), ConflictError (answered already, or by someone
    else at the same moment), IllegalTransitionError (the case is not at follow-up) or ValidationError
    (the answer breaks a rule; zh-CN first). Returns "advanced" to completed, or "recorded".
    """
    when = now or utcnow()
    case, follow_up = _answerable(session, case_id, kind, when)
    check_follow_up_answer(answer, when)
    kept = masked_answer(answer)  # free text: no ID or phone numbers
    answers = kept.model_dump(mode="json", exclude={"coordinator"})
    spear = kept.spear
    version, previous = case.version, follow_up.status
    _mark_answered(session, follow_up, kind, answers, spear.value if spear else None, actor, when)
    _bump_version(session, case, version)
    session.add(
        CaseRecord(
            case_id=case_id,
            stage=CaseStage.FOLLOW_UP.value,
            key=follow_up_record_key(kind),
            data=answers,
            actor=actor,
            flow_run_id=flow_run_id,
        )
    )
    reason = kind if spear is None else f"{kind}: S(P)EAR {spear.value}"
    session.add(
        audit_event(
            entity=FOLLOW_UP_ENTITY,
            donor_id=case.donor_id,
            case_id=case_id,
            from_state=previous,
            to_state="answered",
            at=when,
            actor=actor,
            reason=reason,
            flow_run_id=flow_run_id,
        )
    )
    session.flush()
    if spear is not None:
        _open_spear_review(session, case, kind, spear.value, kept, when)
        alert_spear(
            session=session,
            case_id=case_id,
            label=kind,
            category=spear.value,
            contacted_on=kept.contacted_on,
            link=link,
        )
    if follow_up.label == LAST_LABEL or _open_count(session, case_id) == 0:
        advance_case(
            session=session,
            case_id=case_id,
            to=CaseStage.COMPLETED,
            actor=actor,
            expected_version=version + 1,
            reason=f"follow-up {kind} answered: follow-up complete",
            flow_run_id=flow_run_id,
            at=when,
        )
        return Outcome("advanced", CaseStage.COMPLETED.value)
    return Outcome("recorded", CaseStage.FOLLOW_UP.value)


def follow_up_to_answer(
    *, session: Session, case_id: str, kind: str, now: datetime | None = None
) -> FollowUp:
    """The follow-up `kind` of the case, if it may be answered now; else the error `record_follow_up`
    would raise (the flow asks before showing the form: nobody fills in a form that cannot be kept)."""
    return _answerable(session, case_id, kind, now or utcnow())[1]


def _answerable(session: Session, case_id: str, kind: str, when: datetime) -> tuple[DonorCase, FollowUp]:
    label = follow_up_label(kind)
    case = get_case(session=session, case_id=case_id)
    follow_up = _find(session, case_id, label)
    if follow_up.status == "answered":
        raise _already_answered(case_id, kind, follow_up)
    if case.status != CaseStatus.ACTIVE or case.stage != CaseStage.FOLLOW_UP:
        raise IllegalTransitionError(
            f"病例 case {case_id} 处于 is {case.status} at {case.stage}：不在随访阶段，不能记录随访 "
            "(not at follow-up: no follow-up can be recorded)"
        )
    if follow_up.status not in ANSWERABLE:
        raise ValidationError(f"随访 follow-up {kind} 已{follow_up.status}，不能记录 (is {follow_up.status})")
    earliest = follow_up.due_on - timedelta(days=EARLY_DAYS)
    if local_date(when) < earliest:
        raise ValidationError(
            f"随访 {kind} 应在 {follow_up.due_on} 进行，最早 {earliest} 可记录 "
            f"(follow-up {kind} is due on {follow_up.due_on}; it can be recorded from {earliest})"
        )
    return case, follow_up


def _find(session: Session, case_id: str, label: str) -> FollowUp:
    follow_up = session.exec(
        select(FollowUp).where(FollowUp.case_id == case_id, FollowUp.label == label)
    ).first()
    if follow_up is None:
        raise NotFoundError(
            f"病例 case {case_id} 没有随访 has no follow-up {label.replace('-', '_')} "
            "(only a donation schedules follow-ups)"
        )
    return follow_up


def _already_answered(case_id: str, kind: str, follow_up: FollowUp) -> ConflictError:
    day = local_date(follow_up.done_at).isoformat() if follow_up.done_at else "?"
    return ConflictError(
        f"病例 case {case_id} 的随访 {kind} 已于 {day} 记录，不能再次记录 "
        f"(follow-up {kind} was already recorded on {day}; it is answered once)"
    )


def _mark_answered(
    session: Session,
    follow_up: FollowUp,
    kind: str,
    answers: dict[str, Any],
    spear: str | None,
    actor: str,
    when: datetime,
) -> None:
    """The conditional UPDATE: only a follow-up still answerable becomes answered (one writer wins)."""
    outcome = "recovered" if answers["recovered"] == "yes" else "not recovered"
    result = session.exec(
        update(FollowUp)
        .where(col(FollowUp.id) == follow_up.id, col(FollowUp.status).in_(ANSWERABLE))
        .values(
            status="answered",
            answers=answers,
            spear_category=spear,
            answered_by=actor[:100],
            done_at=when,
            outcome=outcome if spear is None else f"{outcome}; S(P)EAR {spear}",
        )
    )
    if result.rowcount != 1:
        raise ConflictError(
            f"病例 case {follow_up.case_id} 的随访 {kind} 刚被他人记录 "
            f"(follow-up {kind} was just recorded by someone else): 请刷新查看 reload to see it"
        )


def _bump_version(session: Session, case: DonorCase, version: int) -> None:
    """Answers of one case go one at a time: the case's version checks it, as every transition does."""
    result = session.exec(
        update(DonorCase)
        .where(col(DonorCase.id) == case.id, col(DonorCase.version) == version)
        .values(version=version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise ConflictError(
            f"病例 case {case.id} 刚被他人修改 was changed by someone else (you had version {version}); "
            "请刷新后重新提交 reload the case and answer again"
        )
    session.refresh(case)


def _open_count(session: Session, case_id: str) -> int:
    return session.exec(
        select(func.count())
        .select_from(FollowUp)
        .where(FollowUp.case_id == case_id, col(FollowUp.status).in_(OPEN))
    ).one()


def _open_spear_review(
    session: Session, case: DonorCase, kind: str, category: str, answer: FollowUpAnswer, when: datetime
) -> None:
    """A coordinator reviews the S(P)EAR and reports it to the national registry: codes and dates only
    (the description stays in the follow-up, masked, and in the report)."""
    donor = session.get(Donor, case.donor_id)
    session.add(
        CoordinatorTask(
            key=f"{SPEAR_TASK}:{case.id}:{kind}",
            kind=SPEAR_TASK,
            case_id=case.id,
            donor_id=case.donor_id,
            due_on=local_date(when),
            detail={
                "member_code": donor.code if donor else "?",
                "follow_up": kind,
                "category": category,
                "contacted_on": answer.contacted_on.isoformat(),
            },
        )
    )
    session.flush()
