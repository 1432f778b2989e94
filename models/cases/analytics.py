"""The funnel's breakdowns for the dashboard (issue 12 item 6): a period's funnel with completed
collections, drives and districts, drop-out reasons, days in each stage, availability at re-mobilisation.

Every query aggregates in the database (GROUP BY, window functions) on SQLite and PostgreSQL alike and
returns counts, drive names and districts only: no member is named. The definitions are the ones in
docs/FUNNEL.md and on the dashboard page; DESIGN.md §3 gives the funnel's own.

Periods are whole Asia/Shanghai days, inclusive, as for `funnel_counts`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import distinct, func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from models.cases.funnel import FunnelCounts, _check_period, _utc_bounds, event_counts, funnel_from_events
from models.cases.pipeline import CaseStage, CloseReason
from models.core import StageDayCount, StageEvent, StageStayCount, add_months
from models.registry import Donor, RecruitmentEvent

__all__ = [
    "AVAILABILITY_ANCHORS",
    "DROPOUT_CATEGORIES",
    "DURATION_STAGES",
    "OUTCOME_STAGES",
    "Availability",
    "DistrictOutcome",
    "DriveOutcome",
    "Dropouts",
    "PeriodFunnel",
    "StageDuration",
    "availability",
    "district_outcomes",
    "drive_outcomes",
    "dropouts",
    "period_funnel",
    "stage_durations",
]

# The stages a case waits in; "completed" and "closed" are ends, not stays.
DURATION_STAGES = (
    CaseStage.SCREENED,
    CaseStage.REMOBILISING,
    CaseStage.HIGH_RES_TYPING,
    CaseStage.EXAM,
    CaseStage.DONATION,
    CaseStage.FOLLOW_UP,
)

# Issue 12 item 6 names five drop-out categories; the two other close reasons are rare and shown as
# "other" (a duplicate case; a donor lost to follow-up after the donation, issue 11).
DROPOUT_CATEGORIES = ("unreachable", "declined", "medical", "not_selected", "patient_cancelled", "other")
_CATEGORY_OF = {
    CloseReason.UNREACHABLE.value: "unreachable",
    CloseReason.DECLINED.value: "declined",
    CloseReason.MEDICAL_DEFERRAL.value: "medical",
    CloseReason.NOT_SELECTED.value: "not_selected",
    CloseReason.PATIENT_CANCELLED.value: "patient_cancelled",
    CloseReason.DUPLICATE.value: "other",
    CloseReason.LOST_TO_FOLLOW_UP.value: "other",
}
# The member's own reasons: they say whether the member was available. Not selected, patient cancelled
# and duplicates are the patient's or the centre's side and leave the availability denominator.
_MEMBER_REASONS = (CloseReason.UNREACHABLE, CloseReason.DECLINED, CloseReason.MEDICAL_DEFERRAL)

# Availability anchors (DESIGN.md §6, a 2024 US registry study in the NMDP style): 54 % of members were
# available at confirmatory typing (our re-mobilisation, which ends in the high-res sample) and 68 % at
# work-up (our pre-donation exam).
AVAILABILITY_ANCHORS = {CaseStage.REMOBILISING.value: 0.54, CaseStage.EXAM.value: 0.68}
_NEXT = {
    CaseStage.REMOBILISING.value: CaseStage.HIGH_RES_TYPING.value,
    CaseStage.EXAM.value: CaseStage.DONATION.value,
}

# Which stages a drive's members reached, counted as distinct members (a member screened for three
# patients counts once): the question is which drives produce members who later donate.
OUTCOME_STAGES = (
    CaseStage.SCREENED,
    CaseStage.REMOBILISING,
    CaseStage.HIGH_RES_TYPING,
    CaseStage.EXAM,
    CaseStage.DONATION,
    CaseStage.FOLLOW_UP,  # entered after the collection was completed: "donated"
)


class PeriodFunnel(BaseModel):
    """The seven counts, completed collections beside donations, and the conversions (DESIGN.md §3)."""

    start: date
    end: date
    counts: FunnelCounts
    completed_collections: int  # cases entering follow_up: the collection was completed
    conversion: dict[str, float | None]  # each case stage over the one before, from re-mobilisations
    collected_of_donations: float | None  # completed collections ÷ cases cleared for donation
    registered_per_drive: float | None  # registrations ÷ drives held (not a conversion: other people)


class DriveOutcome(BaseModel):
    drive_id: int
    name: str
    held_on: date
    district: str | None
    registered: int  # members who signed up at the drive (withdrawn ones too: counts are kept)
    reached: dict[str, int]  # stage → distinct members of the drive who ever entered it (to date)


class DistrictOutcome(BaseModel):
    district: str | None
    drives: int
    registered: int
    reached: dict[str, int]


class Dropouts(BaseModel):
    stage: str
    by_category: dict[str, int]  # DROPOUT_CATEGORIES → cases closed at this stage
    total: int


class StageDuration(BaseModel):
    stage: str
    stays: int  # stays in the stage that ended in the period (moved on or closed)
    median_days: float | None
    p90_days: float | None


class Availability(BaseModel):
    stage: str  # remobilising (confirmatory typing) | exam (work-up)
    available: int  # moved on to the next stage
    unavailable: int  # closed for the member's own reasons (unreachable, declined, medical)
    by_reason: dict[str, int]
    excluded: int  # closed for the patient's or the centre's reasons: not a question of availability
    share: float | None  # available ÷ (available + unavailable)
    anchor: float


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def period_funnel(*, session: Session, start: date, end: date) -> PeriodFunnel:
    _check_period(start, end)
    events = event_counts(session, start, end)  # one scan of the period for all eight counts
    counts = funnel_from_events(session=session, start=start, end=end, events=events)
    collected = events.get(("case", CaseStage.FOLLOW_UP.value), 0)
    return PeriodFunnel(
        start=start,
        end=end,
        counts=counts,
        completed_collections=collected,
        conversion=counts.conversion(),
        collected_of_donations=_ratio(collected, counts.donations),
        registered_per_drive=round(counts.registered / counts.recruitment_events, 1)
        if counts.recruitment_events
        else None,
    )


def _reached_rows(session: Session, start: date, end: date, group: Any) -> dict[tuple[Any, str], int]:
    """(group value, stage) → distinct members of the period's stem-cell drives who entered the stage."""
    stages = [stage.value for stage in OUTCOME_STAGES]
    rows = session.exec(
        select(group, StageEvent.to_state, func.count(distinct(col(StageEvent.donor_id))))
        .select_from(StageEvent)
        .join(Donor, col(Donor.id) == StageEvent.donor_id)
        .join(RecruitmentEvent, col(RecruitmentEvent.id) == Donor.event_id)
        .where(
            StageEvent.entity == "case",
            col(StageEvent.to_state).in_(stages),
            RecruitmentEvent.kind == "stem_cell",
            col(RecruitmentEvent.held_on).between(start, end),
        )
        .group_by(group, StageEvent.to_state)
    ).all()
    return {(key, stage): n for key, stage, n in rows}


