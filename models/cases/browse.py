"""Finding a case (issue 12 item 2): the coordinators' case list, filtered, searched and paged.

Codes, stages and dates only: the list never carries a name, phone or ID number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case as sa_case
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from models.cases.pipeline import CaseStatus
from models.cases.tables import DonorCase, PatientSearch
from models.registry import Donor, RecruitmentEvent

__all__ = ["CaseFilter", "CasePage", "CaseRow", "drive_choices", "search_cases"]

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class CaseFilter:
    """Every field optional; given ones must all hold. `text` is a member code, case id or patient code."""

    stage: str | None = None
    status: str | None = None
    overdue: bool = False
    drive_id: int | None = None
    patient_code: str | None = None
    member_code: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    member_code: str
    patient_code: str
    stage: str
    status: str
    closed_reason: str | None
    stage_entered_at: datetime
    due_at: datetime | None
    drive: str | None  # the recruitment drive the member joined at (its name)
    overdue: bool


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_cases(
    *, session: Session, where: CaseFilter, now: datetime, page: int = 1, per_page: int = 50
) -> CasePage:
    """Cases matching `where`, the longest-waiting at its stage first (then by id: a stable order)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    conditions = []
    if where.stage:
        conditions.append(col(DonorCase.stage) == where.stage)
    if where.status:
        conditions.append(col(DonorCase.status) == where.status)
    if where.overdue:
        conditions += [
            col(DonorCase.status) == "active",
            col(DonorCase.due_at).is_not(None),
            col(DonorCase.due_at) < now,
        ]
    if where.drive_id is not None:
        conditions.append(col(Donor.event_id) == where.drive_id)
    if where.patient_code:
        conditions.append(col(PatientSearch.patient_code) == where.patient_code.strip())
    if where.member_code:
        conditions.append(col(Donor.code) == where.member_code.strip().upper())
    if where.text and where.text.strip():
        text = where.text.strip()
        conditions.append(
            or_(
                col(Donor.code) == text.upper(),
                col(DonorCase.id) == text.lower(),
                col(PatientSearch.patient_code) == text,
            )
        )
    base = (
        select(DonorCase, Donor.code, PatientSearch.patient_code, RecruitmentEvent.name)
        .join(Donor, col(Donor.id) == DonorCase.donor_id)
        .join(PatientSearch, col(PatientSearch.id) == DonorCase.search_id)
        .outerjoin(RecruitmentEvent, col(RecruitmentEvent.id) == Donor.event_id)
        .where(*conditions)
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        # Open cases before closed ones (the list opens unfiltered: 2,500 closed demo cases from 2020 came
        # first, found walking the workbench), then the longest-waiting at its stage first.
        base.order_by(
            sa_case((col(DonorCase.status) == CaseStatus.ACTIVE, 0), else_=1),
            col(DonorCase.stage_entered_at),
            col(DonorCase.id),
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return CasePage(
        rows=[
            CaseRow(
                case_id=case.id,
                member_code=code,
                patient_code=patient_code,
                stage=case.stage,
                status=case.status,
                closed_reason=case.closed_reason,
                stage_entered_at=case.stage_entered_at,
                due_at=case.due_at,
                drive=drive,
                overdue=case.status == "active" and case.due_at is not None and case.due_at < now,
            )
            for case, code, patient_code, drive in rows
        ],
        total=int(total),
        page=page,
        per_page=per_page,
    )


def drive_choices(*, session: Session, limit: int = 500) -> list[tuple[int, str]]:
    """The recruitment drives to filter by, the latest first: (id, "2021-06-14 name")."""
    drives = session.exec(
        select(RecruitmentEvent)
        .order_by(col(RecruitmentEvent.held_on).desc(), col(RecruitmentEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        (drive.id, f"{drive.held_on.isoformat()} {drive.name}") for drive in drives if drive.id is not None
    ]
