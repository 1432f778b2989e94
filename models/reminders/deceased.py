"""A member's death, reported by the family or a hospital: nothing is sent to them again (issue 11 item 4).

In one transaction: the audited registry move to `deceased` (final: the member leaves the search, the
sign-up and ATLAS imports refuse rows for them), every message still pending to them skipped, their open
follow-ups cancelled, the tasks that would have someone call them closed, and a task per open case for
the coordinator to close it with the transplant centre. What stays open: a serious adverse event's review
(`spear_review`) — the national registry must still be told. Personal data is kept (unlike a withdrawal,
nobody withdrew consent); the family may ask for its erasure like any member.

This lives in the reminders room because it reaches the registry, the outbox, the cases and the tasks at
once (models/__init__.py: registry ← outreach ← cases ← reminders).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.cases import CaseStatus, DonorCase, FollowUp
from models.core import ValidationError, local_date, utcnow
from models.outreach import cancel_pending_for
from models.registry import Donor, RegistryStatus, change_registry_status, get_donor
from models.reminders.follow_up_rules import OPEN
from models.reminders.ledger import open_task
from models.reminders.tables import CoordinatorTask

__all__ = ["DECEASED", "DECEASED_CASE_TASK", "DeathRecorded", "record_death"]

DECEASED = "deceased"  # last_error of a message stopped by a death
DECEASED_CASE_TASK = "deceased_case"
# Tasks that would have a coordinator contact the member; a S(P)EAR review is not one of them.
_CONTACT_TASKS = ("follow_up_unanswered", "missed_reminder", "age_out_case")


class DeathRecorded:
    """What recording a death did (counts and case ids; no personal data)."""

    def __init__(self, donor: Donor, messages: int, follow_ups: int, tasks_closed: int, cases: list[str]):
        self.donor = donor
        self.messages_skipped = messages
        self.follow_ups_cancelled = follow_ups
        self.tasks_closed = tasks_closed
        self.cases = cases

    def as_dict(self) -> dict[str, object]:
        return {
            "member_code": self.donor.code,
            "status": self.donor.status,
            "messages_skipped": self.messages_skipped,
            "follow_ups_cancelled": self.follow_ups_cancelled,
            "tasks_closed": self.tasks_closed,
            "open_cases": self.cases,
        }


def record_death(
    *, session: Session, code: str, died_on: date, actor: str, at: datetime | None = None
) -> DeathRecorded:
    """Record that member `code` died on `died_on`, in the caller's transaction.

    Refused (ValidationError) for a member already recorded deceased, a withdrawn one (their data is gone
    and nothing reaches them), or a date after today (Asia/Shanghai). Conditional on the member's version
    like every registry move: a coordinator or an import changing them meanwhile → ConflictError, nothing
    written.
    """
    donor = get_donor(session=session, code=code)
    when = at or utcnow()
    if donor.status == RegistryStatus.DECEASED:
        raise ValidationError(f"志愿者 {donor.code} 已登记为已故 member is already recorded as deceased")
    if donor.status == RegistryStatus.WITHDRAWN:
        raise ValidationError(
            f"志愿者 {donor.code} 已退出，资料已删除 member has withdrawn: nothing is sent to them already"
        )
    today = local_date(when)
    if died_on > today:
        raise ValidationError(f"死亡日期 {died_on} 晚于今天 {today} date of death is in the future")
    assert donor.id is not None
    donor_id = donor.id
    change_registry_status(
        session=session,
        donor=donor,
        to=RegistryStatus.DECEASED,
        actor=actor,
        at=when,
        reason=f"deceased on {died_on.isoformat()}",
    )
    messages = cancel_pending_for(session=session, donor_id=donor_id, reason=DECEASED)
    follow_ups = session.exec(
        update(FollowUp)
        .where(col(FollowUp.donor_id) == donor_id, col(FollowUp.status).in_(OPEN))
        .values(status="cancelled")
    ).rowcount
    closed = session.exec(
        update(CoordinatorTask)
        .where(
            col(CoordinatorTask.donor_id) == donor_id,
            col(CoordinatorTask.status) == "open",
            col(CoordinatorTask.kind).in_(_CONTACT_TASKS),
        )
        .values(status="done", closed_at=when, closed_by=actor[:100], note="志愿者已故 member deceased")
    ).rowcount
    cases = list(
        session.exec(
            select(DonorCase.id)
            .where(col(DonorCase.donor_id) == donor_id, col(DonorCase.status) == CaseStatus.ACTIVE)
            .order_by(col(DonorCase.id))
        ).all()
    )
    for case_id in cases:
        open_task(
            session,
            key=f"task:{DECEASED_CASE_TASK}:{case_id}",
            kind=DECEASED_CASE_TASK,
            due_on=today,
            detail={"member_code": donor.code, "died_on": died_on.isoformat()},
            case_id=case_id,
            donor_id=donor_id,
        )
    session.flush()
    session.refresh(donor)
    return DeathRecorded(donor, int(messages), int(follow_ups), int(closed), cases)