def drive_outcomes(*, session: Session, start: date, end: date) -> list[DriveOutcome]:
    """The stem-cell drives held in the period, each with how far its members went (to date)."""
    _check_period(start, end)
    drives = session.execute(
        columns(
            col(RecruitmentEvent.id),
            col(RecruitmentEvent.name),
            col(RecruitmentEvent.held_on),
            col(RecruitmentEvent.district),
            func.count(col(Donor.id)),
        )
        .select_from(RecruitmentEvent)
        .outerjoin(Donor, col(Donor.event_id) == RecruitmentEvent.id)
        .where(col(RecruitmentEvent.kind) == "stem_cell", col(RecruitmentEvent.held_on).between(start, end))
        .group_by(
            col(RecruitmentEvent.id),
            col(RecruitmentEvent.name),
            col(RecruitmentEvent.held_on),
            col(RecruitmentEvent.district),
        )
        .order_by(col(RecruitmentEvent.held_on), col(RecruitmentEvent.id))
    ).all()
    reached = _reached_rows(session, start, end, col(RecruitmentEvent.id))
    return [
        DriveOutcome(
            drive_id=drive_id,
            name=name,
            held_on=held_on,
            district=district,
            registered=registered,
            reached={stage.value: reached.get((drive_id, stage.value), 0) for stage in OUTCOME_STAGES},
        )
        for drive_id, name, held_on, district, registered in drives
        if drive_id is not None
    ]


