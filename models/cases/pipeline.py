"""The case pipeline as a state machine: pure code, no I/O (DESIGN.md §3)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

__all__ = [
    "CASE_MOVES",
    "CLOSABLE_STAGES",
    "STAGE_DEADLINES",
    "CaseStage",
    "CaseStatus",
    "CMDP_HIGH_RES_RESERVATION_WORKING_DAYS",
    "CloseReason",
    "StepKey",
    "allowed_case_moves",
]


class CaseStage(StrEnum):
    SCREENED = "screened"  # 初筛
    REMOBILISING = "remobilising"  # 再动员
    HIGH_RES_TYPING = "high_res_typing"  # 高分辨
    EXAM = "exam"  # 捐献前体检
    DONATION = "donation"  # 捐献
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"


class CaseStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class CloseReason(StrEnum):
    UNREACHABLE = "unreachable"
    DECLINED = "declined"
    MEDICAL_DEFERRAL = "medical_deferral"
    NOT_SELECTED = "not_selected"
    PATIENT_CANCELLED = "patient_cancelled"
    DUPLICATE = "duplicate"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"  # the follow-up stage only: N reminders unanswered (issue 11)


class StepKey(StrEnum):
    """A coordinator's step within a stage: the key its answer is recorded under (flows ask by it too).

    Contact attempts are recorded once per attempt: `contact-1`, `contact-2`, … (see `record_key`).
    """

    CONTACT = "contact"
    SAMPLE_BOOKED = "sample-booked"
    SAMPLE = "sample"
    HIGH_RES_RESULT = "high-res-result"
    EXAM_BOOKED = "exam-booked"
    EXAM_RESULT = "exam-result"
    DONATION_BOOKED = "donation-booked"
    DONATION_COMPLETED = "donation-completed"

    def record_key(self, attempt: int | None = None) -> str:
        return self.value if attempt is None else f"{self.value}-{attempt}"


CASE_MOVES: dict[CaseStage, frozenset[CaseStage]] = {
    CaseStage.SCREENED: frozenset({CaseStage.REMOBILISING}),
    CaseStage.REMOBILISING: frozenset({CaseStage.HIGH_RES_TYPING}),
    CaseStage.HIGH_RES_TYPING: frozenset({CaseStage.EXAM}),
    CaseStage.EXAM: frozenset({CaseStage.DONATION}),
    CaseStage.DONATION: frozenset({CaseStage.FOLLOW_UP}),
    CaseStage.FOLLOW_UP: frozenset({CaseStage.COMPLETED}),
    CaseStage.COMPLETED: frozenset(),
}

# Any stage still in progress may close with a reason; a completed case is finished, not closed.
CLOSABLE_STAGES = frozenset(stage for stage in CaseStage if stage is not CaseStage.COMPLETED)


def allowed_case_moves(stage: CaseStage, status: CaseStatus) -> list[str]:
    """What a coordinator may do next, as shown in error messages: stages, then `close`."""
    if status is CaseStatus.CLOSED:
        return []
    moves = sorted(CASE_MOVES[stage])
    return [*moves, "close"] if stage in CLOSABLE_STAGES else list(moves)


# CMDP reserves a member for 53 working days after a high-res request (DESIGN.md §6): past it the
# reservation lapses and the transplant centre may move on to another member.
CMDP_HIGH_RES_RESERVATION_WORKING_DAYS = 53

# How long a stage may wait for the coordinator before the case shows as overdue (DESIGN.md §6); branch
# practice, except where a rule is cited. High-res typing is flagged after 30 calendar days (~22 working
# days), on purpose well inside CMDP's 53-working-day reservation: the coordinator chases the lab while
# there is time left, instead of hearing of the case when the reservation has already lapsed (README).
STAGE_DEADLINES: dict[CaseStage, timedelta] = {
    CaseStage.SCREENED: timedelta(days=14),
    CaseStage.REMOBILISING: timedelta(days=3),  # per contact attempt
    CaseStage.HIGH_RES_TYPING: timedelta(days=30),
    CaseStage.EXAM: timedelta(days=30),
    CaseStage.DONATION: timedelta(days=30),
    CaseStage.FOLLOW_UP: timedelta(days=3650),
    CaseStage.COMPLETED: timedelta(0),
}
