"""Funnel counts for a period, counted from StageEvents (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.cases.pipeline import CaseStage
from models.cases.tables import DonorCase
from models.core import SHANGHAI, StageDayCount, ValidationError
from models.registry import Donor, RecruitmentEvent, RegistryStatus

__all__ = [
    "FUNNEL_KEYS",
    "FunnelCounts",
    "OverdueCase",
    "event_counts",
    "funnel_counts",
    "funnel_from_events",
    "funnel_period",
    "list_overdue",
    "overdue_cases",
]


class FunnelCounts(BaseModel):
    recruitment_events: int
    registered: int
    initial_screenings: int
    remobilisations: int
    high_res_samples: int
    pre_donation_exams: int
    donations: int

    def conversion(self) -> dict[str, float | None]:
        """Each case stage over the one before it, from re-mobilisations on (DESIGN.md §3).

        Only where numerator and denominator are the same population: screenings search the whole
        registry, so they are never a share of the period's registrations, nor registrations of drives.
        """
        keys = FUNNEL_KEYS[3:]
        rates: dict[str, float | None] = {}
        previous = self.initial_screenings
        for key in keys:
            value = getattr(self, key)
            rates[key] = round(value / previous, 4) if previous else None
            previous = value
        return rates


FUNNEL_KEYS = tuple(FunnelCounts.model_fields)

# Which StageEvent target counts for which funnel key: person-times of entering the stage.
_CASE_KEYS = {
    "initial_screenings": CaseStage.SCREENED,
    "remobilisations": CaseStage.REMOBILISING,
    "high_res_samples": CaseStage.HIGH_RES_TYPING,
    "pre_donation_exams": CaseStage.EXAM,
    "donations": CaseStage.DONATION,
}


def _utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period is whole local days in Asia/Shanghai, inclusive; events are stored in UTC."""
    low = datetime.combine(start, time.min, SHANGHAI).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, SHANGHAI).astimezone(UTC)
    return low, high


def funnel_period(start: str, end: str) -> tuple[date, date]:
    """A period as a data manager types it (from, to: YYYY-MM-DD, inclusive); else ValidationError."""
    days: list[date] = []
    for which, text in (("from", start), ("to", end)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            raise ValidationError(f"{which}: 日期格式错误 {text!r} is not a date (YYYY-MM-DD)") from None
    _check_period(days[0], days[1])
    return days[0], days[1]


# The days a period may cover: wider than any programme, narrow enough that the day after `to` and the
# UTC bounds exist (9999-12-31 made the dashboard answer 500: found feeding it hostile periods).
_EARLIEST, _LATEST = date(1900, 1, 1), date(2199, 12, 31)


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise ValidationError(
            f"期间结束早于开始 the period ends before it starts: to {end} is before from {start}"
        )
    if start < _EARLIEST or end > _LATEST:
        raise ValidationError(
            f"期间须在 {_EARLIEST} 至 {_LATEST} 之间 the period must lie between {_EARLIEST} and {_LATEST}"
        )


def funnel_counts(*, session: Session, start: date, end: date, kind: str = "stem_cell") -> FunnelCounts:
    """Funnel counts of whole local days `start` to `end`, inclusive; ValidationError if `end` < `start`."""
    _check_period(start, end)
    return funnel_from_events(
        session=session, start=start, end=end, events=event_counts(session, start, end), kind=kind
    )


def event_counts(session: Session, start: date, end: date) -> dict[tuple[str, str], int]:
    """(entity, to_state) → audit events of the period: one read of the day tally (models/core/tally.py)
    that every count of the funnel (and the dashboard's completed collections) is taken from."""
    rows = session.exec(
        select(StageDayCount.entity, StageDayCount.to_state, func.sum(StageDayCount.n))
        .where(col(StageDayCount.day) >= start, col(StageDayCount.day) <= end)
        .group_by(StageDayCount.entity, StageDayCount.to_state)
    ).all()
    return {(entity, state): int(n) for entity, state, n in rows}


def funnel_from_events(
    *, session: Session, start: date, end: date, events: dict[tuple[str, str], int], kind: str = "stem_cell"
) -> FunnelCounts:
    drives = session.exec(
        select(func.count())
        .select_from(RecruitmentEvent)
        .where(RecruitmentEvent.kind == kind, col(RecruitmentEvent.held_on).between(start, end))
    ).one()
    return FunnelCounts(
        recruitment_events=drives,
        registered=events.get(("donor", RegistryStatus.REGISTERED.value), 0),
        **{key: events.get(("case", stage.value), 0) for key, stage in _CASE_KEYS.items()},
    )


@dataclass(frozen=True)
class OverdueCase:
    """An active case whose stage deadline has passed, and the stage run that holds it (if any)."""

    case_id: str
    member_code: str
    stage: str
    due_at: datetime
    live_run_id: str | None

    def as_row(self) -> dict[str, str]:
        """The case as a line of the coordinator's overdue table (due in Shanghai time)."""
        due = self.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        return {"case_id": self.case_id, "member": self.member_code, "stage": self.stage, "due": due}


def list_overdue(*, session: Session, now: datetime) -> list[OverdueCase]:
    """Active cases whose stage deadline has passed, the longest overdue first."""
    rows = session.exec(
        select(DonorCase, Donor.code)
        .join(Donor, col(Donor.id) == DonorCase.donor_id)
        .where(DonorCase.status == "active", col(DonorCase.due_at).is_not(None), col(DonorCase.due_at) < now)
        .order_by(col(DonorCase.due_at))
    ).all()
    return [
        OverdueCase(case.id, code, case.stage, case.due_at, case.live_run_id)
        for case, code in rows
        if case.due_at is not None
    ]


def overdue_cases(*, session: Session, now: datetime) -> list[dict[str, str]]:
    """Active cases whose stage deadline has passed: what the coordinator must chase today."""
    return [case.as_row() for case in list_overdue(session=session, now=now)]