def district_outcomes(*, session: Session, start: date, end: date) -> list[DistrictOutcome]:
    """The same, summed by the drive's district (members of several drives of a district count once
    per drive, as they signed up once: a member has one drive)."""
    _check_period(start, end)
    district = col(RecruitmentEvent.district)
    rows = session.exec(
        select(district, func.count(distinct(col(RecruitmentEvent.id))), func.count(col(Donor.id)))
        .select_from(RecruitmentEvent)
        .outerjoin(Donor, col(Donor.event_id) == RecruitmentEvent.id)
        .where(RecruitmentEvent.kind == "stem_cell", col(RecruitmentEvent.held_on).between(start, end))
        .group_by(district)
    ).all()
    reached = _reached_rows(session, start, end, district)
    outcomes = [
        DistrictOutcome(
            district=name,
            drives=drives,
            registered=registered,
            reached={stage.value: reached.get((name, stage.value), 0) for stage in OUTCOME_STAGES},
        )
        for name, drives, registered in rows
    ]
    # Most donors first, then most members; a drive without a district last.
    return sorted(
        outcomes,
        key=lambda o: (
            -o.reached[CaseStage.FOLLOW_UP.value],
            -o.registered,
            o.district is None,
            o.district or "",
        ),
    )


def dropouts(*, session: Session, start: date, end: date) -> list[Dropouts]:
    """Cases closed in the period, by the stage they were at and the category of their close reason
    (read from the day tally, models/core/tally.py: the reason close_case wrote first)."""
    _check_period(start, end)
    rows = session.exec(
        select(StageDayCount.from_state, StageDayCount.reason, func.sum(StageDayCount.n))
        .where(
            col(StageDayCount.day) >= start,
            col(StageDayCount.day) <= end,
            StageDayCount.entity == "case",
            StageDayCount.to_state == "closed",
        )
        .group_by(StageDayCount.from_state, StageDayCount.reason)
    ).all()
    table = {stage.value: dict.fromkeys(DROPOUT_CATEGORIES, 0) for stage in DURATION_STAGES}
    for stage, why, n in rows:
        if stage in table:
            table[stage][_CATEGORY_OF.get(why, "other")] += int(n)
    return [
        Dropouts(stage=stage, by_category=cats, total=sum(cats.values())) for stage, cats in table.items()
    ]


