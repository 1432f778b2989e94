"""Registry aggregate: recruitment drives, members (donors) and their HLA typings (DESIGN.md §2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import Index
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.core import UtcDateTime, mask_email, mask_name, mask_phone, utcnow
from models.registry.hla_columns import HLA_COLUMNS

__all__ = [
    "Donor",
    "DonorPublic",
    "HlaTyping",
    "RecruitmentEvent",
    "RecruitmentEventBase",
    "RecruitmentEventCreate",
    "RecruitmentEventPublic",
    "RegistryCodeCounter",
]

EventKind = Literal["stem_cell", "blood"]


class RecruitmentEventBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    held_on: date
    location: str = Field(min_length=1, max_length=200)
    district: str | None = Field(default=None, max_length=100)
    organiser: str | None = Field(default=None, max_length=200)
    kind: str = Field(default="stem_cell", max_length=20)


class RecruitmentEventCreate(RecruitmentEventBase):
    kind: EventKind = "stem_cell"


class RecruitmentEvent(RecruitmentEventBase, table=True):
    __tablename__ = "recruitment_event"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RecruitmentEventPublic(RecruitmentEventBase):
    id: int


class RegistryCodeCounter(SQLModel, table=True):
    """Next sequence number per code prefix (`ZZ21`), so codes are short, readable and never reused."""

    __tablename__ = "registry_code_counter"

    prefix: str = Field(primary_key=True, max_length=16)
    last_value: int = 0


class Donor(SQLModel, table=True):
    """A registry member. The raw ID number is never stored: only its salted hash (dedupe) and a mask."""

    __tablename__ = "donor"
    # The reminder engine's daily scans (issue 11, migration 0007): members due an availability check,
    # members reaching the age limit; both by status first, so retired and withdrawn members cost nothing.
    __table_args__ = (
        Index("ix_donor_status_availability_due", "status", "availability_due_on"),
        Index("ix_donor_status_birth_date", "status", "birth_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    sex: str | None = Field(default=None, max_length=1)
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    national_id_hash: str = Field(unique=True, max_length=64)
    national_id_masked: str = Field(max_length=24)
    blood_group: str | None = Field(default=None, max_length=4)
    city: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    language: str = Field(default="zh-CN", max_length=8)
    event_id: int | None = Field(default=None, foreign_key="recruitment_event.id", index=True)
    external_id: str | None = Field(default=None, max_length=64)
    consent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(default="registered", max_length=16, index=True)
    status_until: date | None = None
    # Availability (issue 11): the last 2-yearly check answered, and a pause of invitations the member
    # asked for ("not available until") — a pause, not a deferral: the member stays searchable.
    availability_checked_on: date | None = None
    paused_until: date | None = None
    # When the next availability check is due (the reminder engine sets it: 2 years after the last check
    # answered or sent, or the end of a pause; None until the engine first sees the member).
    availability_due_on: date | None = None
    opt_out_sms: bool = False
    opt_out_email: bool = False
    opt_out_wechat: bool = False
    # sms | email | wechat: tried first, then the others the member has an address for (DESIGN.md §5).
    preferred_channel: str = Field(default="sms", max_length=8)
    # The member's openid at the branch's WeChat official account, once they followed and linked it.
    wechat_openid: str | None = Field(default=None, max_length=64)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    def __repr__(self) -> str:
        return (
            f"Donor(id={self.id}, code={self.code!r}, name={mask_name(self.name)!r}, status={self.status!r})"
        )

    __str__ = __repr__


class DonorPublic(SQLModel):
    """What a coordinator screen, the CLI and the API show: personal data masked."""

    code: str
    name: str
    sex: str | None
    birth_year: int | None
    phone: str
    email: str
    national_id: str
    blood_group: str | None
    status: str
    status_until: date | None
    event_id: int | None
    consent_at: datetime | None
    withdrawn_at: datetime | None
    hla: dict[str, str | None] | None

    @classmethod
    def from_donor(cls, donor: Donor, typing: HlaTyping | None = None) -> DonorPublic:
        return cls(
            code=donor.code,
            name=mask_name(donor.name),
            sex=donor.sex,
            birth_year=donor.birth_date.year if donor.birth_date else None,
            phone=mask_phone(donor.phone),
            email=mask_email(donor.email),
            national_id=donor.national_id_masked,
            blood_group=donor.blood_group,
            status=donor.status,
            status_until=donor.status_until,
            event_id=donor.event_id,
            consent_at=donor.consent_at,
            withdrawn_at=donor.withdrawn_at,
            hla={column: getattr(typing, column) for column in HLA_COLUMNS} if typing else None,
        )


class HlaTyping(SQLModel, table=True):
    """One typing report for a member or a patient; a member's latest typing is the one searched."""

    __tablename__ = "hla_typing"
    __table_args__ = (UniqueConstraint("search_id", name="uq_hla_typing_search"),)

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int | None = Field(default=None, foreign_key="donor.id", index=True)
    search_id: str | None = Field(default=None, foreign_key="patient_search.id", max_length=36)
    resolution: str = Field(default="low", max_length=12)  # low | intermediate | high
    # One column per name in hla_columns.HLA_COLUMNS (declared, for mypy and Alembic; a test checks them).
    a_1: str | None = Field(default=None, max_length=64)
    a_2: str | None = Field(default=None, max_length=64)
    b_1: str | None = Field(default=None, max_length=64)
    b_2: str | None = Field(default=None, max_length=64)
    c_1: str | None = Field(default=None, max_length=64)
    c_2: str | None = Field(default=None, max_length=64)
    drb1_1: str | None = Field(default=None, max_length=64)
    drb1_2: str | None = Field(default=None, max_length=64)
    dqb1_1: str | None = Field(default=None, max_length=64)
    dqb1_2: str | None = Field(default=None, max_length=64)
    dpb1_1: str | None = Field(default=None, max_length=64)
    dpb1_2: str | None = Field(default=None, max_length=64)
    lab: str | None = Field(default=None, max_length=100)
    sampled_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
