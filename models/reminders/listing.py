"""The follow-ups as a coordinator lists them (`donorflow followups list`): codes, kinds, dates, status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from sqlmodel import Session, col, select

from models.cases import FollowUp
from models.registry import Donor
from models.reminders.followup_answers import follow_up_kind

__all__ = ["FollowUpItem", "list_follow_ups"]


@dataclass(frozen=True)
class FollowUpItem:
    case_id: str
    member_code: str
    kind: str  # day_2, week_1, month_1, month_6, year_1 … year_10
    due_date: date
    status: str

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "due_date": self.due_date.isoformat()}


def list_follow_ups(
    *, session: Session, due_before: date | None = None, limit: int = 1000
) -> list[FollowUpItem]:
    """Follow-ups due before `due_before` (all if None), earliest first."""
    statement = select(FollowUp, Donor.code).join(Donor, col(Donor.id) == FollowUp.donor_id)
    if due_before is not None:
        statement = statement.where(col(FollowUp.due_on) < due_before)
    rows = session.exec(statement.order_by(col(FollowUp.due_on), col(FollowUp.id)).limit(limit)).all()
    return [
        FollowUpItem(
            follow_up.case_id, code, follow_up_kind(follow_up.label), follow_up.due_on, follow_up.status
        )
        for follow_up, code in rows
    ]
