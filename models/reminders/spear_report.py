"""The S(P)EAR report for the national registry (issue 11 item 2): every serious adverse event or reaction
recorded at a follow-up in a period, with the counts by WMDA S(P)EAR category.

Codes, the follow-up, the category, the date and the coordinator's description (masked when it was
recorded, and again here: a row written before masking existed keeps no number either). No names.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import col, select

from models.cases import FollowUp
from models.core import Session, ValidationError, local_date, mask_text
from models.registry import Donor
from models.reminders.followup_answers import SpearCategory, follow_up_kind

__all__ = ["SpearReport", "SpearRow", "spear_report"]


@dataclass(frozen=True)
class SpearRow:
    case_id: str
    member_code: str
    follow_up: str  # month_1, year_2, …
    category: str  # a SpearCategory value
    contacted_on: date
    description: str


@dataclass(frozen=True)
class SpearReport:
    start: date | None
    end: date | None
    rows: list[SpearRow]
    # Every category, zero included: the national registry's form asks for each.
    counts: dict[str, int] = field(default_factory=dict)


def spear_report(*, session: Session, start: date | None = None, end: date | None = None) -> SpearReport:
    """The S(P)EARs whose follow-up date falls within `start` … `end` (inclusive; either may be open),
    earliest first."""
    if start is not None and end is not None and end < start:
        raise ValidationError(f"结束日期 {end} 早于开始日期 {start} (the period ends before it starts)")
    found = session.exec(
        select(FollowUp, Donor.code)
        .join(Donor, col(Donor.id) == FollowUp.donor_id)
        .where(col(FollowUp.spear_category).is_not(None), FollowUp.status == "answered")
    ).all()
    rows = []
    for follow_up, code in found:
        answers = follow_up.answers or {}
        day = _contacted_on(answers.get("contacted_on"), follow_up)
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        rows.append(
            SpearRow(
                case_id=follow_up.case_id,
                member_code=code,
                follow_up=follow_up_kind(follow_up.label),
                category=str(follow_up.spear_category),
                contacted_on=day,
                description=mask_text(str(answers.get("spear_description", ""))),
            )
        )
    rows.sort(key=lambda row: (row.contacted_on, row.case_id, row.follow_up))
    tally = Counter(row.category for row in rows)
    counts = {category.value: tally.get(category.value, 0) for category in SpearCategory}
    return SpearReport(start=start, end=end, rows=rows, counts=counts)


def _contacted_on(value: object, follow_up: FollowUp) -> date:
    """The follow-up's date as answered; the day it was recorded (Shanghai) if the answer lacks it."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if follow_up.done_at is not None:
        return local_date(follow_up.done_at)
    return follow_up.due_on