def stage_durations(*, session: Session, start: date, end: date) -> list[StageDuration]:
    """Median and 90th percentile of days spent in each stage, over the stays that ended in the period.

    A stay is a case's move out of the stage in the period; the move carries the days since the case
    entered that stage (`stage_days`, migration 0011). The stays are counted per stage and tenth of a day
    (the page shows days to one decimal): the whole months of the period from the month tally
    (`stage_stay_count`, models/core/tally.py), a partial first or last month from the audit log itself.
    The nearest-rank percentiles (the value at rank ⌈p·n⌉ of the sorted stays) are read off that
    histogram: exact to the tenth shown, since rounding keeps the order. No stay is loaded into Python,
    only a few hundred counts a stage (the log's window sorts took 1–13 s over 1 M cases on SQLite, its
    grouped scan 5.5 s over ten years: bench/funnel.py).
    """
    _check_period(start, end)
    first_whole = start if start.day == 1 else add_months(start.replace(day=1), 1)
    past_whole = (end + timedelta(days=1)).replace(day=1)  # the first month not wholly in the period
    counts: Counter[tuple[str, int]] = Counter()
    if first_whole < past_whole:
        rows = session.exec(
            select(StageStayCount.stage, StageStayCount.tenths, func.sum(StageStayCount.n))
            .where(col(StageStayCount.month) >= first_whole, col(StageStayCount.month) < past_whole)
            .group_by(col(StageStayCount.stage), col(StageStayCount.tenths))
        ).all()
        counts.update({(stage, int(tenths)): int(n) for stage, tenths, n in rows})
        edges = [(start, first_whole - timedelta(days=1)), (past_whole, end)]
    else:
        edges = [(start, end)]
    for low_day, high_day in edges:
        if low_day <= high_day:
            counts.update(_logged_stays(session, low_day, high_day))
    histograms: dict[str, list[tuple[float, int]]] = {}
    for (stage, tenths), count in counts.items():
        histograms.setdefault(stage, []).append((tenths / 10, count))
    result = []
    for stage in DURATION_STAGES:
        histogram = sorted(histograms.get(stage.value, []))
        stays = sum(count for _days, count in histogram)
        result.append(
            StageDuration(
                stage=stage.value,
                stays=stays,
                median_days=_nearest_rank(histogram, (stays + 1) // 2),  # ⌈n/2⌉
                p90_days=_nearest_rank(histogram, (stays * 9 + 9) // 10),  # ⌈9n/10⌉
            )
        )
    return result


def _logged_stays(session: Session, start: date, end: date) -> Counter[tuple[str, int]]:
    """(stage, tenths of a day) → moves out of the stage on whole days `start` to `end`, from the audit
    log (its index `ix_stage_event_stays`), rounded as the month tally's trigger rounds them."""
    low, high = _utc_bounds(start, end)
    tenths = func.round(col(StageEvent.stage_days) * 10)
    rows = session.exec(
        select(StageEvent.from_state, tenths, func.count())
        .where(
            StageEvent.entity == "case",
            col(StageEvent.at) >= low,
            col(StageEvent.at) < high,
            col(StageEvent.from_state).is_not(None),
            col(StageEvent.stage_days).is_not(None),
        )
        .group_by(StageEvent.from_state, tenths)
    ).all()
    return Counter({(stage, int(value)): int(n) for stage, value, n in rows if stage is not None})


def _nearest_rank(histogram: list[tuple[float, int]], rank: int) -> float | None:
    """The value at `rank` (1-based) of the sorted values a (value, count) histogram counts."""
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return round(value, 1)
    return None


def availability(*, session: Session, start: date, end: date) -> list[Availability]:
    """Of the members whose re-mobilisation (or work-up exam) ended in the period, the share available:
    moved on ÷ (moved on + closed for unreachable, declined or medical reasons). Closed as not selected,
    patient cancelled or duplicate: the member's availability was never the question, so left out."""
    _check_period(start, end)
    rows = [
        (stage, to, why or None, int(n))
        for stage, to, why, n in session.exec(
            select(
                StageDayCount.from_state,
                StageDayCount.to_state,
                StageDayCount.reason,
                func.sum(StageDayCount.n),
            )
            .where(
                col(StageDayCount.day) >= start,
                col(StageDayCount.day) <= end,
                StageDayCount.entity == "case",
                col(StageDayCount.from_state).in_(list(_NEXT)),
            )
            .group_by(StageDayCount.from_state, StageDayCount.to_state, StageDayCount.reason)
        ).all()
    ]
    member_reasons = [r.value for r in _MEMBER_REASONS]
    result = []
    for stage, following in _NEXT.items():
        available = sum(n for s, to, _r, n in rows if s == stage and to == following)
        by_reason = {
            r: sum(n for s, to, why, n in rows if s == stage and to == "closed" and why == r)
            for r in member_reasons
        }
        excluded = sum(
            n for s, to, why, n in rows if s == stage and to == "closed" and why not in member_reasons
        )
        unavailable = sum(by_reason.values())
        result.append(
            Availability(
                stage=stage,
                available=available,
                unavailable=unavailable,
                by_reason=by_reason,
                excluded=excluded,
                share=_ratio(available, available + unavailable),
                anchor=AVAILABILITY_ANCHORS[stage],
            )
        )
    return result
