"""A hand-checkable year for the funnel's breakdowns: three stem-cell drives (two in 2021), a blood drive,
seven cases with known stays, close reasons and one stay ending across the year's boundary.

Times are 02:00 UTC (10:00 in Shanghai) unless said; a stay of "10 days" is exactly 10 × 24 h.

    case member (drive)  screened → remobilising → high-res → exam → donation → follow-up / closed
    c1   d1 (金水 2021)  03-01      03-11          03-15      04-14   04-24      05-04 (collected)
    c2   d2 (金水 2021)  03-01      03-03                                        03-09 unreachable
    c3   d3 (金水 2021)  03-01      03-05                                        03-06 declined
    c4   d3 (金水 2021)  03-01                                                   03-21 patient_cancelled
    c5   d5 (二七 2021)  03-01      03-07          03-27                         04-06 not_selected
    c6   d4 (金水 2021)  03-01      03-02          03-04      03-14              03-24 medical_deferral
    c7   d6 (二七 2021)  12-20      2021-12-31 16:30 UTC = 2022-01-01 00:30 in Shanghai

d7 signed up at the 金水 drive and was never screened; d8 at the 2022 drive (金水). The expected tables
below are worked out by hand from this plan, not by running the code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session

from models.cases import CaseStage, CloseReason, advance_case, close_case, open_case
from models.core import transaction
from models.registry import RecruitmentEventCreate, create_event
from tests.factories import add_donor, add_search

__all__ = ["EXPECTED", "add_funnel_year"]


def _at(month: int, day: int, year: int = 2021) -> datetime:
    return datetime(year, month, day, 2, tzinfo=UTC)


_S, _R, _H, _E, _D, _F = (
    CaseStage.SCREENED,
    CaseStage.REMOBILISING,
    CaseStage.HIGH_RES_TYPING,
    CaseStage.EXAM,
    CaseStage.DONATION,
    CaseStage.FOLLOW_UP,
)

EXPECTED: dict[str, Any] = {
    "period_2021": {
        "initial_screenings": 7,
        "remobilisations": 5,
        "high_res_samples": 3,
        "pre_donation_exams": 2,
        "donations": 1,
        "completed_collections": 1,
        "recruitment_events": 2,
    },
    # stage → (stays, median days, 90th percentile days), nearest rank
    "durations_2021": {
        "screened": (6, 4.0, 20.0),  # 1, 2, 4, 6, 10, 20
        "remobilising": (5, 4.0, 20.0),  # 1, 2, 4, 6, 20
        "high_res_typing": (3, 10.0, 30.0),  # 10, 10, 30
        "exam": (2, 10.0, 10.0),
        "donation": (1, 10.0, 10.0),
        "follow_up": (0, None, None),
    },
    "durations_2022": {"remobilising": (0, None, None), "screened": (1, 11.6, 11.6)},  # 11 d 14.5 h
    "dropouts_2021": {
        "screened": {"patient_cancelled": 1},
        "remobilising": {"unreachable": 1, "declined": 1},
        "high_res_typing": {"not_selected": 1},
        "exam": {"medical": 1},
    },
    # stage → (available, unavailable, excluded, share)
    "availability_2021": {"remobilising": (3, 2, 0, 0.6), "exam": (1, 1, 0, 0.5)},
    # drive district → registered, then distinct members reaching screened … follow_up
    "drives_2021": {
        "金水区": (
            5,
            {
                "screened": 4,
                "remobilising": 4,
                "high_res_typing": 2,
                "exam": 2,
                "donation": 1,
                "follow_up": 1,
            },
        ),
        "二七区": (
            2,
            {
                "screened": 2,
                "remobilising": 2,
                "high_res_typing": 1,
                "exam": 0,
                "donation": 0,
                "follow_up": 0,
            },
        ),
    },
}


def add_funnel_year(session: Session) -> None:
    """The plan in the module's docstring, committed."""
    drives = {}
    kinds: tuple[tuple[str, date, str, Literal["stem_cell", "blood"]], ...] = (
        ("jinshui", date(2021, 2, 20), "金水区", "stem_cell"),
        ("erqi", date(2021, 2, 25), "二七区", "stem_cell"),
        ("jinshui-2022", date(2022, 3, 1), "金水区", "stem_cell"),
        ("blood", date(2021, 6, 14), "金水区", "blood"),
    )
    for key, held_on, district, kind in kinds:
        event = create_event(
            session=session,
            data=RecruitmentEventCreate(
                name=f"郑州 {key}", held_on=held_on, location="郑州", district=district, kind=kind
            ),
        )
        drives[key] = event.id
    session.commit()
    members = {}
    for key, drive in (
        ("d1", "jinshui"),
        ("d2", "jinshui"),
        ("d3", "jinshui"),
        ("d4", "jinshui"),
        ("d7", "jinshui"),
        ("d5", "erqi"),
        ("d6", "erqi"),
        ("d8", "jinshui-2022"),
    ):
        donor = add_donor(session)
        donor.event_id = drives[drive]
        session.add(donor)
        session.commit()
        assert donor.id is not None
        members[key] = donor.id
    Plan = tuple[str, datetime, list[tuple[CaseStage, datetime]], tuple[CloseReason, datetime] | None]
    plans: list[Plan] = [
        ("d1", _at(3, 1),
         [(_R, _at(3, 11)), (_H, _at(3, 15)), (_E, _at(4, 14)), (_D, _at(4, 24)), (_F, _at(5, 4))], None),
        ("d2", _at(3, 1), [(_R, _at(3, 3))], (CloseReason.UNREACHABLE, _at(3, 9))),
        ("d3", _at(3, 1), [(_R, _at(3, 5))], (CloseReason.DECLINED, _at(3, 6))),
        ("d3", _at(3, 1), [], (CloseReason.PATIENT_CANCELLED, _at(3, 21))),
        ("d5", _at(3, 1), [(_R, _at(3, 7)), (_H, _at(3, 27))], (CloseReason.NOT_SELECTED, _at(4, 6))),
        ("d4", _at(3, 1),
         [(_R, _at(3, 2)), (_H, _at(3, 4)), (_E, _at(3, 14))], (CloseReason.MEDICAL_DEFERRAL, _at(3, 24))),
        ("d6", _at(12, 20), [(_R, _at(12, 31) + timedelta(hours=14, minutes=30))], None),
    ]  # fmt: skip
    with transaction(session):
        for member, opened, moves, closed in plans:
            case = open_case(
                session=session,
                search_id=add_search(session).id,
                donor_id=members[member],
                actor="test",
                at=opened,
            )
            for stage, at in moves:
                advance_case(session=session, case_id=case.id, to=stage, actor="test", at=at, announce=False)
            if closed is not None:
                close_case(session=session, case_id=case.id, reason=closed[0], actor="test", at=closed[1])
